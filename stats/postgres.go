package stats

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/puddle/v2"

	"github.com/queueless/queueless/feedback"
	"github.com/queueless/queueless/queue"
)

// Postgres computes stats in SQL.
type Postgres struct {
	pool *pgxpool.Pool
}

var _ Source = (*Postgres)(nil)

// NewPostgres returns the PostgreSQL source over pool.
func NewPostgres(pool *pgxpool.Pool) *Postgres { return &Postgres{pool: pool} }

// statsSQL computes every ticket figure in one scan of the period's range
// of tickets_issued_idx (migration 00050), grouped three ways at once: the
// whole period, per service and per local hour. GROUPING(service, hour)
// tells the groups apart: 3 the whole period, 1 a service, 2 an hour.
// percentile_cont ignores NULLs: a wait counts only for tickets called, a
// service time only for tickets served. Given an array of fractions it
// sorts its input once for all of them.
const statsSQL = `WITH t AS (
	SELECT service, status,
		extract(hour FROM issued_at AT TIME ZONE $4)::int AS hour,
		extract(epoch FROM called_at - issued_at)::float8 AS wait,
		CASE WHEN status = 'served' THEN extract(epoch FROM completed_at - called_at)::float8 END AS svc,
		estimate_at_join_seconds AS est
	FROM tickets
	WHERE institution_id = $1 AND issued_at >= $2 AND issued_at < $3)
SELECT GROUPING(service, hour), coalesce(service, ''), coalesce(hour, 0),
	count(*),
	count(*) FILTER (WHERE status = 'served'),
	count(*) FILTER (WHERE status = 'expired'),
	count(*) FILTER (WHERE status = 'cancelled'),
	percentile_cont('{0.5,0.9}'::float8[]) WITHIN GROUP (ORDER BY wait),
	max(wait),
	percentile_cont('{0.5,0.9}'::float8[]) WITHIN GROUP (ORDER BY svc),
	count(abs(est - wait)),
	percentile_cont(0.5) WITHIN GROUP (ORDER BY abs(est - wait))
FROM t
GROUP BY GROUPING SETS ((), (service), (hour))`

// satisfactionSQL averages the feedback given in the period
// (feedback_institution_idx, migration 00021); avg ignores NULL answers.
const satisfactionSQL = `SELECT count(*), avg(rating)::float8,
	avg(sqd0)::float8, avg(sqd1)::float8, avg(sqd2)::float8, avg(sqd3)::float8, avg(sqd4)::float8,
	avg(sqd5)::float8, avg(sqd6)::float8, avg(sqd7)::float8, avg(sqd8)::float8
FROM feedback
WHERE institution_id = $1 AND created_at >= $2 AND created_at < $3`

// Stats implements Source.
func (s *Postgres) Stats(ctx context.Context, id int64, p Period, loc *time.Location) (Stats, error) {
	loc = location(loc)
	st := Stats{From: p.From, To: p.To, Timezone: loc.String(), ByHour: make([]Hour, 24), ByService: []ServiceStats{}}
	for h := range st.ByHour {
		st.ByHour[h].Hour = h
	}
	rows, err := s.pool.Query(ctx, statsSQL, id, p.From, p.To, loc.String())
	if err != nil {
		return Stats{}, translate(err, "stats")
	}
	defer rows.Close()
	for rows.Next() {
		var (
			grouping, hour int
			service        string
			c              Counts
			w              Waits
			sv             Services
			e              EstimateError
		)
		var waits, services []*float64
		if err := rows.Scan(&grouping, &service, &hour, &c.Joined, &c.Served, &c.Expired, &c.Cancelled,
			&waits, &w.Max, &services, &e.Count, &e.MedianAbsoluteSeconds); err != nil {
			return Stats{}, translate(err, "stats")
		}
		w.P50, w.P90 = pair(waits)
		sv.P50, sv.P90 = pair(services)
		w = Waits{P50: roundPtr(w.P50), P90: roundPtr(w.P90), Max: roundPtr(w.Max)}
		sv = Services{P50: roundPtr(sv.P50), P90: roundPtr(sv.P90)}
		e.MedianAbsoluteSeconds = roundPtr(e.MedianAbsoluteSeconds)
		switch grouping {
		case 3:
			st.Counts, st.WaitSeconds, st.ServiceSeconds, st.EstimateError = c, w, sv, e
		case 1:
			st.ByService = append(st.ByService, ServiceStats{Service: service, Counts: c, WaitSeconds: w, ServiceSeconds: sv, EstimateError: e})
		case 2:
			if hour < 0 || hour > 23 {
				return Stats{}, queue.Errorf(queue.CodeInternal, "stats: hour %d out of range", hour)
			}
			st.ByHour[hour] = Hour{Hour: hour, Joined: c.Joined, Served: c.Served, WaitSeconds: w}
		}
	}
	if err := rows.Err(); err != nil {
		return Stats{}, translate(err, "stats")
	}
	sortServices(st.ByService)
	if st.Satisfaction, err = s.satisfaction(ctx, id, p); err != nil {
		return Stats{}, err
	}
	return st, nil
}

// pair is the p50 and p90 of percentile_cont's array; nil for NULL, which
// it is when no row had a value.
func pair(a []*float64) (p50, p90 *float64) {
	if len(a) != 2 {
		return nil, nil
	}
	return a[0], a[1]
}

func (s *Postgres) satisfaction(ctx context.Context, id int64, p Period) (Satisfaction, error) {
	sat := Satisfaction{MeanSQD: map[string]*float64{}}
	var means [9]*float64
	dest := []any{&sat.Count, &sat.MeanRating}
	for i := range means {
		dest = append(dest, &means[i])
	}
	if err := s.pool.QueryRow(ctx, satisfactionSQL, id, p.From, p.To).Scan(dest...); err != nil {
		return Satisfaction{}, translate(err, "stats: satisfaction")
	}
	sat.MeanRating = roundPtr(sat.MeanRating)
	for i, q := range feedback.Questions {
		sat.MeanSQD[q] = roundPtr(means[i])
	}
	return sat, nil
}

const exportSQL = `SELECT id, number, status, phone, near_turn_threshold, counter, issued_at, called_at,
	checked_in_at, completed_at, updated_at, service, label, priority, source, estimate_at_join_seconds
FROM tickets
WHERE institution_id = $1 AND issued_at >= $2 AND issued_at < $3
ORDER BY number`

// Tickets implements Source: the rows stream from the server, one at a
// time, however long the period.
func (s *Postgres) Tickets(ctx context.Context, id int64, p Period, fn func(queue.Ticket) error) error {
	rows, err := s.pool.Query(ctx, exportSQL, id, p.From, p.To)
	if err != nil {
		return translate(err, "export tickets")
	}
	defer rows.Close()
	for rows.Next() {
		t := queue.Ticket{InstitutionID: id}
		var status string
		var threshold int32
		var priority *string
		var est *int32
		if err := rows.Scan(&t.ID, &t.Number, &status, &t.Phone, &threshold, &t.Counter, &t.IssuedAt, &t.CalledAt,
			&t.CheckedInAt, &t.CompletedAt, &t.UpdatedAt, &t.Service, &t.Label, &priority, &t.Source, &est); err != nil {
			return translate(err, "export tickets")
		}
		t.Status, t.NearTurnThreshold = queue.TicketStatus(status), int(threshold)
		if priority != nil {
			pr := queue.Priority(*priority)
			t.Priority = &pr
		}
		if est != nil {
			v := int64(*est)
			t.EstimateAtJoin = &v
		}
		if err := fn(t); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return translate(err, "export tickets")
	}
	return nil
}

// translate turns a driver error into the contract's: a cancelled or
// timed-out request, or the database away, is 503 unavailable (the driver's
// text kept for the log, never in the body); anything else, a bug in a
// query, stays a plain error: 500 internal.
func translate(err error, what string) error {
	var qe *queue.Error
	if errors.As(err, &qe) {
		return err
	}
	cause := fmt.Errorf("%s: %w", what, err)
	var connectErr *pgconn.ConnectError
	var pgErr *pgconn.PgError
	switch {
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded), pgconn.Timeout(err):
		return &dbError{err: queue.Errorf(queue.CodeUnavailable, "the database did not answer in time; please try again"), cause: cause}
	case errors.As(err, &pgErr):
		if c := pgErr.Code[:min(2, len(pgErr.Code))]; c == "08" || c == "53" || c == "57" || c == "58" {
			return &dbError{err: queue.Errorf(queue.CodeUnavailable, "the database is unavailable; please try again shortly"), cause: cause}
		}
		return cause
	case errors.As(err, &connectErr), errors.Is(err, pgconn.ErrConnClosed), errors.Is(err, puddle.ErrClosedPool), pgconn.SafeToRetry(err):
		return &dbError{err: queue.Errorf(queue.CodeUnavailable, "the database is unavailable; please try again shortly"), cause: cause}
	}
	return cause
}

// dbError is a contract error caused by a driver error: errors.As finds
// the contract error, whose message is what clients see; Error() appends
// the cause, for logs.
type dbError struct {
	err   *queue.Error
	cause error
}

func (e *dbError) Error() string { return e.err.Message + ": " + e.cause.Error() }
func (e *dbError) Unwrap() error { return e.err }
