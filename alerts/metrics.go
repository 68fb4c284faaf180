package alerts

import (
	"context"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// OpenGaugeName is the gauge of open alerts by kind and level.
const OpenGaugeName = "queueless_alerts_open"

// Collector exports the open alerts of a Store as the gauge
// queueless_alerts_open{kind, level}, read from the store at each scrape:
// every instance reports the same figures, whichever one evaluates, and no
// figure outlives a change of leader. Every kind and level is reported,
// zeros included, so that alerting rules never see a series vanish.
type Collector struct {
	store   Store
	timeout time.Duration
	log     *slog.Logger
	desc    *prometheus.Desc
}

// NewCollector returns a Collector over store whose queries give up after
// timeout; failures are logged to log (when not nil) and the scrape then
// carries no queueless_alerts_open series.
func NewCollector(store Store, timeout time.Duration, log *slog.Logger) *Collector {
	return &Collector{store: store, timeout: timeout, log: log,
		desc: prometheus.NewDesc(OpenGaugeName, "Open alerts by kind and level.", []string{"kind", "level"}, nil)}
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

// Collect implements prometheus.Collector.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	counts, err := c.store.CountOpen(ctx)
	if err != nil {
		if c.log != nil {
			c.log.Warn("count open alerts for /metrics", "error", err.Error())
		}
		return
	}
	for _, k := range Kinds {
		for _, l := range Levels {
			ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(counts[k][l]), string(k), string(l))
		}
	}
}
