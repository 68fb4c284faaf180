BEGIN;
SELECT next FROM counters WHERE id = 1 FOR UPDATE \gset
UPDATE counters SET next = next + 1 WHERE id = 1;
INSERT INTO tickets (institution_id, number) VALUES (1, :next);
COMMIT;
