-- Links from institutions to their own queue systems (issue 6): how QueueLess
-- follows each one (poll its queue URL, or take signed pushes), what it last
-- saw, whether the link is stale, and the lease that lets one instance poll
-- a link at a time. The calls themselves are ordinary tickets and events.

-- +goose Up
CREATE TABLE links (
    institution_id       bigint      PRIMARY KEY REFERENCES institutions (id),
    mode                 text        NOT NULL CHECK (mode IN ('poll', 'push')),
    -- poll: the outside queue's URL.
    url                  text        NOT NULL DEFAULT '' CHECK (char_length(url) <= 2000),
    poll_interval_ms     bigint      NOT NULL CHECK (poll_interval_ms BETWEEN 0 AND 3600000),
    stale_after_ms       bigint      NOT NULL CHECK (stale_after_ms BETWEEN 1000 AND 86400000),
    -- push: the HMAC-SHA256 key. Kept as is: checking a signature needs it.
    secret               text        NOT NULL DEFAULT '',
    -- What the outside system last reported, for people to compare.
    outside_now_serving  bigint,
    outside_last_issued  bigint,
    -- The latest call of each counter: [{"number", "counter", "called_at"}].
    outside_calls        jsonb       NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(outside_calls) = 'array'),
    outside_updated_at   timestamptz,
    last_success_at      timestamptz,
    last_attempt_at      timestamptz,
    last_error           text        NOT NULL DEFAULT '' CHECK (char_length(last_error) <= 500),
    consecutive_failures integer     NOT NULL DEFAULT 0 CHECK (consecutive_failures >= 0),
    stale                boolean     NOT NULL DEFAULT false,
    breaker              text        NOT NULL DEFAULT 'closed' CHECK (breaker IN ('closed', 'half-open', 'open')),
    -- The poll lease: the instance that polls this link until lease_until,
    -- in the database's clock, so instances' clocks need not agree.
    lease_owner          text        NOT NULL DEFAULT '',
    lease_until          timestamptz,
    created_at           timestamptz NOT NULL,
    updated_at           timestamptz NOT NULL,
    CONSTRAINT links_poll_check CHECK (mode = 'push' OR (url <> '' AND poll_interval_ms >= 100))
);

-- +goose Down
DROP TABLE links;
