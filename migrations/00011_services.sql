-- Services (lines), counters and priority lanes (issue 11). An institution's
-- services and counters live in its row, as JSON arrays: they change under
-- the row's lock with the rest of its queue state, and the label counters
-- and priority streaks of each service with them. Existing institutions get
-- one service A "General" holding their whole queue, and existing tickets
-- their labels (per UTC day, in number order) and places (their issue
-- times, rising with the numbers), so that v1 clients see no change.

-- +goose Up
ALTER TABLE institutions
    ADD COLUMN services     jsonb   NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(services) = 'array'),
    ADD COLUMN counters     jsonb   NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(counters) = 'array'),
    ADD COLUMN priority_run integer NOT NULL DEFAULT 2 CHECK (priority_run BETWEEN 0 AND 10);

ALTER TABLE tickets
    ADD COLUMN service  text        NOT NULL DEFAULT 'A',
    ADD COLUMN label    text        NOT NULL DEFAULT '',
    ADD COLUMN priority text        CHECK (priority IN ('senior', 'pwd', 'pregnant', 'other')),
    ADD COLUMN place    timestamptz,
    ADD COLUMN source   text        NOT NULL DEFAULT 'phone' CHECK (source IN ('phone', 'staff', 'sync'));

-- A place is the issue time, made to rise with the number (the running
-- maximum) where instances' clocks disagreed: the order stays v1's.
UPDATE tickets AS t SET place = x.place
FROM (SELECT id, max(issued_at) OVER (PARTITION BY institution_id ORDER BY number) AS place FROM tickets) AS x
WHERE t.id = x.id;
-- The store always writes a place; the default serves rows written by hand.
ALTER TABLE tickets ALTER COLUMN place SET NOT NULL, ALTER COLUMN place SET DEFAULT now();

UPDATE tickets AS t
SET label = 'A-' || CASE WHEN x.n < 1000 THEN lpad(x.n::text, 3, '0') ELSE x.n::text END
FROM (SELECT id, row_number() OVER (
        PARTITION BY institution_id, (issued_at AT TIME ZONE 'UTC')::date ORDER BY number) AS n
      FROM tickets) AS x
WHERE t.id = x.id;

UPDATE institutions AS i
SET services = jsonb_build_array(jsonb_build_object(
    'id', 1, 'code', 'A', 'name', 'General', 'status', 'open', 'position', 1,
    'waiting_count', i.waiting_count, 'waiting_priority', 0, 'now_serving_label', NULL,
    'daily_quota', NULL, 'streak', 0,
    'label_day', coalesce(d.day::text, ''), 'label_seq', coalesce(d.seq, 0), 'called_day', ''))
FROM institutions AS i2
LEFT JOIN LATERAL (
    SELECT (issued_at AT TIME ZONE 'UTC')::date AS day, count(*) AS seq
    FROM tickets WHERE institution_id = i2.id
    GROUP BY 1 ORDER BY 1 DESC LIMIT 1) AS d ON true
WHERE i.id = i2.id;

-- The calling order: the front of each lane (service, regular or priority)
-- by place, and the rank of a ticket in its lane.
CREATE INDEX tickets_queue_idx ON tickets (institution_id, service, (priority IS NOT NULL), place, number)
    WHERE status IN ('waiting', 'notified');

-- +goose Down
DROP INDEX tickets_queue_idx;
ALTER TABLE tickets
    DROP COLUMN source, DROP COLUMN place, DROP COLUMN priority, DROP COLUMN label, DROP COLUMN service;
ALTER TABLE institutions
    DROP COLUMN priority_run, DROP COLUMN counters, DROP COLUMN services;
