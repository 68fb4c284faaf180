-- Missed turns, defer and transfer (issue 12). An institution's settings
-- for them live in one JSON column (the office day's settings join it);
-- a ticket counts its requeues and defers, and remembers the last rule
-- that moved it (requeued, deferred, transferred) for the fairness log.

-- +goose Up
ALTER TABLE institutions
    ADD COLUMN settings jsonb NOT NULL
        DEFAULT '{"rejoin_window_seconds": 600, "requeue_after": 3, "max_requeues": 1}'
        CHECK (jsonb_typeof(settings) = 'object');

ALTER TABLE tickets
    ADD COLUMN requeues smallint NOT NULL DEFAULT 0,
    ADD COLUMN defers   smallint NOT NULL DEFAULT 0,
    ADD COLUMN moved    text     CHECK (moved IN ('requeued', 'deferred', 'transferred', 'drawn'));

-- The new notification events (drawn comes with the fair opening).
ALTER TABLE notifications DROP CONSTRAINT notifications_event_check,
    ADD CONSTRAINT notifications_event_check CHECK (event IN ('near_turn', 'turn_called', 'completed',
        'expired', 'cancelled', 'requeued', 'transferred', 'drawn'));

-- The fairness log: the calls of one local day, read in id order.
CREATE INDEX events_calls_idx ON events (institution_id, at, id)
    WHERE kind IN ('ticket.called', 'ticket.recalled');

-- +goose Down
DROP INDEX events_calls_idx;
DELETE FROM notifications WHERE event IN ('requeued', 'transferred', 'drawn');
ALTER TABLE notifications DROP CONSTRAINT notifications_event_check,
    ADD CONSTRAINT notifications_event_check CHECK (event IN ('near_turn', 'turn_called', 'completed',
        'expired', 'cancelled'));
ALTER TABLE tickets DROP COLUMN moved, DROP COLUMN defers, DROP COLUMN requeues;
ALTER TABLE institutions DROP COLUMN settings;
