package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"

	"github.com/queueless/queueless/institutions"
	"github.com/queueless/queueless/internal/app"
)

// seed runs `queueless seed`: demo institutions, optionally those of a
// mockapi (linked in poll mode), and waiting tickets, written to
// DATABASE_URL. Running it twice adds nothing. Embedded mode keeps its data
// in the serving process, so there SEED_TICKETS and SEED_MOCKAPI_URL seed
// `queueless serve` instead.
func seed(ctx context.Context, cfg app.Config, log *slog.Logger, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("seed", flag.ContinueOnError)
	fs.SetOutput(stderr)
	tickets := fs.Int("tickets", cfg.Sync.SeedTickets, "waiting tickets at each institution that is not linked (SEED_TICKETS)")
	mock := fs.String("mockapi", cfg.Sync.SeedMockAPIURL, "mockapi base URL whose institutions to import and link (SEED_MOCKAPI_URL)")
	every := fs.Duration("poll-interval", cfg.Sync.SeedPollInterval, "poll interval of the links made (SEED_POLL_INTERVAL)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if *tickets < 0 || *tickets > 100000 {
		return errors.New("-tickets must be from 0 to 100000")
	}
	if cfg.DatabaseURL == "" {
		return errors.New("seed writes to DATABASE_URL; in embedded mode, seed the server itself: SEED_TICKETS=50 SEED_MOCKAPI_URL=http://localhost:9090 queueless serve")
	}
	a, err := app.New(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer a.Close(context.WithoutCancel(ctx))
	rep, err := a.Seed(ctx, institutions.SeedOptions{Tickets: *tickets, MockAPIURL: *mock, PollInterval: *every})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "seeded: %d institutions created, %d linked, %d tickets joined\n", rep.Created, rep.Linked, rep.Tickets)
	return nil
}
