-- Stats (issue 14): the estimate a ticket was given when it joined, kept so
-- that stats can measure the estimates against the real waits, and the
-- index a period's stats read. A stats query reads the tickets issued in
-- [from, to) of one institution: one range of this index, every column it
-- needs in the index itself (an index-only scan once the table is vacuumed).

-- +goose Up
ALTER TABLE tickets
    ADD COLUMN estimate_at_join_seconds integer CHECK (estimate_at_join_seconds >= 0);

CREATE INDEX tickets_issued_idx ON tickets (institution_id, issued_at)
    INCLUDE (status, service, called_at, completed_at, estimate_at_join_seconds);

-- +goose Down
DROP INDEX tickets_issued_idx;
ALTER TABLE tickets DROP COLUMN estimate_at_join_seconds;
