-- Notifications delivered (API.md v1.1, package notify): each notification's
-- delivery per channel, written in the transaction of the change beside the
-- River job that sends it; the worker keeps its status. Phones' verification
-- and opt-out, push subscriptions per ticket, the generated VAPID key.

-- +goose Up
CREATE TABLE notification_deliveries (
    notification_id bigint      NOT NULL,
    channel         text        NOT NULL CHECK (channel IN ('sms', 'push')),
    ticket_id       uuid        NOT NULL,
    event           text        NOT NULL,
    status          text        NOT NULL CHECK (status IN ('pending', 'sent', 'failed', 'suppressed')),
    attempts        integer     NOT NULL DEFAULT 0,
    last_error      text,
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL,
    PRIMARY KEY (notification_id, channel)
);
CREATE INDEX notification_deliveries_ticket ON notification_deliveries (ticket_id, notification_id);

-- One row per phone number (as citizens type it: 0 and 10 digits).
CREATE TABLE sms_phones (
    phone           text        PRIMARY KEY,
    verified_at     timestamptz,            -- verified for 90 days from here
    opted_out       boolean     NOT NULL DEFAULT false,
    code_hash       text,                   -- sha256 of the pending code
    code_expires_at timestamptz,
    code_tries      integer     NOT NULL DEFAULT 0,
    last_ticket_id  uuid,                   -- the ticket replies act on
    updated_at      timestamptz NOT NULL
);

CREATE TABLE push_subscriptions (
    ticket_id    uuid        PRIMARY KEY,
    subscription jsonb       NOT NULL,
    created_at   timestamptz NOT NULL
);

-- The VAPID key generated once when VAPID_PRIVATE_KEY is unset: one row.
CREATE TABLE push_keys (
    id          smallint    PRIMARY KEY CHECK (id = 1),
    private_key text        NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- +goose Down
DROP TABLE push_keys;
DROP TABLE push_subscriptions;
DROP TABLE sms_phones;
DROP TABLE notification_deliveries;
