package hub

import "github.com/prometheus/client_golang/prometheus"

// metrics are the hub's Prometheus collectors.
type metrics struct {
	clients *prometheus.GaugeVec   // by stream
	frames  *prometheus.CounterVec // by stream
	slow    prometheus.Counter
	lag     prometheus.Histogram
	resyncs *prometheus.CounterVec // by reason
	stale   prometheus.Counter
	refused *prometheus.CounterVec // by reason
	limit   prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		clients: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "queueless_live_clients",
			Help: "Connected WebSocket clients by stream (institution, ticket).",
		}, []string{"stream"}),
		frames: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "queueless_live_frames_sent_total",
			Help: "WebSocket frames written, by stream.",
		}, []string{"stream"}),
		slow: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "queueless_live_slow_disconnects_total",
			Help: "Clients disconnected because they could not keep up (buffer overflow, write timeout or no pong).",
		}),
		lag: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "queueless_live_delivery_lag_seconds",
			Help:    "Time from an event's publication (after commit) to its frame being written to a client.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}),
		resyncs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "queueless_live_resyncs_total",
			Help: "Reloads of an institution's live state from the store, by reason (reconnect, gap, check, retry).",
		}, []string{"reason"}),
		stale: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "queueless_live_stale_events_total",
			Help: "Events dropped because the live state was already newer.",
		}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "queueless_live_refused_total",
			Help: "Live connections refused before the upgrade, by reason (per_address: WS_MAX_PER_IP, instance_cap: WS_MAX_CONNS).",
		}, []string{"reason"}),
		limit: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "queueless_live_connections_limit",
			Help: "Most live connections this instance holds (WS_MAX_CONNS); 0: no cap. Compare with the sum of queueless_live_clients.",
		}),
	}
	if reg == nil {
		return m, nil
	}
	return m, registerAll(reg, m.clients, m.frames, m.slow, m.lag, m.resyncs, m.stale, m.refused, m.limit)
}
