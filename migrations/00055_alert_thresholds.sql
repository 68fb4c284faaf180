-- Alert thresholds per institution, webhook levels, and the evaluation's
-- question "since when is this institution open" (issue 14, alerts).
-- Ranges are alerts.Thresholds.Validate's; the CHECKs are its backstop.

-- +goose Up
ALTER TABLE institutions
    ADD COLUMN stall_minutes      integer   NOT NULL DEFAULT 10
        CHECK (stall_minutes BETWEEN 1 AND 1440),
    ADD COLUMN wait_sla_minutes   integer   NOT NULL DEFAULT 60
        CHECK (wait_sla_minutes BETWEEN 1 AND 1440),
    ADD COLUMN escalation_minutes integer[] NOT NULL DEFAULT '{15,30,60}'
        CHECK (cardinality(escalation_minutes) = 3
           AND escalation_minutes[1] BETWEEN 1 AND 10080
           AND escalation_minutes[1] < escalation_minutes[2]
           AND escalation_minutes[2] < escalation_minutes[3]
           AND escalation_minutes[3] <= 10080);

-- The alert levels a webhook hears of; empty: every level.
ALTER TABLE webhooks
    ADD COLUMN levels text[] NOT NULL DEFAULT '{}'
        CHECK (levels <@ ARRAY['initiated', 'p2', 'p1', 'p0']);

-- The evaluation reads, at every run, when each institution last opened:
-- a backward walk of this small index, not of the whole audit trail.
CREATE INDEX events_status_idx ON events (institution_id, at)
    WHERE kind IN ('institution.created', 'institution.updated');

-- +goose Down
DROP INDEX events_status_idx;
ALTER TABLE webhooks DROP COLUMN levels;
ALTER TABLE institutions DROP COLUMN escalation_minutes, DROP COLUMN wait_sla_minutes, DROP COLUMN stall_minutes;
