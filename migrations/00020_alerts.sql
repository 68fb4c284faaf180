-- Alerts: a queue that stalls or a wait past the SLA, escalating while it
-- stays open (package alerts). The partial unique index is the guarantee
-- behind "at most one open alert per institution and kind, however many
-- evaluators run": a second raise conflicts and does nothing.

-- +goose Up
CREATE TABLE alerts (
    id             bigserial   PRIMARY KEY,
    institution_id bigint      NOT NULL REFERENCES institutions (id),
    kind           text        NOT NULL CHECK (kind IN ('queue_stalled', 'wait_sla')),
    level          text        NOT NULL CHECK (level IN ('initiated', 'p2', 'p1', 'p0')),
    opened_at      timestamptz NOT NULL,
    escalated_at   timestamptz,
    resolved_at    timestamptz,
    -- 'system' (the condition cleared) or the staff actor, 'token:<id>'.
    resolved_by    text        CHECK (char_length(resolved_by) BETWEEN 1 AND 64),
    -- What the evaluator saw: {"waiting", "since", "threshold_minutes"}.
    detail         jsonb       NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(detail) = 'object'),
    CONSTRAINT alerts_escalated_check CHECK (escalated_at IS NULL OR escalated_at >= opened_at),
    CONSTRAINT alerts_resolved_check CHECK (resolved_at IS NULL OR resolved_at >= opened_at),
    CONSTRAINT alerts_resolved_pair_check CHECK ((resolved_at IS NULL) = (resolved_by IS NULL)),
    CONSTRAINT alerts_initiated_check CHECK ((level = 'initiated') = (escalated_at IS NULL))
);

-- At most one open alert per institution and kind.
CREATE UNIQUE INDEX alerts_open_key ON alerts (institution_id, kind) WHERE resolved_at IS NULL;

-- An institution's alerts, newest first.
CREATE INDEX alerts_institution_idx ON alerts (institution_id, id);

-- The last staff resolve of each kind, read at every evaluation: one index
-- probe per kind, however many alerts the institution has had.
CREATE INDEX alerts_staff_resolved_idx ON alerts (institution_id, kind, resolved_at)
    WHERE resolved_by <> 'system';

-- +goose Down
DROP TABLE alerts;
