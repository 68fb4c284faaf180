-- The queue: institutions with their counters, tickets, what each ticket was
-- told, the audit trail and the keys that make a retried join safe.
-- CHECK constraints repeat the domain's rules as a backstop: the service
-- validates first, with friendlier messages.

-- +goose Up
CREATE TABLE institutions (
    id               bigserial PRIMARY KEY,
    name             text        NOT NULL CHECK (char_length(name) BETWEEN 1 AND 200),
    kind             text        NOT NULL CHECK (kind IN ('government', 'bank', 'utility', 'health', 'other')),
    address          text        NOT NULL DEFAULT '' CHECK (char_length(address) <= 500),
    status           text        NOT NULL DEFAULT 'closed' CHECK (status IN ('open', 'paused', 'closed')),
    capacity         bigint      CHECK (capacity >= 1),
    now_serving      bigint      NOT NULL DEFAULT 0 CHECK (now_serving >= 0),
    last_issued      bigint      NOT NULL DEFAULT 0 CHECK (last_issued >= 0),
    waiting_count    bigint      NOT NULL DEFAULT 0 CHECK (waiting_count >= 0),
    -- Newest first, at most five: [{"number", "counter", "called_at"}].
    recent_calls     jsonb       NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(recent_calls) = 'array'),
    -- Moving average of the time between calls, in nanoseconds (a Go
    -- time.Duration, kept exact); 0 while unknown.
    call_interval_ns bigint      NOT NULL DEFAULT 0 CHECK (call_interval_ns >= 0),
    last_call_at     timestamptz,
    version          bigint      NOT NULL DEFAULT 1 CHECK (version >= 1),
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT institutions_serving_issued_check CHECK (now_serving <= last_issued),
    CONSTRAINT institutions_waiting_issued_check CHECK (waiting_count <= last_issued)
);

CREATE TABLE tickets (
    id                  uuid        PRIMARY KEY,
    institution_id      bigint      NOT NULL REFERENCES institutions (id),
    number              bigint      NOT NULL CHECK (number >= 1),
    status              text        NOT NULL CHECK (status IN ('waiting', 'notified', 'serving', 'served', 'expired', 'cancelled')),
    phone               text        CHECK (phone ~ '^0[0-9]{10}$'),
    near_turn_threshold integer     NOT NULL CHECK (near_turn_threshold BETWEEN 1 AND 10),
    counter             text        CHECK (char_length(counter) BETWEEN 1 AND 16),
    issued_at           timestamptz NOT NULL,
    called_at           timestamptz,
    checked_in_at       timestamptz,
    completed_at        timestamptz,
    -- When a serving ticket that has not checked in expires.
    deadline_at         timestamptz,
    updated_at          timestamptz NOT NULL,
    -- The backstop of gap-free numbering: a number is issued once, ever.
    CONSTRAINT tickets_institution_number_key UNIQUE (institution_id, number)
);

-- One active ticket per phone and institution.
CREATE UNIQUE INDEX tickets_active_phone_key ON tickets (institution_id, phone)
    WHERE phone IS NOT NULL AND status IN ('waiting', 'notified', 'serving');

-- The queue itself: people ahead, the next tickets to call.
CREATE INDEX tickets_waiting_idx ON tickets (institution_id, number)
    WHERE status IN ('waiting', 'notified');

-- The tickets at the counters, settled on every advance.
CREATE INDEX tickets_serving_idx ON tickets (institution_id, number)
    WHERE status = 'serving';

-- The sweeper's question: which called tickets ran out of grace period.
CREATE INDEX tickets_due_idx ON tickets (deadline_at)
    WHERE status = 'serving' AND checked_in_at IS NULL;

CREATE TABLE notifications (
    id         bigserial   PRIMARY KEY,
    ticket_id  uuid        NOT NULL REFERENCES tickets (id),
    event      text        NOT NULL CHECK (event IN ('near_turn', 'turn_called', 'completed', 'expired', 'cancelled')),
    message    text        NOT NULL,
    created_at timestamptz NOT NULL
);

CREATE INDEX notifications_ticket_idx ON notifications (ticket_id, id);

-- The append-only audit trail. ticket_id has no foreign key: the trail
-- outlives whatever retention later applies to tickets.
CREATE TABLE events (
    id             bigserial   PRIMARY KEY,
    institution_id bigint      NOT NULL REFERENCES institutions (id),
    at             timestamptz NOT NULL,
    kind           text        NOT NULL CHECK (kind ~ '^[a-z_]+(\.[a-z_]+)*$'),
    ticket_id      uuid,
    number         bigint,
    actor          text        NOT NULL CHECK (actor <> ''),
    request_id     text        NOT NULL DEFAULT '',
    data           jsonb       NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(data) = 'object')
);

CREATE INDEX events_institution_idx ON events (institution_id, id);

CREATE TABLE idempotency_keys (
    institution_id bigint      NOT NULL REFERENCES institutions (id),
    key            text        NOT NULL CHECK (char_length(key) BETWEEN 1 AND 64),
    ticket_id      uuid        NOT NULL REFERENCES tickets (id),
    created_at     timestamptz NOT NULL,
    PRIMARY KEY (institution_id, key)
);

-- The hourly purge of keys past their 24 h window.
CREATE INDEX idempotency_keys_created_idx ON idempotency_keys (created_at);

-- +goose Down
DROP TABLE idempotency_keys;
DROP TABLE events;
DROP TABLE notifications;
DROP TABLE tickets;
DROP TABLE institutions;
