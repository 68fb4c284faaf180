package stats

import (
	"context"
	"encoding/json"
	"reflect"
	"sort"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/queueless/queueless/queue"
)

// TestSeedMatchesCompute seeds two months of random history and holds the
// SQL figures to Compute's over the same tickets, read back: thousands of
// random tickets, across New York's change to daylight saving time.
func TestSeedMatchesCompute(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := newTestPool(t)
	res, err := SeedYear(ctx, pool, SeedOptions{End: time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC), Days: 60, PerDay: 60,
		Location: newYork, Seed: 0.25})
	if err != nil {
		t.Fatal(err)
	}
	if res.Tickets < 1500 || res.Feedback < 200 {
		t.Fatalf("seeded %d tickets, %d feedback: want about 2,500 and 650", res.Tickets, res.Feedback)
	}
	src := NewPostgres(pool)
	p := Period{From: time.Date(2026, 3, 1, 5, 0, 0, 0, time.UTC), To: time.Date(2026, 3, 21, 4, 0, 0, 0, time.UTC)}
	got, err := src.Stats(ctx, res.InstitutionID, p, newYork)
	if err != nil {
		t.Fatal(err)
	}
	var tickets []queue.Ticket
	if err := src.Tickets(ctx, res.InstitutionID, p, func(tk queue.Ticket) error {
		tickets = append(tickets, tk)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	want := Compute(p, newYork, tickets, nil)
	got.Satisfaction = want.Satisfaction // feedback is checked below
	if !reflect.DeepEqual(got, want) {
		g, _ := json.Marshal(got)
		w, _ := json.Marshal(want)
		t.Fatalf("SQL and Compute disagree:\n sql %s\n go  %s", g, w)
	}
	if got.Joined < 500 || got.Served == 0 || got.Cancelled == 0 || got.Expired == 0 || len(got.ByService) != 3 || got.EstimateError.Count == 0 {
		t.Fatalf("seeded history looks wrong: %+v", got.Counts)
	}
	// Open 08:00-17:00 local: no ticket before 8 or from 17 on, before and
	// after the clocks changed (8 March).
	for _, h := range got.ByHour {
		if (h.Hour < 8 || h.Hour >= 17) != (h.Joined == 0) {
			t.Errorf("hour %d: %d joined", h.Hour, h.Joined)
		}
	}
	checkSatisfaction(t, pool, res.InstitutionID, p, src)
}

// checkSatisfaction recomputes the feedback means from the rows.
func checkSatisfaction(t *testing.T, pool *pgxpool.Pool, id int64, p Period, src *Postgres) {
	t.Helper()
	ctx := context.Background()
	rows, err := pool.Query(ctx, `SELECT rating, sqd3 FROM feedback WHERE institution_id = $1 AND created_at >= $2 AND created_at < $3`, id, p.From, p.To)
	if err != nil {
		t.Fatal(err)
	}
	var n, sum, n3, sum3 int
	for rows.Next() {
		var r int
		var s3 *int
		if err := rows.Scan(&r, &s3); err != nil {
			t.Fatal(err)
		}
		n, sum = n+1, sum+r
		if s3 != nil {
			n3, sum3 = n3+1, sum3+*s3
		}
	}
	rows.Close()
	st, err := src.Stats(ctx, id, p, time.UTC)
	if err != nil {
		t.Fatal(err)
	}
	s := st.Satisfaction
	if n == 0 || s.Count != int64(n) || *s.MeanRating != round(float64(sum)/float64(n)) || *s.MeanSQD["SQD3"] != round(float64(sum3)/float64(n3)) {
		t.Fatalf("satisfaction %+v, want %d ratings averaging %v", s, n, float64(sum)/float64(n))
	}
	keys := make([]string, 0, len(s.MeanSQD))
	for k := range s.MeanSQD {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if len(keys) != 9 || keys[0] != "SQD0" || keys[8] != "SQD8" {
		t.Fatalf("mean_sqd keys %v", keys)
	}
}
