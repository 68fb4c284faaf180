-- The office day (issue 12): hours, the day job's state, held tickets and
-- the fair opening's draws. The settings themselves (timezone, hours,
-- closed_dates, join_cutoff_minutes, at_close, prequeue_minutes) join the
-- institution's settings JSON column of 00012; what the day job keeps
-- (the last instant it evaluated, the day's draws with their secret seeds
-- until drawn) lives in day_state, never shown as it is. A held ticket has
-- no number yet: number is NULL until the draw gives it one.

-- +goose Up
ALTER TABLE institutions
    ADD COLUMN day_state jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(day_state) = 'object');

ALTER TABLE tickets ALTER COLUMN number DROP NOT NULL;
ALTER TABLE tickets DROP CONSTRAINT tickets_status_check,
    ADD CONSTRAINT tickets_status_check CHECK (status IN ('held', 'waiting', 'notified', 'serving', 'served', 'expired', 'cancelled'));
-- Held: no number. Without a number: held, or cancelled while held.
ALTER TABLE tickets ADD CONSTRAINT tickets_held_number_check
    CHECK ((status <> 'held' OR number IS NULL) AND (number IS NOT NULL OR status IN ('held', 'cancelled')));

-- One active ticket per phone and institution, held ones included.
DROP INDEX tickets_active_phone_key;
CREATE UNIQUE INDEX tickets_active_phone_key ON tickets (institution_id, phone)
    WHERE phone IS NOT NULL AND status IN ('held', 'waiting', 'notified', 'serving');

-- The draw's question: the held tickets of an institution.
CREATE INDEX tickets_held_idx ON tickets (institution_id, service) WHERE status = 'held';

-- +goose Down
DROP INDEX tickets_held_idx;
DELETE FROM notifications WHERE ticket_id IN (SELECT id FROM tickets WHERE number IS NULL);
DELETE FROM tickets WHERE number IS NULL;
DROP INDEX tickets_active_phone_key;
CREATE UNIQUE INDEX tickets_active_phone_key ON tickets (institution_id, phone)
    WHERE phone IS NOT NULL AND status IN ('waiting', 'notified', 'serving');
ALTER TABLE tickets DROP CONSTRAINT tickets_held_number_check;
ALTER TABLE tickets DROP CONSTRAINT tickets_status_check,
    ADD CONSTRAINT tickets_status_check CHECK (status IN ('waiting', 'notified', 'serving', 'served', 'expired', 'cancelled'));
ALTER TABLE tickets ALTER COLUMN number SET NOT NULL;
ALTER TABLE institutions DROP COLUMN day_state;
