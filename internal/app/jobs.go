package app

import (
	"context"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/queueless/queueless/jobs"
	"github.com/queueless/queueless/queue"
	"github.com/queueless/queueless/webhooks"
)

// JobsConfig tunes durable jobs and webhook deliveries.
type JobsConfig struct {
	Workers          int
	RescueAfter      time.Duration
	WebhookTimeout   time.Duration
	WebhookAttempts  int
	WebhookRetryBase time.Duration
	FetchCooldown    time.Duration
	YieldMax         time.Duration
	YieldJoins       int
}

func init() {
	envVars = append(envVars,
		envVar{"JOBS_WORKERS", "10", "durable jobs (webhook deliveries, texts, pushes) one instance works at once per queue (0..1000; 0: this instance only enqueues, others deliver)", intVar(func(c *Config) *int { return &c.Jobs.Workers }, 0, 1000)},
		envVar{"JOBS_RESCUE_AFTER", "2m", "how long a job may run before River's leader hands it to another worker, e.g. after its instance died (1s..24h; more than WEBHOOK_TIMEOUT + 5s + JOBS_YIELD_MAX)", durationVar(func(c *Config) *time.Duration { return &c.Jobs.RescueAfter }, time.Second, 24*time.Hour)},
		envVar{"JOBS_FETCH_COOLDOWN", "20ms", "least time between two fetches of the deliveries queue (texts, pushes, webhooks) while it has a backlog (1ms..1s): one instance works at most JOBS_WORKERS deliveries per cooldown, which bounds how fast a backlog of texts drains after a crowd (River's default, 100ms, is 100 a second with 10 workers)", durationVar(func(c *Config) *time.Duration { return &c.Jobs.FetchCooldown }, time.Millisecond, time.Second)},
		envVar{"JOBS_YIELD_MAX", "30s", "during a crowd, deliveries (texts, pushes, webhooks) wait while this instance has JOBS_YIELD_JOINS joins in flight, so that joins come first; a delivery is never held more than this after it became due (0..5m; 0: never held)", durationVar(func(c *Config) *time.Duration { return &c.Jobs.YieldMax }, 0, 5*time.Minute)},
		envVar{"JOBS_YIELD_JOINS", "8", "joins in flight on one instance from which its deliveries wait (see JOBS_YIELD_MAX); they go on 1s after the joins in flight fall below it (1..100000)", intVar(func(c *Config) *int { return &c.Jobs.YieldJoins }, 1, 100000)},
		envVar{"WEBHOOK_TIMEOUT", "10s", "deadline of one webhook POST (100ms..1m); a receiver slower than this counts as failed and is retried", durationVar(func(c *Config) *time.Duration { return &c.Jobs.WebhookTimeout }, 100*time.Millisecond, time.Minute)},
		envVar{"WEBHOOK_MAX_ATTEMPTS", "10", "attempts of a webhook delivery before it is kept as failed (8..25)", intVar(func(c *Config) *int { return &c.Jobs.WebhookAttempts }, 8, 25)},
		envVar{"WEBHOOK_RETRY_BASE", "1m", "wait after a delivery's first failed attempt, doubling each time up to 6h, ±20% jitter (10ms..1h); with the default, 8 attempts span at least 101 minutes. Lower it only in tests", durationVar(func(c *Config) *time.Duration { return &c.Jobs.WebhookRetryBase }, 10*time.Millisecond, time.Hour)},
	)
}

// validateJobs checks what no single variable can.
func (c *Config) validateJobs() error {
	if c.Jobs.RescueAfter <= c.Jobs.WebhookTimeout+5*time.Second+c.Jobs.YieldMax {
		return fmt.Errorf("JOBS_RESCUE_AFTER (%s) must be more than WEBHOOK_TIMEOUT (%s) + 5s + JOBS_YIELD_MAX (%s), or a slow or held delivery would be sent twice at once", c.Jobs.RescueAfter, c.Jobs.WebhookTimeout, c.Jobs.YieldMax)
	}
	return nil
}

// setupJobs builds the webhooks and the River client of the mode (River
// over the same PostgreSQL pool, or over an in-memory SQLite database) and
// makes the store hand every change to the webhooks' outbox inside its
// transaction.
func (a *App) setupJobs(ctx context.Context, store queue.Store) error {
	if err := a.cfg.validateJobs(); err != nil {
		return err
	}
	c := a.cfg.Jobs
	var hooks webhooks.Store
	if a.pool != nil {
		hooks = webhooks.NewPostgresStore(a.pool)
	} else {
		hooks = webhooks.NewMemoryStore()
	}
	a.Webhooks = webhooks.NewService(hooks, webhooks.Config{
		Timeout: c.WebhookTimeout, MaxAttempts: c.WebhookAttempts, Logger: a.log,
		Backoff: jobs.Backoff{Base: c.WebhookRetryBase, Max: 6 * time.Hour, Jitter: 0.2},
	})
	reg := jobs.NewRegistry()
	a.Webhooks.RegisterWorker(reg)
	if err := a.setupNotify(ctx, reg); err != nil {
		return err
	}
	a.registerDay(reg)
	a.registerAlerts(reg, store)
	a.pressure = jobs.NewPressure(c.YieldJoins, jobs.DefaultQuiet)
	p := a.pressure
	a.Registry.MustRegister(
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "queueless_deliveries_held_total",
			Help: "Delivery jobs (texts, pushes, webhooks) that waited for this instance's joins in flight (JOBS_YIELD_JOINS, JOBS_YIELD_MAX)."},
			func() float64 { n, _ := p.Held(); return float64(n) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "queueless_deliveries_held_seconds_total",
			Help: "Seconds delivery jobs waited for this instance's joins in flight, in all."},
			func() float64 { _, d := p.Held(); return d.Seconds() }),
	)
	jc := jobs.Config{Workers: c.Workers, RescueAfter: c.RescueAfter, FetchCooldown: c.FetchCooldown,
		Pressure: a.pressure, YieldMax: c.YieldMax, Logger: a.log}
	var err error
	if a.pool != nil {
		a.Jobs, err = jobs.NewPostgres(a.pool, reg, jc)
	} else {
		a.Jobs, err = jobs.NewEmbedded(ctx, reg, jc)
	}
	if err != nil {
		return err
	}
	jobsClient := a.Jobs
	a.closers = append(a.closers, func(ctx context.Context) {
		if err := jobsClient.Close(ctx); err != nil {
			a.log.Warn("stop jobs", "error", err.Error())
		}
	})
	a.Webhooks.SetJobs(a.Jobs)
	a.Notify.SetJobs(a.Jobs)
	o, ok := store.(interface{ SetOutbox(queue.Outbox) })
	if !ok {
		return fmt.Errorf("store %T takes no outbox", store)
	}
	o.SetOutbox(queue.Outboxes{a.Webhooks, a.Notify})
	return nil
}

// mountJobs adds the webhook routes.
func (a *App) mountJobs() {
	a.HTTP.MountWebhooks(a.Webhooks)
	a.mountNotify()
}

// startJobs starts working jobs. River's own context is not the workers'
// one: cancelling it would cut running deliveries short, and Close stops
// River gracefully within the shutdown timeout instead.
func (a *App) startJobs(ctx context.Context) error {
	return a.Jobs.Start(context.WithoutCancel(ctx))
}
