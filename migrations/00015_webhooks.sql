-- +goose Up
-- Webhooks and their deliveries (API.md, "Staff insight and integration").
-- A delivery row is written in the same transaction as the change it
-- reports, beside the River job that sends it; the worker keeps its status.
CREATE TABLE webhooks (
    id              bigserial PRIMARY KEY,
    url             text NOT NULL,
    events          text[] NOT NULL,
    institution_ids bigint[] NOT NULL DEFAULT '{}',
    secret          text NOT NULL,
    created_at      timestamptz NOT NULL
);

CREATE TABLE webhook_deliveries (
    id              uuid PRIMARY KEY,
    webhook_id      bigint NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    event           text NOT NULL,
    event_id        bigint NOT NULL,          -- the audit event it reports (events.id)
    institution_id  bigint NOT NULL,
    payload         jsonb NOT NULL,
    status          text NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts        integer NOT NULL DEFAULT 0,
    last_error      text,
    next_attempt_at timestamptz,
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL
);

CREATE INDEX webhook_deliveries_list ON webhook_deliveries (webhook_id, status, created_at DESC);

-- +goose Down
DROP TABLE webhook_deliveries;
DROP TABLE webhooks;
