package stats

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/queueless/queueless/queue"
)

// SeedOptions shape a year of history for one institution.
type SeedOptions struct {
	// Name of the institution created.
	Name string
	// End is the day after the last day seeded; Days are seeded before it.
	End  time.Time
	Days int
	// PerDay is the mean tickets of a weekday (Mondays 30% more, Fridays
	// 20% fewer, each day ±25%); weekends are closed.
	PerDay int
	// Location is the office's timezone: it opens 08:00-17:00 there.
	Location *time.Location
	// Seed makes the history repeatable (PostgreSQL's setseed).
	Seed float64
}

// SeedResult says what SeedYear wrote.
type SeedResult struct {
	InstitutionID     int64
	Tickets, Feedback int64
	First, Last       time.Time
	Took              time.Duration
}

// seedTicketsSQL writes a whole history in one statement: the open days
// (generate_series), the arrivals of each (more in the morning), and what
// became of each ticket: 88% served after a wait that is longer in the
// morning rush, 5% expired at the counter, 7% cancelled while waiting;
// the estimate shown at join is the real wait off by up to 30%.
const seedTicketsSQL = `WITH days AS (
	SELECT d::date AS day FROM generate_series($2::date, $3::date, interval '1 day') AS d
	WHERE extract(isodow FROM d) < 6),
arrivals AS (
	SELECT day, ((day + time '08:00' + (random() ^ 1.4) * interval '9 hours') AT TIME ZONE $4) AS issued,
		random() AS r_service, random() AS r_status, random() AS r_wait, random() AS r_svc, random() AS r_est,
		random() AS r_phone
	FROM days, LATERAL generate_series(1, greatest(1, ($5 * (0.75 + random() * 0.5) *
		CASE extract(isodow FROM day) WHEN 1 THEN 1.3 WHEN 5 THEN 0.8 ELSE 1 END)::int)) AS i),
t AS (
	SELECT *,
		CASE WHEN r_service < 0.6 THEN 'A' WHEN r_service < 0.9 THEN 'B' ELSE 'C' END AS service,
		CASE WHEN r_status < 0.07 THEN 'cancelled' WHEN r_status < 0.12 THEN 'expired' ELSE 'served' END AS status,
		make_interval(secs => 60 + r_wait * r_wait * 2400 *
			CASE WHEN extract(hour FROM issued AT TIME ZONE $4) < 11 THEN 1.6 ELSE 1 END) AS wait,
		make_interval(secs => 120 + r_svc * 480) AS svc
	FROM arrivals)
INSERT INTO tickets (id, institution_id, number, status, phone, near_turn_threshold, counter,
	issued_at, called_at, checked_in_at, completed_at, updated_at, service, label, place, source,
	estimate_at_join_seconds)
SELECT gen_random_uuid(), $1, row_number() OVER (ORDER BY issued), status,
	CASE WHEN r_phone < 0.5 THEN '09' || lpad((r_phone * 2e9)::bigint::text, 9, '0') END, 3,
	CASE WHEN status <> 'cancelled' THEN ((r_svc * 1000)::int % 6 + 1)::text END,
	issued,
	CASE WHEN status <> 'cancelled' THEN issued + wait END,
	CASE WHEN status = 'served' THEN issued + wait END,
	CASE status WHEN 'served' THEN issued + wait + svc WHEN 'expired' THEN issued + wait + interval '180 seconds'
		ELSE issued + wait / 2 END,
	CASE status WHEN 'served' THEN issued + wait + svc WHEN 'expired' THEN issued + wait + interval '180 seconds'
		ELSE issued + wait / 2 END,
	service,
	service || '-' || lpad((row_number() OVER (PARTITION BY day, service ORDER BY issued))::text, 3, '0'),
	issued, 'phone',
	round(extract(epoch FROM wait) * (0.7 + r_est * 0.6))::int
FROM t`

// seedFeedbackSQL: three served tickets in ten leave feedback within two
// hours, mostly content (a mood x per ticket, each answer near it); cost
// (SQD3) does not apply to most, and some skip SQD8.
var seedFeedbackSQL = `INSERT INTO feedback (ticket_id, institution_id, rating,
	sqd0, sqd1, sqd2, sqd3, sqd4, sqd5, sqd6, sqd7, sqd8, comment, created_at)
SELECT id, $1, ` + score("x") + `,
	` + score("x + random() - 0.5") + `, ` + score("x + random() - 0.5") + `, ` + score("x + random() - 0.5") + `,
	CASE WHEN random() < 0.3 THEN ` + score("x + random() - 0.5") + ` END,
	` + score("x + random() - 0.5") + `, ` + score("x + random() - 0.5") + `, ` + score("x + random() - 0.5") + `,
	` + score("x + random() - 0.5") + `,
	CASE WHEN random() < 0.8 THEN ` + score("x + random() - 0.5") + ` END,
	'', completed_at + random() * interval '2 hours'
FROM (SELECT id, completed_at, 4.1 + (random() - 0.6) * 3 AS x
	FROM tickets WHERE institution_id = $1 AND status = 'served' AND random() < 0.3) AS f`

// score is expr rounded into 1..5.
func score(expr string) string {
	return "least(5, greatest(1, round(" + expr + ")))::smallint"
}

// SeedYear creates an institution with services A, B and C and writes
// its history straight into PostgreSQL with generate_series: about
// 100,000 tickets a year at PerDay 400 in a few seconds. It then vacuums
// and analyzes the tables, as autovacuum would, so that the statistics
// and the visibility map are those of a settled database.
func SeedYear(ctx context.Context, pool *pgxpool.Pool, opt SeedOptions) (SeedResult, error) {
	start := time.Now()
	if opt.Days <= 0 {
		opt.Days = 365
	}
	if opt.PerDay <= 0 {
		opt.PerDay = 400
	}
	if opt.End.IsZero() {
		opt.End = time.Now().UTC()
	}
	if opt.Name == "" {
		opt.Name = "Seeded office"
	}
	loc := location(opt.Location)
	svc := queue.NewService(queue.NewPostgresStore(pool), queue.Config{})
	meta := queue.Meta{Actor: "system"}
	inst, err := svc.CreateInstitution(ctx, queue.Fields{Name: opt.Name, Kind: "government", Address: "Seeded by seedyear"}, meta)
	if err != nil {
		return SeedResult{}, err
	}
	if _, err := svc.SetServices(ctx, inst.ID, []queue.LineSpec{
		{Code: "A", Name: "General"}, {Code: "B", Name: "Payments"}, {Code: "C", Name: "Releases"},
	}, meta); err != nil {
		return SeedResult{}, err
	}
	end := opt.End.In(loc)
	last := time.Date(end.Year(), end.Month(), end.Day(), 0, 0, 0, 0, time.UTC).AddDate(0, 0, -1)
	first := last.AddDate(0, 0, 1-opt.Days)
	res := SeedResult{InstitutionID: inst.ID}
	tx, err := pool.Begin(ctx)
	if err != nil {
		return SeedResult{}, err
	}
	defer func() { _ = tx.Rollback(ctx) }()
	if _, err := tx.Exec(ctx, `SELECT setseed($1)`, opt.Seed); err != nil {
		return SeedResult{}, err
	}
	ct, err := tx.Exec(ctx, seedTicketsSQL, inst.ID, first, last, loc.String(), opt.PerDay)
	if err != nil {
		return SeedResult{}, fmt.Errorf("seed tickets: %w", err)
	}
	res.Tickets = ct.RowsAffected()
	if ct, err = tx.Exec(ctx, seedFeedbackSQL, inst.ID); err != nil {
		return SeedResult{}, fmt.Errorf("seed feedback: %w", err)
	}
	res.Feedback = ct.RowsAffected()
	if _, err := tx.Exec(ctx, `UPDATE institutions SET last_issued = (SELECT coalesce(max(number), 0) FROM tickets WHERE institution_id = $1) WHERE id = $1`, inst.ID); err != nil {
		return SeedResult{}, err
	}
	if err := tx.QueryRow(ctx, `SELECT min(issued_at), max(issued_at) FROM tickets WHERE institution_id = $1`, inst.ID).Scan(&res.First, &res.Last); err != nil {
		return SeedResult{}, err
	}
	if err := tx.Commit(ctx); err != nil {
		return SeedResult{}, err
	}
	if _, err := pool.Exec(ctx, `VACUUM (ANALYZE) tickets, feedback`); err != nil {
		return SeedResult{}, fmt.Errorf("vacuum: %w", err)
	}
	res.Took = time.Since(start)
	return res, nil
}

// Explain runs EXPLAIN (ANALYZE, BUFFERS) of the stats query: its plan
// and timings, for docs/BENCHMARKS.md.
func Explain(ctx context.Context, pool *pgxpool.Pool, id int64, p Period, loc *time.Location) (string, error) {
	var lines []string
	for _, q := range []struct {
		sql  string
		args []any
	}{
		{statsSQL, []any{id, p.From, p.To, location(loc).String()}},
		{satisfactionSQL, []any{id, p.From, p.To}},
	} {
		rows, err := pool.Query(ctx, "EXPLAIN (ANALYZE, BUFFERS) "+q.sql, q.args...)
		if err != nil {
			return "", err
		}
		for rows.Next() {
			var l string
			if err := rows.Scan(&l); err != nil {
				rows.Close()
				return "", err
			}
			lines = append(lines, l)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return "", err
		}
		lines = append(lines, "")
	}
	return strings.Join(lines, "\n"), nil
}
