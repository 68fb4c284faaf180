package institutions

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/queueless/queueless/queue"
)

// SyncConfig wires a Syncer; zero durations take the defaults in brackets.
type SyncConfig struct {
	Queue *queue.Service
	Links queue.LinkStore
	// Owner names this instance in poll leases; unique per process.
	Owner string
	// Client reads outside queues; a client of its own when nil. Each poll
	// is bounded by Timeout through its context, not by Client.Timeout.
	Client     *http.Client
	Logger     *slog.Logger
	Registerer prometheus.Registerer
	// Tick is how often the links are listed, new ones picked up and
	// leases tried [1s].
	Tick time.Duration
	// LeaseTTL is how long a poll lease lasts without renewal [15s]; the
	// holder renews it at every poll and every third of it in between.
	LeaseTTL time.Duration
	// Timeout bounds one poll: request, body and the sync it leads to [5s].
	Timeout time.Duration
	// BackoffMax caps the wait between failed polls [60s].
	BackoffMax time.Duration
	// BreakerFailures is how many consecutive failures open a link's
	// circuit breaker [5]; BreakerOpen how long it stays open [30s].
	BreakerFailures int
	BreakerOpen     time.Duration
	// Now is the clock of link status; time.Now when nil.
	Now func() time.Time
}

func (c *SyncConfig) defaults() {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&c.Tick, time.Second)
	def(&c.LeaseTTL, 15*time.Second)
	def(&c.Timeout, 5*time.Second)
	def(&c.BackoffMax, time.Minute)
	def(&c.BreakerOpen, 30*time.Second)
	if c.BreakerFailures <= 0 {
		c.BreakerFailures = 5
	}
	// A poll must end before its lease does (see worker.run).
	c.LeaseTTL = max(c.LeaseTTL, 2*c.Timeout)
	if c.Client == nil {
		c.Client = &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Owner == "" {
		c.Owner = newSecret("inst_")
	}
}

// Syncer keeps institutions in step with their own queue systems: it polls
// the links in poll mode (each by one instance at a time, under a lease),
// checks and applies pushes, and manages the links themselves.
type Syncer struct {
	cfg     SyncConfig
	q       *queue.Service
	links   queue.LinkStore
	log     *slog.Logger
	metrics *syncMetrics
}

// NewSyncer returns a Syncer; Run starts its polling.
func NewSyncer(cfg SyncConfig) *Syncer {
	cfg.defaults()
	return &Syncer{cfg: cfg, q: cfg.Queue, links: cfg.Links, log: cfg.Logger, metrics: newSyncMetrics(cfg.Registerer)}
}

// Owner is the name this instance takes leases under.
func (s *Syncer) Owner() string { return s.cfg.Owner }

// LinkSpec is an admin's request for a link.
type LinkSpec struct {
	Mode queue.LinkMode
	// URL is the outside queue's address (poll mode).
	URL string
	// PollInterval is the time between polls [5s]; StaleAfter how long
	// without news makes a link stale [poll: max(30s, 3 polls); push: 10m].
	PollInterval time.Duration
	StaleAfter   time.Duration
}

// Bounds of a link's durations.
const (
	MinPollInterval = 100 * time.Millisecond
	MaxPollInterval = time.Hour
	MinStaleAfter   = time.Second
	MaxStaleAfter   = 24 * time.Hour
)

// Validate checks a spec and fills in its defaults.
func (sp *LinkSpec) Validate() error {
	switch sp.Mode {
	case queue.LinkPoll:
		if sp.PollInterval == 0 {
			sp.PollInterval = 5 * time.Second
		}
		if sp.PollInterval < MinPollInterval || sp.PollInterval > MaxPollInterval {
			return queue.Errorf(queue.CodeInvalid, "poll_interval_seconds must be from %g to %g", MinPollInterval.Seconds(), MaxPollInterval.Seconds())
		}
		u, err := url.Parse(sp.URL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || len(sp.URL) > 2000 {
			return queue.Errorf(queue.CodeInvalid, "url must be an absolute http or https URL of at most 2000 characters")
		}
		if sp.StaleAfter == 0 {
			sp.StaleAfter = max(30*time.Second, 3*sp.PollInterval)
		}
	case queue.LinkPush:
		if sp.URL != "" || sp.PollInterval != 0 {
			return queue.Errorf(queue.CodeInvalid, "a push link takes no url or poll_interval_seconds")
		}
		if sp.StaleAfter == 0 {
			sp.StaleAfter = 10 * time.Minute
		}
	default:
		return queue.Errorf(queue.CodeInvalid, "mode must be poll or push")
	}
	if sp.StaleAfter < MinStaleAfter || sp.StaleAfter > MaxStaleAfter {
		return queue.Errorf(queue.CodeInvalid, "stale_after_seconds must be from %g to %g", MinStaleAfter.Seconds(), MaxStaleAfter.Seconds())
	}
	return nil
}

// LinkView is a link as the API shows it: never its secret, except in the
// answer to the request that made it.
type LinkView struct {
	InstitutionID       int64          `json:"institution_id"`
	Mode                queue.LinkMode `json:"mode"`
	URL                 *string        `json:"url"`
	PushPath            *string        `json:"push_path"`
	PollIntervalSeconds *float64       `json:"poll_interval_seconds"`
	StaleAfterSeconds   float64        `json:"stale_after_seconds"`
	Stale               bool           `json:"stale"`
	Breaker             *string        `json:"breaker"`
	ConsecutiveFailures int            `json:"consecutive_failures"`
	LastError           *string        `json:"last_error"`
	LastSuccessAt       *time.Time     `json:"last_success_at"`
	LastAttemptAt       *time.Time     `json:"last_attempt_at"`
	Outside             *OutsideView   `json:"outside"`
	Secret              string         `json:"secret,omitempty"`
	CreatedAt           time.Time      `json:"created_at"`
	UpdatedAt           time.Time      `json:"updated_at"`
}

// OutsideView is the outside queue as last read or pushed.
type OutsideView struct {
	NowServing int64        `json:"now_serving"`
	LastIssued int64        `json:"last_issued"`
	Counters   []queue.Call `json:"counters"`
	UpdatedAt  *time.Time   `json:"updated_at"`
}

// PushPath is where the outside system of institution id posts its queue.
func PushPath(id int64) string {
	return "/api/v1/institutions/" + fmtInt(id) + "/link/push"
}

func fmtInt(n int64) string { return strconv.FormatInt(n, 10) }

// stale reports whether l has gone without news for longer than it may:
// the recorded flag (set by the poller, which also knows its breaker) or,
// whoever looks, the time since the last success.
func stale(l queue.Link, now time.Time) bool {
	since := l.CreatedAt
	if l.LastSuccessAt != nil {
		since = *l.LastSuccessAt
	}
	return l.Stale || now.Sub(since) > l.StaleAfter
}

func (s *Syncer) view(l queue.Link) LinkView {
	v := LinkView{InstitutionID: l.InstitutionID, Mode: l.Mode, StaleAfterSeconds: l.StaleAfter.Seconds(),
		Stale: stale(l, s.cfg.Now()), ConsecutiveFailures: l.ConsecutiveFailures,
		LastSuccessAt: l.LastSuccessAt, LastAttemptAt: l.LastAttemptAt, CreatedAt: l.CreatedAt, UpdatedAt: l.UpdatedAt}
	if l.Mode == queue.LinkPoll {
		u, secs, br := redactURL(l.URL), l.PollInterval.Seconds(), l.Breaker
		v.URL, v.PollIntervalSeconds, v.Breaker = &u, &secs, &br
	} else {
		p := PushPath(l.InstitutionID)
		v.PushPath = &p
	}
	if l.LastError != "" {
		e := l.LastError
		v.LastError = &e
	}
	if o := l.Outside; o != nil {
		calls := o.Calls
		if calls == nil {
			calls = []queue.Call{}
		}
		v.Outside = &OutsideView{NowServing: o.NowServing, LastIssued: o.LastIssued, Counters: calls, UpdatedAt: o.UpdatedAt}
	}
	return v
}

// redactURL drops what may be a credential (user info, query) from a URL
// shown to staff.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	u.User = nil
	if u.RawQuery != "" {
		u.RawQuery = "…"
	}
	return u.String()
}

// PutLink creates or replaces the link of institution id.
func (s *Syncer) PutLink(ctx context.Context, id int64, spec LinkSpec, meta queue.Meta) (LinkView, error) {
	if err := spec.Validate(); err != nil {
		return LinkView{}, err
	}
	if _, err := s.q.Institution(ctx, id); err != nil {
		return LinkView{}, err
	}
	l := queue.Link{InstitutionID: id, Mode: spec.Mode, URL: spec.URL, PollInterval: spec.PollInterval, StaleAfter: spec.StaleAfter}
	if spec.Mode == queue.LinkPush {
		l.Secret = newSecret("qls_")
	}
	l, err := s.links.PutLink(ctx, l)
	if err != nil {
		return LinkView{}, err
	}
	data, _ := json.Marshal(map[string]any{"mode": l.Mode, "url": redactURL(l.URL),
		"poll_interval_seconds": l.PollInterval.Seconds(), "stale_after_seconds": l.StaleAfter.Seconds()})
	if err := s.q.AuditLink(ctx, id, queue.AuditLinkSet, data, meta); err != nil {
		s.log.WarnContext(ctx, "audit link change", "institution_id", id, "error", err.Error())
	}
	v := s.view(l)
	v.Secret = l.Secret
	return v, nil
}

// Link returns the link of institution id.
func (s *Syncer) Link(ctx context.Context, id int64) (LinkView, error) {
	l, err := s.links.Link(ctx, id)
	if err != nil {
		return LinkView{}, err
	}
	return s.view(l), nil
}

// Links lists every link.
func (s *Syncer) Links(ctx context.Context) ([]LinkView, error) {
	list, err := s.links.Links(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]LinkView, len(list))
	for i, l := range list {
		out[i] = s.view(l)
	}
	return out, nil
}

// DeleteLink removes the link of institution id; its poller stops at the
// next tick.
func (s *Syncer) DeleteLink(ctx context.Context, id int64, meta queue.Meta) error {
	if err := s.links.DeleteLink(ctx, id); err != nil {
		return err
	}
	if err := s.q.AuditLink(ctx, id, queue.AuditLinkDeleted, nil, meta); err != nil {
		s.log.WarnContext(ctx, "audit link change", "institution_id", id, "error", err.Error())
	}
	return nil
}

// newSecret returns prefix and 32 random bytes, URL-safe base64.
func newSecret(prefix string) string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return prefix + base64.RawURLEncoding.EncodeToString(b)
}

// syncMetrics are the links' Prometheus metrics.
type syncMetrics struct {
	polls       *prometheus.CounterVec
	pushes      *prometheus.CounterVec
	applied     *prometheus.CounterVec
	stale       *prometheus.GaugeVec
	breaker     *prometheus.GaugeVec
	lastSuccess *prometheus.GaugeVec
}

func newSyncMetrics(reg prometheus.Registerer) *syncMetrics {
	m := &syncMetrics{
		polls: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "queueless_link_polls_total",
			Help: "Polls of outside queues by this instance, by result (ok, error, breaker_open, invalid)."}, []string{"result"}),
		pushes: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "queueless_link_pushes_total",
			Help: "Pushes from outside queues, by result (applied, unchanged, bad_signature, invalid, error)."}, []string{"result"}),
		applied: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "queueless_link_numbers_total",
			Help: "Numbers taken from outside queues, by what happened to them (issued, called)."}, []string{"kind"}),
		stale: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "queueless_link_stale",
			Help: "1 while an institution's link has gone without news for longer than its stale_after."}, []string{"institution_id"}),
		breaker: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "queueless_link_breaker_state",
			Help: "Circuit breaker of a polled link, as this instance last saw it: 0 closed, 1 half-open, 2 open."}, []string{"institution_id"}),
		lastSuccess: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "queueless_link_last_success_timestamp_seconds",
			Help: "When an institution's link last brought news, in Unix seconds."}, []string{"institution_id"}),
	}
	if reg != nil {
		reg.MustRegister(m.polls, m.pushes, m.applied, m.stale, m.breaker, m.lastSuccess)
	}
	return m
}

func breakerValue(state string) float64 {
	switch state {
	case queue.BreakerHalfOpen:
		return 1
	case queue.BreakerOpen:
		return 2
	}
	return 0
}

// report sets the gauges of every link and drops those of links gone.
func (m *syncMetrics) report(list []queue.Link, now time.Time, known map[string]bool) map[string]bool {
	seen := map[string]bool{}
	for _, l := range list {
		id := fmtInt(l.InstitutionID)
		seen[id] = true
		v := 0.0
		if stale(l, now) {
			v = 1
		}
		m.stale.WithLabelValues(id).Set(v)
		if l.LastSuccessAt != nil {
			m.lastSuccess.WithLabelValues(id).Set(float64(l.LastSuccessAt.UnixMilli()) / 1000)
		}
		if l.Mode == queue.LinkPoll {
			m.breaker.WithLabelValues(id).Set(breakerValue(l.Breaker))
		}
	}
	for id := range known {
		if !seen[id] {
			m.stale.DeleteLabelValues(id)
			m.breaker.DeleteLabelValues(id)
			m.lastSuccess.DeleteLabelValues(id)
		}
	}
	return seen
}

// jitter returns a duration from d/2 to d: waits of pollers that failed
// together spread out.
func jitter(d time.Duration, r float64) time.Duration {
	return d/2 + time.Duration(float64(d/2)*r)
}

// backoff is the wait after failures consecutive failures: the poll
// interval doubled each time, capped.
func backoff(interval, ceiling time.Duration, failures int) time.Duration {
	if failures <= 0 {
		return interval
	}
	d := float64(interval) * math.Pow(2, float64(min(failures, 30)-1))
	return time.Duration(min(d, float64(ceiling)))
}
