package app

import (
	"time"

	"github.com/queueless/queueless/alerting"
	"github.com/queueless/queueless/alerts"
	"github.com/queueless/queueless/feedbackstore"
	"github.com/queueless/queueless/jobs"
	"github.com/queueless/queueless/queue"
)

// alertsScrapeTimeout bounds the query behind queueless_alerts_open at each
// scrape of /metrics.
const alertsScrapeTimeout = 2 * time.Second

// AlertsConfig tunes the alert evaluation.
type AlertsConfig struct {
	// Interval is how often River's leader evaluates every institution.
	Interval time.Duration
	// Now and Unit are test seams (no environment variable): the clock of
	// the evaluation and of the feedback rule (time.Now when nil), and the
	// length of a threshold "minute" (alerts.Thresholds.Unit; zero: a
	// minute).
	Now  func() time.Time
	Unit time.Duration
}

func init() {
	envVars = append(envVars,
		envVar{"ALERTS_INTERVAL", "10s", "how often alerts (queue_stalled, wait_sla) are evaluated, on one instance at a time (1s..15s)", durationVar(func(c *Config) *time.Duration { return &c.Alerts.Interval }, time.Second, alerting.MaxInterval)},
	)
}

// registerAlerts builds the alerts store (PostgreSQL, or memory in embedded
// mode), the evaluator and the feedback service, and adds the evaluation's
// periodic job to reg. Called while the jobs are set up, after the
// webhooks exist: each transition fires its webhooks.
func (a *App) registerAlerts(reg *jobs.Registry, store queue.Store) {
	var as alerts.Store
	if a.pool != nil {
		as = alerts.NewPostgresStore(a.pool)
	} else {
		as = alerts.NewMemoryStore()
	}
	a.Alerts = as
	a.AlertEvaluator = alerting.New(alerting.Config{Queue: store, Alerts: as, Hooks: a.Webhooks,
		Now: a.cfg.Alerts.Now, Unit: a.cfg.Alerts.Unit, Logger: a.log})
	alerting.Register(reg, a.AlertEvaluator, a.cfg.Alerts.Interval)
	a.Feedback = feedbackstore.New(store, a.pool, a.cfg.Alerts.Now)
}

// setupAlerts exports the open alerts as queueless_alerts_open.
func (a *App) setupAlerts() {
	a.Registry.MustRegister(alerts.NewCollector(a.Alerts, alertsScrapeTimeout, a.log))
}
