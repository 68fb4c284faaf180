package httpapi

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"log/slog"
	"math"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/ulule/limiter/v3"
	"golang.org/x/time/rate"

	"github.com/queueless/queueless/queue"
)

// ThrottleConfig configures a JoinThrottle.
type ThrottleConfig struct {
	// Store counts joins: the limiter's Redis store, shared by every
	// instance, or its memory store.
	Store limiter.Store
	// AnyRate limits joins per client address whatever the institution,
	// AddressRate per client address per institution, PhoneRate per phone
	// number; a zero Limit turns one off.
	AnyRate, AddressRate, PhoneRate limiter.Rate
	// Exists reports whether an institution exists (nil) or not (a
	// not_found error). Only joins to institutions that exist are counted
	// per institution or per phone. Institutions are never deleted, so a
	// yes is remembered. Nil: not checked.
	Exists func(ctx context.Context, id int64) error
	// StoreTimeout bounds one call to Store; default 1s.
	StoreTimeout time.Duration
	// ProbeInterval is how often, while Store fails, one join tries it
	// again; default 1s.
	ProbeInterval time.Duration
	Logger        *slog.Logger
	// Registerer takes the throttle's metrics; none when nil.
	Registerer prometheus.Registerer
}

// JoinThrottle limits joins per client address (across institutions, and
// per institution) and per phone number, answering 429 rate_limited with
// Retry-After and the X-RateLimit-* headers.
//
// What it counts is chosen so that nobody can spend another's allowance
// and keys stay bounded: the address limit across institutions counts
// every join (a made-up institution id costs a try too, and needs no key
// of its own); the per-institution limit counts only joins to institutions
// that exist; the phone limit counts only joins that are really tried,
// after admission control and with a body the join would accept. Ten
// joins with someone's number to institutions that do not exist lock
// nobody out.
//
// It never fails a join because its store does: when the store (Redis)
// errs or is slow, each instance limits on its own with a token bucket of
// the same rate (golang.org/x/time/rate) and says so once in the log and in
// the queueless_join_limiter_degraded gauge. During such an outage a
// deployment of n instances lets up to n times the limit through. While
// degraded, one join per ProbeInterval also tries the store again, in the
// background: no join waits on a Redis that does not answer (only those in
// flight when it stops, up to StoreTimeout), and the shared counts take
// over again as soon as it does.
type JoinThrottle struct {
	cfg         ThrottleConfig
	log         *slog.Logger
	any         *throttleRule // nil when off
	address     *throttleRule // nil when off
	phone       *throttleRule // nil when off
	degraded    atomic.Bool
	nextProbe   atomic.Int64 // unix nanoseconds
	degradedG   prometheus.Gauge
	storeErrors prometheus.Counter
	throttled   *prometheus.CounterVec

	known     sync.Map // int64 -> struct{}: institutions seen to exist
	knownSize atomic.Int64
}

// maxKnown bounds the institutions remembered to exist.
const maxKnown = 100_000

// throttleRule is one limit with its local stand-in.
type throttleRule struct {
	name  string // address, phone: the metric label
	rate  limiter.Rate
	local *localLimiter
}

// NewJoinThrottle returns a throttle; its metrics are registered now.
func NewJoinThrottle(cfg ThrottleConfig) *JoinThrottle {
	if cfg.StoreTimeout <= 0 {
		cfg.StoreTimeout = time.Second
	}
	if cfg.ProbeInterval <= 0 {
		cfg.ProbeInterval = time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	t := &JoinThrottle{cfg: cfg, log: cfg.Logger}
	if cfg.AnyRate.Limit > 0 {
		t.any = &throttleRule{name: "address_any", rate: cfg.AnyRate, local: newLocalLimiter(cfg.AnyRate)}
	}
	if cfg.AddressRate.Limit > 0 {
		t.address = &throttleRule{name: "address", rate: cfg.AddressRate, local: newLocalLimiter(cfg.AddressRate)}
	}
	if cfg.PhoneRate.Limit > 0 {
		t.phone = &throttleRule{name: "phone", rate: cfg.PhoneRate, local: newLocalLimiter(cfg.PhoneRate)}
	}
	t.degradedG = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "queueless_join_limiter_degraded",
		Help: "1 while the shared join limiter (Redis) fails and this instance limits joins on its own.",
	})
	t.storeErrors = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "queueless_join_limiter_store_errors_total",
		Help: "Calls to the shared join limiter that failed or timed out.",
	})
	t.throttled = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "queueless_join_throttled_total",
		Help: "Joins refused with 429, by the limit that refused them (address_any, address, phone).",
	}, []string{"limit"})
	if cfg.Registerer != nil {
		cfg.Registerer.MustRegister(t.degradedG, t.storeErrors, t.throttled)
	}
	return t
}

// Middleware throttles the join route by client address: across
// institutions first, then, for an institution that exists, per
// institution. It goes before admission control; PhoneMiddleware after it.
func (t *JoinThrottle) Middleware(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		ctx := c.Request().Context()
		id, err := pathID(c, "id")
		if err != nil {
			return err // the handler would refuse it the same way
		}
		addr := addressKey(c.RealIP())
		if handled, err := t.checkAddressPair(c, id, addr); handled {
			if err != nil {
				return err
			}
			return next(c)
		}
		if t.any != nil {
			v := t.check(ctx, t.any, "join:any:"+addr)
			if v.reached {
				return t.refuse(c, t.any, v, "Too many joins from your network")
			}
			t.show(c, v)
		}
		if err := t.exists(ctx, id); err != nil {
			return err
		}
		if t.address != nil {
			v := t.check(ctx, t.address, addressRuleKey(id, addr))
			if v.reached {
				return t.refuse(c, t.address, v, "Too many joins from your network for this institution")
			}
			t.show(c, v)
		}
		return next(c)
	}
}

// PhoneMiddleware throttles the join route by the phone number in the
// body, for joins that are about to be tried: it goes last, after
// admission control.
func (t *JoinThrottle) PhoneMiddleware(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if t.phone == nil {
			return next(c)
		}
		phone, err := peekPhone(c)
		if err != nil {
			return err
		}
		if phone != "" {
			v := t.check(c.Request().Context(), t.phone, "join:phone:"+phoneKey(phone))
			if v.reached {
				return t.refuse(c, t.phone, v, "Too many joins with this phone number")
			}
			t.show(c, v)
		}
		return next(c)
	}
}

// shownKey holds the verdict the X-RateLimit-* headers describe: the one
// with the fewest joins left.
const shownKey = "queueless.ratelimit"

func (t *JoinThrottle) show(c echo.Context, v verdict) {
	if old, ok := c.Get(shownKey).(verdict); ok && old.remaining <= v.remaining {
		return
	}
	c.Set(shownKey, v)
	v.setHeaders(c.Response().Header())
}

// exists checks institution id exists, once per institution. Only a
// not_found answer refuses the join: when the store cannot say (it is
// slow or away), the join is counted and goes on, and fails there if the
// store is still away.
func (t *JoinThrottle) exists(ctx context.Context, id int64) error {
	if t.cfg.Exists == nil {
		return nil
	}
	if _, ok := t.known.Load(id); ok {
		return nil
	}
	if err := t.cfg.Exists(ctx, id); queue.IsNotFound(err) {
		return err
	} else if err != nil {
		return nil
	}
	if t.knownSize.Load() < maxKnown {
		if _, loaded := t.known.LoadOrStore(id, struct{}{}); !loaded {
			t.knownSize.Add(1)
		}
	}
	return nil
}

func (t *JoinThrottle) refuse(c echo.Context, r *throttleRule, v verdict, what string) error {
	t.throttled.WithLabelValues(r.name).Inc()
	h := c.Response().Header()
	v.setHeaders(h)
	secs := int64(math.Ceil(v.retryAfter.Seconds()))
	secs = max(secs, 1)
	h.Set("Retry-After", strconv.FormatInt(secs, 10))
	return queue.Errorf(queue.CodeRateLimited, "%s; try again in %d seconds.", what, secs)
}

// verdict is one limit's answer to one join.
type verdict struct {
	limit, remaining int64
	reset            time.Time     // when the count starts again
	reached          bool          // the join is refused
	retryAfter       time.Duration // when reached: how long until one more is allowed
}

// setHeaders writes the X-RateLimit-* headers; X-RateLimit-Reset is in Unix
// seconds, as the limiter and GitHub give it.
func (v verdict) setHeaders(h http.Header) {
	h.Set("X-RateLimit-Limit", strconv.FormatInt(v.limit, 10))
	h.Set("X-RateLimit-Remaining", strconv.FormatInt(v.remaining, 10))
	h.Set("X-RateLimit-Reset", strconv.FormatInt(v.reset.Unix(), 10))
}

// check counts one join under rule r, in the store or, while it fails,
// locally.
func (t *JoinThrottle) check(ctx context.Context, r *throttleRule, key string) verdict {
	now := time.Now()
	if !t.degraded.Load() {
		lc, err := t.ask(ctx, r, key)
		if err == nil {
			return storeVerdict(lc, now)
		}
		if ctx.Err() == nil { // the client giving up is no fault of the store
			t.storeFailed(time.Now(), err)
		}
	} else if t.probeDue(now) {
		// A store that fails often does so by timing out: the probe runs
		// beside the join, which the local limiter answers at once.
		go t.probe(context.WithoutCancel(ctx), r, key)
	}
	return r.local.allow(key, now)
}

// ask counts one join in the store, within the store timeout.
func (t *JoinThrottle) ask(ctx context.Context, r *throttleRule, key string) (limiter.Context, error) {
	ctx, cancel := context.WithTimeout(ctx, t.cfg.StoreTimeout)
	defer cancel()
	return t.cfg.Store.Get(ctx, key, r.rate)
}

// probeDue reports whether it is time to try the failing store again, for
// one caller per probe interval.
func (t *JoinThrottle) probeDue(now time.Time) bool {
	next := t.nextProbe.Load()
	return now.UnixNano() >= next && t.nextProbe.CompareAndSwap(next, now.Add(t.cfg.ProbeInterval).UnixNano())
}

// probe tries the store with a join the local limiter has also counted;
// counting it twice errs on the safe side.
func (t *JoinThrottle) probe(ctx context.Context, r *throttleRule, key string) {
	if _, err := t.ask(ctx, r, key); err != nil {
		t.storeFailed(time.Now(), err)
		return
	}
	t.storeAnswered()
}

func (t *JoinThrottle) storeFailed(now time.Time, err error) {
	t.storeErrors.Inc()
	t.nextProbe.Store(now.Add(t.cfg.ProbeInterval).UnixNano())
	if t.degraded.CompareAndSwap(false, true) {
		t.degradedG.Set(1)
		t.log.Warn("join throttle: the shared limiter fails; limiting joins on this instance alone until it answers",
			"error", err.Error())
	}
}

func (t *JoinThrottle) storeAnswered() {
	if t.degraded.CompareAndSwap(true, false) {
		t.degradedG.Set(0)
		t.log.Info("join throttle: the shared limiter answers again; limits are shared by every instance")
	}
}

// storeVerdict reads the limiter's answer. It counts in fixed windows that
// start at a key's first join: one more is allowed when the window ends.
func storeVerdict(lc limiter.Context, now time.Time) verdict {
	v := verdict{limit: lc.Limit, remaining: lc.Remaining, reset: time.Unix(lc.Reset, 0), reached: lc.Reached}
	if v.reached {
		v.retryAfter = max(v.reset.Sub(now), time.Second)
	}
	return v
}

// addressKey is the part of a client address that identifies a client: an
// IPv4 address, or the /64 of an IPv6 one, since a single host commonly has
// a whole /64 to pick addresses from.
func addressKey(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return ip
	}
	a = a.Unmap()
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p.String()
	}
	return a.String()
}

// phoneKey keeps phone numbers out of Redis keys: a hash, not a secret (the
// numbers are few enough to enumerate), but nothing a glance at a dump or a
// MONITOR shows.
func phoneKey(phone string) string {
	h := sha256.Sum256([]byte("queueless-phone:" + phone))
	return hex.EncodeToString(h[:16])
}

// peekPhone reads the join body for its phone number; the handler decodes
// the same bytes. A join the handler would refuse (its body, its
// threshold, its phone number, its Idempotency-Key) is refused here with
// the same error, before its phone number is counted.
func peekPhone(c echo.Context) (string, error) {
	req, err := joinRequest(c)
	if err != nil {
		return "", err
	}
	if req.Phone == nil {
		return "", nil
	}
	return *req.Phone, nil
}

// localLimiter is a rule's stand-in while the store fails: a token bucket
// per key, holding rate.Limit joins and refilled over rate.Period.
type localLimiter struct {
	rate  limiter.Rate
	every time.Duration // one token per every

	mu        sync.Mutex
	buckets   map[string]*localBucket
	nextSweep time.Time
}

type localBucket struct {
	lim  *rate.Limiter
	last time.Time
}

func newLocalLimiter(r limiter.Rate) *localLimiter {
	return &localLimiter{rate: r, every: r.Period / time.Duration(r.Limit), buckets: map[string]*localBucket{}}
}

func (l *localLimiter) allow(key string, now time.Time) verdict {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.sweep(now)
	b := l.buckets[key]
	if b == nil {
		burst := int(min(l.rate.Limit, math.MaxInt32))
		b = &localBucket{lim: rate.NewLimiter(rate.Every(l.every), burst)}
		l.buckets[key] = b
	}
	b.last = now
	ok := b.lim.AllowN(now, 1)
	tokens := b.lim.TokensAt(now)
	v := verdict{
		limit:     l.rate.Limit,
		remaining: max(int64(tokens), 0),
		reset:     now.Add(time.Duration((float64(l.rate.Limit) - tokens) * float64(l.every))),
		reached:   !ok,
	}
	if !ok {
		v.retryAfter = time.Duration((1 - tokens) * float64(l.every))
	}
	return v
}

// sweep forgets, at most once a minute, the buckets idle for a whole
// period: they are full again, as a new one would be.
func (l *localLimiter) sweep(now time.Time) {
	if now.Before(l.nextSweep) {
		return
	}
	l.nextSweep = now.Add(min(l.rate.Period, time.Minute))
	for k, b := range l.buckets {
		if now.Sub(b.last) >= l.rate.Period {
			delete(l.buckets, k)
		}
	}
}
