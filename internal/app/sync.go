package app

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"time"

	"github.com/google/uuid"

	"github.com/queueless/queueless/institutions"
	"github.com/queueless/queueless/queue"
)

// SyncConfig tunes the links to institutions' own systems and seeding.
type SyncConfig struct {
	Tick            time.Duration
	LeaseTTL        time.Duration
	Timeout         time.Duration
	BackoffMax      time.Duration
	BreakerFailures int
	BreakerOpen     time.Duration
	// SeedTickets and SeedMockAPIURL seed embedded mode at start-up, and
	// are the defaults of `queueless seed`.
	SeedTickets      int
	SeedMockAPIURL   string
	SeedPollInterval time.Duration
}

// setupSync builds the Syncer (its leases in PostgreSQL, or in memory in
// embedded mode), mounts the link routes and, in embedded mode, seeds.
func (a *App) setupSync(ctx context.Context) error {
	var links queue.LinkStore
	if a.pool != nil {
		links = queue.NewPostgresLinkStore(a.pool)
	} else {
		links = queue.NewMemoryLinkStore(nil)
	}
	host, _ := os.Hostname()
	c := a.cfg.Sync
	a.Sync = institutions.NewSyncer(institutions.SyncConfig{
		Queue: a.Queue, Links: links, Owner: host + "/" + uuid.NewString(), Logger: a.log, Registerer: a.Registry,
		Tick: c.Tick, LeaseTTL: c.LeaseTTL, Timeout: c.Timeout, BackoffMax: c.BackoffMax,
		BreakerFailures: c.BreakerFailures, BreakerOpen: c.BreakerOpen,
	})
	a.HTTP.MountLinks(a.Sync)
	if a.Embedded() && (c.SeedTickets > 0 || c.SeedMockAPIURL != "") {
		rep, err := a.Seed(ctx, institutions.SeedOptions{Tickets: c.SeedTickets, MockAPIURL: c.SeedMockAPIURL, PollInterval: c.SeedPollInterval})
		if err != nil {
			return err
		}
		a.log.InfoContext(ctx, "seeded", "institutions", rep.Created, "linked", rep.Linked, "tickets", rep.Tickets)
	}
	return nil
}

// startSync starts polling the links.
func (a *App) startSync(ctx context.Context) {
	a.workers.Add(1)
	go func() {
		defer a.workers.Done()
		a.Sync.Run(ctx)
	}()
}

// Seed creates the demo institutions that are missing, imports and links
// those of a mockapi directory, and tops up waiting tickets.
func (a *App) Seed(ctx context.Context, opt institutions.SeedOptions) (institutions.SeedReport, error) {
	rep, err := institutions.Seed(ctx, a.Queue, a.Sync, opt)
	if err != nil {
		return rep, fmt.Errorf("seed: %w", err)
	}
	return rep, nil
}

// intVar reads an integer from lo to hi into the field.
func intVar(field func(*Config) *int, lo, hi int) func(*Config, string) error {
	return func(c *Config, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil || n < lo || n > hi {
			return fmt.Errorf("must be an integer from %d to %d", lo, hi)
		}
		*field(c) = n
		return nil
	}
}

func mockAPIURLVar(c *Config, v string) error {
	if v == "" {
		c.Sync.SeedMockAPIURL = ""
		return nil
	}
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return errors.New("must be an http or https URL, like http://localhost:9090")
	}
	c.Sync.SeedMockAPIURL = v
	return nil
}
