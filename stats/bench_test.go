package stats

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// benchEnd is Saturday 31 October 2026, 00:00 in Manila: the seeded year
// ends on a full Friday.
var benchEnd = time.Date(2026, 10, 30, 16, 0, 0, 0, time.UTC)

// benchSeed seeds a year at 400 tickets a weekday (about 105,000 tickets,
// 27,000 feedback) in a schema of its own, dropped when b ends.
func benchSeed(b *testing.B) (*pgxpool.Pool, int64) {
	pool := newTestPool(b)
	res, err := SeedYear(context.Background(), pool, SeedOptions{End: benchEnd, Days: 365, PerDay: 400, Location: manila, Seed: 0.5})
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("seeded %d tickets and %d feedback in %v", res.Tickets, res.Feedback, res.Took.Round(time.Millisecond))
	return pool, res.InstitutionID
}

var manila = mustLoad("Asia/Manila")

// BenchmarkStatsPostgres: the stats of the last 30 days of a year's
// history, and the same query over 1 day and 365 days as references,
// run side by side. ms/median and ms/p90 are per query.
func BenchmarkStatsPostgres(b *testing.B) {
	pool, id := benchSeed(b)
	src := NewPostgres(pool)
	for _, c := range []struct {
		name string
		days int
	}{{"1day", 1}, {"30days", 30}, {"365days", 365}} {
		b.Run(c.name, func(b *testing.B) {
			p := Period{From: benchEnd.AddDate(0, 0, -c.days), To: benchEnd}
			ctx := context.Background()
			var took []time.Duration
			var joined int64
			for b.Loop() {
				start := time.Now()
				st, err := src.Stats(ctx, id, p, manila)
				if err != nil {
					b.Fatal(err)
				}
				took = append(took, time.Since(start))
				joined = st.Joined
			}
			reportQuantiles(b, took)
			b.ReportMetric(float64(joined), "tickets")
		})
	}
}

func reportQuantiles(b *testing.B, took []time.Duration) {
	slices.Sort(took)
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	b.ReportMetric(ms(took[len(took)/2]), "ms/median")
	b.ReportMetric(ms(took[len(took)*9/10]), "ms/p90")
}
