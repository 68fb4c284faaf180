// Command seedyear seeds one institution with a year of realistic history
// (tickets across three services, waits, cancels, expiries, feedback, the
// estimates shown at join) straight into PostgreSQL with generate_series,
// then times the stats of its last 30 days and, with -explain, prints the
// query plans (EXPLAIN ANALYZE) that docs/BENCHMARKS.md quotes.
//
//	DATABASE_URL=postgres://... go run ./cmd/seedyear -per-day 400 -explain
//
// It migrates the database first, like `queueless migrate`, and adds a new
// institution each run; nothing else is touched.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"slices"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/queueless/queueless/migrations"
	"github.com/queueless/queueless/stats"
)

func main() {
	if err := run(context.Background(), os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "seedyear:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("seedyear", flag.ContinueOnError)
	dbURL := fs.String("db", os.Getenv("DATABASE_URL"), "PostgreSQL URL (DATABASE_URL)")
	days := fs.Int("days", 365, "days of history, ending yesterday (in -tz)")
	perDay := fs.Int("per-day", 400, "mean tickets on a weekday")
	tz := fs.String("tz", "Asia/Manila", "the office's timezone (IANA name)")
	name := fs.String("name", "Seeded office", "the institution's name")
	seed := fs.Float64("seed", 0.5, "random seed, -1..1 (the same seed, the same history)")
	explain := fs.Bool("explain", false, "print EXPLAIN (ANALYZE, BUFFERS) of the 30-day stats query")
	runs := fs.Int("runs", 21, "times to run the 30-day and 1-day queries")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *dbURL == "" {
		return fmt.Errorf("-db or DATABASE_URL is required")
	}
	if *days < 1 || *days > 3660 || *perDay < 1 || *perDay > 100000 || *seed < -1 || *seed > 1 {
		return fmt.Errorf("-days 1..3660, -per-day 1..100000, -seed -1..1")
	}
	loc, err := time.LoadLocation(*tz)
	if err != nil {
		return fmt.Errorf("-tz: %w", err)
	}
	pool, err := pgxpool.New(ctx, *dbURL)
	if err != nil {
		return err
	}
	defer pool.Close()
	db := migrations.OpenDB(pool)
	err = migrations.Up(ctx, db)
	_ = db.Close()
	if err != nil {
		return err
	}
	now := time.Now().In(loc)
	end := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, loc)
	res, err := stats.SeedYear(ctx, pool, stats.SeedOptions{Name: *name, End: end, Days: *days, PerDay: *perDay, Location: loc, Seed: *seed})
	if err != nil {
		return err
	}
	fmt.Printf("institution %d: %d tickets, %d feedback, %s .. %s, seeded in %v\n", res.InstitutionID, res.Tickets, res.Feedback,
		res.First.In(loc).Format(time.DateOnly), res.Last.In(loc).Format(time.DateOnly), res.Took.Round(time.Millisecond))
	src := stats.NewPostgres(pool)
	// The reference: the last open day, whose tickets are a 30th of the
	// period's or so.
	lastLocal := res.Last.In(loc)
	lastDay := time.Date(lastLocal.Year(), lastLocal.Month(), lastLocal.Day(), 0, 0, 0, 0, loc)
	for _, p := range []stats.Period{
		{From: lastDay.UTC(), To: lastDay.AddDate(0, 0, 1).UTC()},
		{From: end.AddDate(0, 0, -30).UTC(), To: end.UTC()},
	} {
		d := int(p.To.Sub(p.From).Round(24*time.Hour) / (24 * time.Hour))
		var took []time.Duration
		var joined int64
		for range *runs {
			start := time.Now()
			st, err := src.Stats(ctx, res.InstitutionID, p, loc)
			if err != nil {
				return err
			}
			took = append(took, time.Since(start))
			joined = st.Joined
		}
		slices.Sort(took)
		fmt.Printf("stats of the last %d day(s) (%d tickets): median %v, min %v, max %v over %d runs\n", d, joined,
			took[len(took)/2].Round(10*time.Microsecond), took[0].Round(10*time.Microsecond), took[len(took)-1].Round(10*time.Microsecond), len(took))
	}
	if *explain {
		p := stats.Period{From: end.AddDate(0, 0, -30).UTC(), To: end.UTC()}
		plan, err := stats.Explain(ctx, pool, res.InstitutionID, p, loc)
		if err != nil {
			return err
		}
		fmt.Println(plan)
	}
	return nil
}
