package jobs

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"
	"github.com/riverqueue/river/rivertype"
	_ "modernc.org/sqlite" // the pure-Go SQLite driver, registered as "sqlite"
)

// Queue names. Deliveries have their own queue so that a backlog of texts or
// webhooks never holds up scheduled work.
const (
	QueueDefault    = river.QueueDefault
	QueueDeliveries = "deliveries"
)

// Config tunes the jobs client.
type Config struct {
	// Workers per queue on this instance; 0 means insert only (the client
	// never works jobs, e.g. a migrate command).
	Workers int
	// RescueAfter is how long a job may run before River's leader takes it
	// back (an instance that died mid-job); longer than any job's timeout.
	RescueAfter time.Duration
	// JobTimeout bounds a job without a timeout of its own.
	JobTimeout time.Duration
	// PollInterval is how often idle workers look for new jobs. PostgreSQL
	// also wakes them with LISTEN/NOTIFY; SQLite only polls.
	PollInterval time.Duration
	// FetchCooldown is the least time between two fetches of the
	// deliveries queue while it has a backlog (River's FetchCooldown,
	// default 100 ms): a queue works at most Workers jobs per cooldown, 100
	// a second with River's default and 10 workers. Only that queue's: the
	// client's own cooldown also spaces the NOTIFY that inserts send
	// (River's insert notify limiter), which stays at River's default.
	// 0: the client's.
	FetchCooldown time.Duration
	// Pressure, when set with YieldMax > 0, makes the deliveries queue's
	// jobs wait while the request path is busy, up to YieldMax after they
	// became due (see yield).
	Pressure *Pressure
	YieldMax time.Duration
	Logger   *slog.Logger
}

// Registry collects, before the client is built, the workers and periodic
// jobs of every package: river.AddWorker(reg.Workers, w).
type Registry struct {
	Workers  *river.Workers
	Periodic []*river.PeriodicJob
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{Workers: river.NewWorkers()} }

// Client is River's client in either mode. Insert jobs through InsertManyTx
// (PostgreSQL, in the caller's transaction) or InsertMany (embedded, inside
// the memory store's critical section).
//
// The embedded client sets its SQLite database up in the background (River's
// migrations take a few seconds under the race detector): every method waits
// for it, and nothing asks for it before the first webhook exists.
type Client struct {
	pg      *river.Client[pgx.Tx]
	working bool
	log     *slog.Logger

	ready   chan struct{} // closed once lite, liteDB and initErr are set
	lite    *river.Client[*sql.Tx]
	liteDB  *sql.DB
	initErr error

	mu      sync.Mutex
	started bool // Start reached River
	stopped bool // Stop was called: a late Start does nothing
}

// wait blocks until the client is set up, or ctx ends.
func (c *Client) wait(ctx context.Context) error {
	select {
	case <-c.ready:
		return c.initErr
	case <-ctx.Done():
		return fmt.Errorf("jobs: waiting for the job database: %w", ctx.Err())
	}
}

func (cfg *Config) riverConfig(reg *Registry) *river.Config {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.RescueAfter <= 0 {
		cfg.RescueAfter = 2 * time.Minute
	}
	if cfg.JobTimeout <= 0 {
		// River refuses a job timeout above the rescue time: a job would
		// be rescued (and run twice) while it may still be running.
		cfg.JobTimeout = min(time.Minute, cfg.RescueAfter/2)
	}
	rc := &river.Config{
		Logger:               cfg.Logger.With("component", "jobs"),
		RescueStuckJobsAfter: cfg.RescueAfter,
		JobTimeout:           cfg.JobTimeout,
		FetchPollInterval:    cfg.PollInterval,
	}
	if cfg.PollInterval > 0 && cfg.PollInterval < 100*time.Millisecond {
		rc.FetchCooldown = cfg.PollInterval
	}
	if cfg.Pressure != nil && cfg.YieldMax > 0 {
		rc.Middleware = []rivertype.Middleware{newYield(cfg.Pressure, cfg.YieldMax)}
	}
	cooldown := cfg.FetchCooldown
	if cfg.PollInterval > 0 && cooldown > cfg.PollInterval {
		cooldown = cfg.PollInterval // River refuses a cooldown longer than the poll
	}
	if cfg.Workers > 0 && reg != nil {
		rc.Workers = reg.Workers
		rc.PeriodicJobs = reg.Periodic
		rc.Queues = map[string]river.QueueConfig{
			QueueDefault:    {MaxWorkers: cfg.Workers},
			QueueDeliveries: {MaxWorkers: cfg.Workers, FetchCooldown: cooldown},
		}
	}
	return rc
}

// NewPostgres returns the production client over pool, whose schema holds
// River's tables (../migrations applies them).
func NewPostgres(pool *pgxpool.Pool, reg *Registry, cfg Config) (*Client, error) {
	rc := cfg.riverConfig(reg)
	c, err := river.NewClient(riverpgxv5.New(pool), rc)
	if err != nil {
		return nil, fmt.Errorf("jobs: new client: %w", err)
	}
	ready := make(chan struct{})
	close(ready)
	return &Client{pg: c, working: rc.Workers != nil, log: rc.Logger, ready: ready}, nil
}

// NewEmbedded returns the embedded mode's client over a private in-memory
// SQLite database, migrated with River's own migrations in the background.
// The database lives as long as the client: Close drops it.
func NewEmbedded(ctx context.Context, reg *Registry, cfg Config) (*Client, error) {
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = 200 * time.Millisecond
	}
	rc := cfg.riverConfig(reg)
	c := &Client{working: rc.Workers != nil, log: rc.Logger, ready: make(chan struct{})}
	go func() {
		defer close(c.ready)
		c.lite, c.liteDB, c.initErr = openEmbedded(context.WithoutCancel(ctx), rc)
		if c.initErr != nil {
			c.log.Error("jobs: the embedded job database did not open", "error", c.initErr.Error())
		}
	}()
	return c, nil
}

func openEmbedded(ctx context.Context, rc *river.Config) (*river.Client[*sql.Tx], *sql.DB, error) {
	// One connection: SQLite allows one writer at a time, and each
	// connection to ":memory:" would be a database of its own. Never closed
	// while the client lives, or the database would vanish with it.
	db, err := sql.Open("sqlite", ":memory:")
	if err != nil {
		return nil, nil, fmt.Errorf("jobs: open sqlite: %w", err)
	}
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0)
	drv := riversqlite.New(db)
	m, err := rivermigrate.New(drv, nil)
	if err != nil {
		_ = db.Close()
		return nil, nil, fmt.Errorf("jobs: sqlite migrator: %w", err)
	}
	if _, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		_ = db.Close()
		return nil, nil, fmt.Errorf("jobs: migrate sqlite: %w", err)
	}
	c, err := river.NewClient(drv, rc)
	if err != nil {
		_ = db.Close()
		return nil, nil, fmt.Errorf("jobs: new client: %w", err)
	}
	return c, db, nil
}

// Embedded reports whether the client runs on SQLite.
func (c *Client) Embedded() bool { return c.pg == nil }

// Postgres returns River's PostgreSQL client (River UI), nil when embedded.
func (c *Client) Postgres() *river.Client[pgx.Tx] { return c.pg }

// InsertManyTx inserts jobs in tx, a transaction of the client's PostgreSQL
// pool: they commit or roll back with it.
func (c *Client) InsertManyTx(ctx context.Context, tx pgx.Tx, params []river.InsertManyParams) error {
	if c.pg == nil {
		return errors.New("jobs: InsertManyTx needs the PostgreSQL client")
	}
	if len(params) == 0 {
		return nil
	}
	_, err := c.pg.InsertManyTx(ctx, tx, params)
	return err
}

// InsertMany inserts jobs in a transaction of their own.
func (c *Client) InsertMany(ctx context.Context, params []river.InsertManyParams) error {
	if len(params) == 0 {
		return nil
	}
	if err := c.wait(ctx); err != nil {
		return err
	}
	var err error
	if c.pg != nil {
		_, err = c.pg.InsertMany(ctx, params)
	} else {
		_, err = c.lite.InsertMany(ctx, params)
	}
	return err
}

// InsertTx inserts one job in tx (PostgreSQL).
func (c *Client) InsertTx(ctx context.Context, tx pgx.Tx, args river.JobArgs, opts *river.InsertOpts) error {
	return c.InsertManyTx(ctx, tx, []river.InsertManyParams{{Args: args, InsertOpts: opts}})
}

// Job returns a job by id.
func (c *Client) Job(ctx context.Context, id int64) (*rivertype.JobRow, error) {
	if err := c.wait(ctx); err != nil {
		return nil, err
	}
	if c.pg != nil {
		return c.pg.JobGet(ctx, id)
	}
	return c.lite.JobGet(ctx, id)
}

// Start starts working jobs (a no-op for an insert-only client). The
// embedded client starts once its database is set up.
func (c *Client) Start(ctx context.Context) error {
	if !c.working {
		return nil
	}
	if c.pg != nil {
		return c.start(ctx)
	}
	go func() {
		if c.wait(ctx) == nil {
			if err := c.start(ctx); err != nil {
				c.log.Error("jobs did not start", "error", err.Error())
			}
		}
	}()
	return nil
}

func (c *Client) start(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopped {
		return nil
	}
	var err error
	if c.pg != nil {
		err = c.pg.Start(ctx)
	} else {
		err = c.lite.Start(ctx)
	}
	if err != nil {
		return fmt.Errorf("jobs: start: %w", err)
	}
	c.started = true
	return nil
}

// Stop stops fetching new jobs and waits for the running ones to finish;
// when ctx ends first it cancels them and waits for them to return, so that
// River's leader (here or on another instance) retries what was cut short.
// Safe to call on a client that never started.
func (c *Client) Stop(ctx context.Context) error {
	_ = c.wait(ctx)
	c.mu.Lock()
	c.stopped = true
	started := c.started
	c.mu.Unlock()
	if !started {
		return nil
	}
	var err error
	if c.pg != nil {
		err = c.pg.Stop(ctx)
	} else {
		err = c.lite.Stop(ctx)
	}
	if err != nil && ctx.Err() != nil {
		c.log.Warn("jobs did not finish in time; cancelling them", "error", err.Error())
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if c.pg != nil {
			err = c.pg.StopAndCancel(cctx)
		} else {
			err = c.lite.StopAndCancel(cctx)
		}
	}
	if err != nil && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("jobs: stop: %w", err)
	}
	return nil
}

// Close stops the client (see Stop) and drops the embedded database.
func (c *Client) Close(ctx context.Context) error {
	err := c.Stop(ctx)
	select {
	case <-c.ready:
		if c.liteDB != nil {
			err = errors.Join(err, c.liteDB.Close())
		}
	default: // still opening: the database goes with the process
	}
	return err
}
