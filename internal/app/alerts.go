package app

import (
	"time"

	"github.com/queueless/queueless/alerts"
)

// alertsScrapeTimeout bounds the query behind queueless_alerts_open at each
// scrape of /metrics.
const alertsScrapeTimeout = 2 * time.Second

// setupAlerts builds the alerts store (PostgreSQL, or memory in embedded
// mode) and exports its open alerts as queueless_alerts_open. The
// evaluation job, the endpoints and the webhooks come with the jobs
// integration (issue 14).
func (a *App) setupAlerts() {
	var store alerts.Store
	if a.pool != nil {
		store = alerts.NewPostgresStore(a.pool)
	} else {
		store = alerts.NewMemoryStore()
	}
	a.Alerts = store
	a.Registry.MustRegister(alerts.NewCollector(store, alertsScrapeTimeout, a.log))
}
