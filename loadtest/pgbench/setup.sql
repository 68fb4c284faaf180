-- Tables of the pgbench reference (one_ticket.sql): a counter row per
-- institution and a tickets table shaped like QueueLess's (the same key,
-- the same unique number per institution, the same queue index). The
-- benchmark creates them in a schema of a scratch database and drops the
-- database afterwards.
CREATE TABLE counters (
    id   integer PRIMARY KEY,
    next bigint  NOT NULL
);
INSERT INTO counters (id, next) VALUES (1, 1);

CREATE TABLE tickets (
    id                  uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    institution_id      integer     NOT NULL REFERENCES counters (id),
    number              bigint      NOT NULL,
    status              text        NOT NULL DEFAULT 'waiting',
    near_turn_threshold integer     NOT NULL DEFAULT 3,
    issued_at           timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    UNIQUE (institution_id, number)
);
CREATE INDEX tickets_waiting_idx ON tickets (institution_id, number)
    WHERE status IN ('waiting', 'notified');
