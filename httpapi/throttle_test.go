package httpapi_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/redis/go-redis/v9"
	"github.com/ulule/limiter/v3"

	"github.com/queueless/queueless/httpapi"
	"github.com/queueless/queueless/internal/app"
	"github.com/queueless/queueless/internal/testapp"
	"github.com/queueless/queueless/internal/testenv"
	"github.com/queueless/queueless/queue"
)

// eachModeWith is eachMode with options.
func eachModeWith(t *testing.T, opts []testapp.Option, fn func(t *testing.T, s *testapp.Server)) {
	for _, mode := range testapp.Modes {
		t.Run(string(mode), func(t *testing.T) {
			t.Parallel()
			fn(t, testapp.Start(t, mode, opts...))
		})
	}
}

func joinRate(rate string) testapp.Option {
	return func(c *app.Config) {
		r, err := limiter.NewRateFromFormatted(rate)
		if err != nil {
			panic(err)
		}
		c.JoinRate = r
	}
}

func phoneRate(rate string) testapp.Option {
	return func(c *app.Config) {
		r, err := limiter.NewRateFromFormatted(rate)
		if err != nil {
			panic(err)
		}
		c.JoinPhoneRate = r
	}
}

func trustedProxies(cidrs ...string) testapp.Option {
	return func(c *app.Config) {
		for _, s := range cidrs {
			_, n, err := net.ParseCIDR(s)
			if err != nil {
				panic(err)
			}
			c.TrustedProxies = append(c.TrustedProxies, n)
		}
	}
}

// joinAs joins inst with X-Forwarded-For set to xff (none when empty).
func joinAs(s *testapp.Server, inst int64, xff string, body any) (testapp.Response, error) {
	h := map[string]string{}
	if xff != "" {
		h["X-Forwarded-For"] = xff
	}
	return s.Try(testapp.Request{Method: "POST", Path: testapp.Path("/api/v1/institutions/%d/tickets", inst), Header: h, Body: body})
}

// statuses joins n times in a row and returns the statuses.
func statuses(t *testing.T, s *testapp.Server, inst int64, xffs []string) []int {
	t.Helper()
	var out []int
	for _, xff := range xffs {
		r, err := joinAs(s, inst, xff, nil)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, r.Status)
	}
	return out
}

func wantStatuses(t *testing.T, what string, got []int, want ...int) {
	t.Helper()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("%s: statuses %v, want %v", what, got, want)
	}
}

// metricValue scrapes /metrics for an unlabelled sample.
func metricValue(t *testing.T, s *testapp.Server, name string) float64 {
	t.Helper()
	r := s.Do(testapp.Request{Method: "GET", Path: "/metrics"})
	sc := bufio.NewScanner(bytes.NewReader(r.Body))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("metric %s = %q", name, v)
			}
			return f
		}
	}
	t.Fatalf("no metric %s in /metrics", name)
	return 0
}

func TestJoinThrottleByAddress(t *testing.T) {
	t.Parallel()
	eachModeWith(t, []testapp.Option{joinRate("3-M")}, func(t *testing.T, s *testapp.Server) {
		id := s.CreateInstitution(nil)
		other := s.CreateInstitution(nil)
		start := time.Now()
		for i, want := range []int{2, 1, 0} {
			r, err := joinAs(s, id, "", nil)
			if err != nil {
				t.Fatal(err)
			}
			if r.Status != http.StatusCreated {
				t.Fatalf("join %d: %d %s", i+1, r.Status, r.Body)
			}
			if got := r.Header.Get("X-RateLimit-Limit"); got != "3" {
				t.Fatalf("join %d: X-RateLimit-Limit = %q, want 3", i+1, got)
			}
			if got := r.Header.Get("X-RateLimit-Remaining"); got != strconv.Itoa(want) {
				t.Fatalf("join %d: X-RateLimit-Remaining = %q, want %d", i+1, got, want)
			}
		}
		// A client that forges X-Forwarded-For, with no trusted proxy
		// configured, is still the TCP peer.
		r, err := joinAs(s, id, "203.0.113.99", nil)
		if err != nil {
			t.Fatal(err)
		}
		wantError(t, r, http.StatusTooManyRequests, "rate_limited")
		retry, err := strconv.Atoi(r.Header.Get("Retry-After"))
		if err != nil || retry < 1 || retry > 60 {
			t.Fatalf("Retry-After = %q, want 1..60 seconds", r.Header.Get("Retry-After"))
		}
		reset, err := strconv.ParseInt(r.Header.Get("X-RateLimit-Reset"), 10, 64)
		if err != nil || reset < start.Unix() || reset > time.Now().Add(61*time.Second).Unix() {
			t.Fatalf("X-RateLimit-Reset = %q, want a Unix time within the minute", r.Header.Get("X-RateLimit-Reset"))
		}
		if r.Header.Get("X-RateLimit-Remaining") != "0" || r.Header.Get("X-RateLimit-Limit") != "3" {
			t.Fatalf("429 headers: %v", r.Header)
		}
		// The limit is per institution.
		wantStatuses(t, "another institution", statuses(t, s, other, []string{""}), 201)
		// A bad id is refused as the handler would, before any counting.
		if r := s.Do(testapp.Request{Method: "POST", Path: "/api/v1/institutions/abc/tickets"}); r.Status != 400 {
			t.Fatalf("bad id: %d %s", r.Status, r.Body)
		}
		if got := metricValue(t, s, `queueless_join_throttled_total{limit="address"}`); got != 1 {
			t.Fatalf("queueless_join_throttled_total{limit=address} = %v, want 1", got)
		}
	})
}

func TestJoinThrottleTrustedProxy(t *testing.T) {
	t.Parallel()
	t.Run("trusted", func(t *testing.T) {
		eachModeWith(t, []testapp.Option{joinRate("2-M"), trustedProxies("127.0.0.1/32")}, testTrustedProxy)
	})
	t.Run("untrusted", func(t *testing.T) {
		eachModeWith(t, []testapp.Option{joinRate("2-M"), trustedProxies("10.0.0.0/8")}, testUntrustedPeer)
	})
}

// testTrustedProxy: the peer, 127.0.0.1, is a trusted proxy.
func testTrustedProxy(t *testing.T, s *testapp.Server) {
	id := s.CreateInstitution(nil)
	// The proxy's entry is the rightmost; what the client wrote to its
	// left is not believed.
	wantStatuses(t, "one client through the proxy", statuses(t, s, id,
		[]string{"198.51.100.7", "1.1.1.1, 198.51.100.7", "2.2.2.2, 3.3.3.3, 198.51.100.7"}), 201, 201, 429)
	wantStatuses(t, "other clients", statuses(t, s, id, []string{"198.51.100.8", "198.51.100.9"}), 201, 201)
	// A chain of trusted proxies: the rightmost untrusted entry counts.
	wantStatuses(t, "two proxies", statuses(t, s, id, []string{"198.51.100.10, 127.0.0.1", "198.51.100.10, 127.0.0.1", "198.51.100.10"}), 201, 201, 429)
	// One IPv6 host owns its /64.
	wantStatuses(t, "one IPv6 /64", statuses(t, s, id, []string{"2001:db8:1:2::1", "2001:db8:1:2::ffff", "[2001:db8:1:2:aaaa::9]"}), 201, 201, 429)
	wantStatuses(t, "IPv4-mapped IPv6 is the IPv4 address", statuses(t, s, id, []string{"198.51.100.20", "::ffff:198.51.100.20", "198.51.100.20"}), 201, 201, 429)
	// No header: the proxy itself.
	wantStatuses(t, "the proxy", statuses(t, s, id, []string{"", "", ""}), 201, 201, 429)
}

// testUntrustedPeer: the peer, 127.0.0.1, is not a trusted proxy; its
// X-Forwarded-For is ignored.
func testUntrustedPeer(t *testing.T, s *testapp.Server) {
	id := s.CreateInstitution(nil)
	wantStatuses(t, "forged headers from an untrusted peer", statuses(t, s, id,
		[]string{"198.51.100.7", "198.51.100.8", "10.0.0.1, 198.51.100.9"}), 201, 201, 429)
}

func TestJoinThrottleByPhone(t *testing.T) {
	t.Parallel()
	eachModeWith(t, []testapp.Option{phoneRate("2-M")}, func(t *testing.T, s *testapp.Server) {
		a, b, c := s.CreateInstitution(nil), s.CreateInstitution(nil), s.CreateInstitution(nil)
		phone := map[string]any{"phone": "09175550001"}
		for i, inst := range []int64{a, b} {
			r, err := joinAs(s, inst, "", phone)
			if err != nil || r.Status != http.StatusCreated {
				t.Fatalf("join %d with the phone: %v %d %s", i+1, err, r.Status, r.Body)
			}
		}
		r, err := joinAs(s, c, "", phone)
		if err != nil {
			t.Fatal(err)
		}
		wantError(t, r, http.StatusTooManyRequests, "rate_limited")
		if !strings.Contains(r.Map(t)["message"].(string), "phone") || r.Header.Get("Retry-After") == "" {
			t.Fatalf("phone 429: %v %s", r.Header, r.Body)
		}
		// Other phones, joins without a phone, and phones the handler
		// refuses anyway are not held back by it.
		for _, body := range []any{map[string]any{"phone": "09175550002"}, nil, map[string]any{}} {
			if r, _ := joinAs(s, c, "", body); r.Status != http.StatusCreated {
				t.Fatalf("join with %v: %d %s", body, r.Status, r.Body)
			}
		}
		for range 3 {
			r, _ := joinAs(s, c, "", map[string]any{"phone": "12345"})
			wantError(t, r, http.StatusBadRequest, "invalid_request")
		}
		// The throttle reads the body the handler then decodes: the same
		// errors, in the same words.
		r, _ = joinAs(s, c, "", `{"phone":"09175550003","phone":"09175550003"}`)
		wantError(t, r, http.StatusBadRequest, "invalid_request")
		r, _ = joinAs(s, c, "", strings.Repeat(" ", 70000))
		wantError(t, r, http.StatusRequestEntityTooLarge, "too_large")
	})
}

// TestJoinThrottleSharedAcrossInstances: two instances on one Redis let
// exactly the limit through from one address, however the joins spread.
// The Redis is the test's own and the limiter's store timeout is long, so
// that the shared limiter answers every time: a store error (after which
// each instance's local limiter would stand in, letting more through, as
// designed) fails the test instead of loosening it.
func TestJoinThrottleSharedAcrossInstances(t *testing.T) {
	t.Parallel()
	cfg := testapp.Config(t, testapp.Production, testapp.PrivateRedis(t), joinRate("7-H"), func(c *app.Config) {
		c.RequestTimeout = 20 * time.Second
		c.JoinLimiterTimeout = 10 * time.Second
	})
	s1, s2 := testapp.StartConfig(t, cfg), testapp.StartConfig(t, cfg)
	id := s1.CreateInstitution(nil)
	const joins = 40
	var mu sync.Mutex
	count := map[int]int{}
	var wg sync.WaitGroup
	for i := range joins {
		s := s1
		if i%2 == 1 {
			s = s2
		}
		wg.Go(func() {
			r, err := joinAs(s, id, "", nil)
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			count[r.Status]++
			mu.Unlock()
		})
	}
	wg.Wait()
	if errs := metricValue(t, s1, "queueless_join_limiter_store_errors_total") + metricValue(t, s2, "queueless_join_limiter_store_errors_total"); errs != 0 {
		t.Errorf("the shared limiter failed %v times on a private Redis", errs)
	}
	if count[201] != 7 || count[429] != joins-7 {
		t.Fatalf("statuses %v, want 7 × 201 and %d × 429", count, joins-7)
	}
}

// TestJoinThrottleRedisDown stops a private Redis in the middle of joins:
// joins go on under each instance's local limiter, the outage shows in the
// logs and the metrics, and the shared limiter takes over again once Redis
// is back.
func TestJoinThrottleRedisDown(t *testing.T) {
	t.Parallel()
	addr, stop, start := testenv.StartRedisServer(t)
	const prefix = "throttle-down:"
	cfg := testapp.Config(t, testapp.Production, joinRate("3-M"), trustedProxies("127.0.0.1/32"))
	cfg.RedisURL, cfg.RedisPrefix = "redis://"+addr+"/0", prefix
	s := testapp.StartConfig(t, cfg)
	id := s.CreateInstitution(nil)
	rdb := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1})
	t.Cleanup(func() { _ = rdb.Close() })
	limitKeys := func() int {
		keys, err := rdb.Keys(context.Background(), prefix+"limit:*").Result()
		if err != nil {
			t.Fatalf("list limiter keys: %v", err)
		}
		return len(keys)
	}
	client := func(n int) []string { // four joins from one client
		xff := fmt.Sprintf("198.51.100.%d", n)
		return []string{xff, xff, xff, xff}
	}

	wantStatuses(t, "redis up", statuses(t, s, id, client(1)), 201, 201, 201, 429)
	if limitKeys() != 1 {
		t.Fatalf("%d limiter keys in redis, want 1", limitKeys())
	}

	stop()
	begin := time.Now()
	wantStatuses(t, "redis down", statuses(t, s, id, client(2)), 201, 201, 201, 429)
	// Only the first join waits for Redis, no longer than the throttle's
	// store timeout (1s); the others do not wait for it at all, though one a
	// second tries it again.
	if d := time.Since(begin); d > 3*time.Second {
		t.Fatalf("four joins took %s with redis down", d)
	} else {
		t.Logf("four joins with redis down took %s", d)
	}
	if got := metricValue(t, s, "queueless_join_limiter_degraded"); got != 1 {
		t.Fatalf("queueless_join_limiter_degraded = %v with redis down, want 1", got)
	}
	if got := metricValue(t, s, "queueless_join_limiter_store_errors_total"); got < 1 {
		t.Fatalf("queueless_join_limiter_store_errors_total = %v, want at least 1", got)
	}
	r, _ := joinAs(s, id, "198.51.100.2", nil)
	wantError(t, r, http.StatusTooManyRequests, "rate_limited")
	if r.Header.Get("Retry-After") == "" || r.Header.Get("X-RateLimit-Limit") != "3" {
		t.Fatalf("local 429 headers: %v", r.Header)
	}

	start()
	deadline := time.Now().Add(10 * time.Second)
	for n := 100; metricValue(t, s, "queueless_join_limiter_degraded") != 0; n++ {
		if time.Now().After(deadline) {
			t.Fatal("the throttle did not go back to redis within 10s of its return")
		}
		if _, err := joinAs(s, id, fmt.Sprintf("198.51.100.%d", n), nil); err != nil {
			t.Fatal(err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	keysBefore := limitKeys()
	wantStatuses(t, "redis back", statuses(t, s, id, client(3)), 201, 201, 201, 429)
	if limitKeys() != keysBefore+1 {
		t.Fatalf("limiter keys %d after redis came back, want %d: the shared limiter is not counting", limitKeys(), keysBefore+1)
	}
	// The client counted locally during the outage starts afresh in Redis.
	if got := statuses(t, s, id, client(2)[:1]); got[0] != 201 {
		t.Fatalf("client of the outage after redis came back: %v", got)
	}
}

// TestJoinThrottleRedisStopsUnderLoad stops a private Redis while eight
// clients keep joining concurrently: every answer stays a 201 or a 429
// (never a 500 or 503), joins go on under the local limiter while Redis
// is away and that limit holds too, the shared counts take over again
// when Redis is back, and every ticket given out is in PostgreSQL,
// numbered without a gap. Phases change while no join is in flight, so
// each answer belongs to one phase.
func TestJoinThrottleRedisStopsUnderLoad(t *testing.T) {
	t.Parallel()
	addr, stop, start := testenv.StartRedisServer(t)
	const prefix, limit, clients = "throttle-load:", 5, 8
	cfg := testapp.Config(t, testapp.Production, joinRate(fmt.Sprintf("%d-H", limit)), trustedProxies("127.0.0.1/32"))
	cfg.RedisURL, cfg.RedisPrefix = "redis://"+addr+"/0", prefix
	// A Redis that answers, however slowly, is waited for: the phase with
	// Redis up then counts exactly. A stopped Redis refuses at once.
	cfg.RequestTimeout, cfg.JoinLimiterTimeout = 20*time.Second, 10*time.Second
	s := testapp.StartConfig(t, cfg)
	id := s.CreateInstitution(nil)
	rdb := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1})
	t.Cleanup(func() { _ = rdb.Close() })

	const (
		up = iota
		down
		returning // Redis started, the throttle not yet back on it
		back
	)
	type tally struct{ created, limited, other [4]int }
	var (
		gate    sync.RWMutex // held by a join in flight; locked to change phase
		phase   int
		mu      sync.Mutex
		tallies [clients]tally
		issued  = map[string]int64{}
		halt    = make(chan struct{})
		wg      sync.WaitGroup
	)
	for w := range clients {
		xff := fmt.Sprintf("198.51.100.%d", 200+w)
		wg.Go(func() {
			for {
				select {
				case <-halt:
					return
				default:
				}
				gate.RLock()
				ph := phase
				r, err := joinAs(s, id, xff, nil)
				gate.RUnlock()
				if err != nil {
					t.Error(err)
					return
				}
				// Decoded before taking mu: nothing that may end this
				// goroutine (t.Fatal) runs while it is held.
				var tk struct {
					ID     string `json:"id"`
					Number int64  `json:"number"`
				}
				if r.Status == http.StatusCreated {
					if err := json.Unmarshal(r.Body, &tk); err != nil {
						t.Errorf("decode 201 %q: %v", r.Body, err)
						return
					}
				}
				mu.Lock()
				switch r.Status {
				case http.StatusCreated:
					tallies[w].created[ph]++
					issued[tk.ID] = tk.Number
				case http.StatusTooManyRequests:
					tallies[w].limited[ph]++
				default:
					tallies[w].other[ph]++
					t.Errorf("phase %d: status %d: %s", ph, r.Status, r.Body)
				}
				mu.Unlock()
				time.Sleep(10 * time.Millisecond)
			}
		})
	}
	// waitAll waits until every client satisfies ok in the current phase.
	waitAll := func(what string, ok func(tally) bool) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for {
			mu.Lock()
			all := true
			for _, tl := range tallies {
				all = all && ok(tl)
			}
			snapshot := tallies
			mu.Unlock()
			if all {
				return
			}
			if time.Now().After(deadline) {
				close(halt)
				wg.Wait()
				t.Fatalf("%s: not within 20s; per client: %+v", what, snapshot)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	setPhase := func(p int, before func()) {
		gate.Lock()
		if before != nil {
			before()
		}
		phase = p
		gate.Unlock()
	}

	waitAll("redis up: every client limited", func(tl tally) bool { return tl.limited[up] > 0 })
	var errsUp float64
	setPhase(down, func() {
		errsUp = metricValue(t, s, "queueless_join_limiter_store_errors_total")
		stop()
	})
	if errsUp != 0 {
		t.Errorf("the limiter's private Redis failed %v times while up", errsUp)
	}
	waitAll("redis down: every client joins again, then is limited", func(tl tally) bool { return tl.created[down] > 0 && tl.limited[down] > 0 })
	setPhase(returning, start)
	deadline := time.Now().Add(10 * time.Second)
	for metricValue(t, s, "queueless_join_limiter_degraded") != 0 {
		if time.Now().After(deadline) {
			t.Fatal("the throttle did not go back to redis within 10s of its return")
		}
		time.Sleep(50 * time.Millisecond)
	}
	setPhase(back, nil)
	waitAll("redis back: every client limited", func(tl tally) bool { return tl.limited[back] > 0 })
	close(halt)
	wg.Wait()

	mu.Lock()
	defer mu.Unlock()
	for w, tl := range tallies {
		t.Logf("client %d: 201 %v, 429 %v (up, down, returning, back)", w, tl.created, tl.limited)
		// With Redis up the shared limit holds exactly.
		if tl.created[up] != limit {
			t.Errorf("client %d: %d × 201 with redis up, want %d", w, tl.created[up], limit)
		}
		// Away from Redis each instance counts afresh, up to the limit.
		if tl.created[down] > limit {
			t.Errorf("client %d: %d × 201 with redis down, over the local limit of %d", w, tl.created[down], limit)
		}
		// The restarted Redis starts empty: up to the limit again, over
		// the joins it counted while the throttle came back to it.
		if tl.created[back] > limit {
			t.Errorf("client %d: %d × 201 with redis back, over the limit of %d", w, tl.created[back], limit)
		}
	}
	if got := metricValue(t, s, "queueless_join_limiter_degraded"); got != 0 {
		t.Errorf("queueless_join_limiter_degraded = %v at the end, want 0", got)
	}
	keys, err := rdb.Keys(context.Background(), prefix+"limit:*").Result()
	if err != nil || len(keys) < clients {
		t.Errorf("limiter keys in the restarted redis: %v (%v), want one per client", keys, err)
	}
	wantGapFree(t, connectSchema(t, s), id, issued)
}

// TestAdmission fills a bound of two with blocked requests: a third is
// refused at once with 503 and Retry-After, and admitted again once one
// finishes.
func TestAdmission(t *testing.T) {
	t.Parallel()
	e := echo.New()
	a := httpapi.NewAdmission(2, nil)
	release := make(chan struct{})
	entered := make(chan struct{}, 3)
	h := a.Middleware(func(c echo.Context) error {
		entered <- struct{}{}
		<-release
		return c.NoContent(http.StatusNoContent)
	})
	serve := func() error {
		c := e.NewContext(httptest.NewRequest("POST", "/", nil), httptest.NewRecorder())
		return h(c)
	}
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			if err := serve(); err != nil {
				t.Error(err)
			}
		})
	}
	<-entered
	<-entered
	start := time.Now()
	err := serve()
	if !errors.Is(err, queue.ErrUnavailable) || time.Since(start) > 100*time.Millisecond {
		t.Fatalf("third request: %v after %s, want an unavailable error at once", err, time.Since(start))
	}
	release <- struct{}{}
	release <- struct{}{}
	wg.Wait()
	close(release)
	if err := serve(); err != nil {
		t.Fatalf("after the others finished: %v", err)
	}
}

// TestWalkInSkipsJoinThrottles: a walk-in (a join with a staff token) is
// staff serving someone at the desk, not a citizen's request: none of the
// join throttles (per address, per address across institutions, per
// phone) counts or refuses it, while a citizen from the same address is
// refused.
func TestWalkInSkipsJoinThrottles(t *testing.T) {
	t.Parallel()
	addressAny := func(c *app.Config) {
		r, err := limiter.NewRateFromFormatted("1-H")
		if err != nil {
			panic(err)
		}
		c.JoinAddressRate = r
	}
	eachModeWith(t, []testapp.Option{joinRate("1-H"), phoneRate("1-H"), addressAny}, func(t *testing.T, s *testapp.Server) {
		id, other := s.CreateInstitution(nil), s.CreateInstitution(nil)
		staff := s.StaffToken(id, other)
		join := func(inst int64, token string, body map[string]any) testapp.Response {
			return s.Do(testapp.Request{Method: "POST", Path: fmt.Sprintf("/api/v1/institutions/%d/tickets", inst), Token: token, Body: body})
		}
		phone := map[string]any{"phone": "09171234567"}
		if r := join(id, "", phone); r.Status != http.StatusCreated {
			t.Fatalf("citizen join: %d %s", r.Status, r.Body)
		}
		none := map[string]any{}
		wantError(t, join(id, "", none), http.StatusTooManyRequests, "rate_limited")
		wantError(t, join(other, "", none), http.StatusTooManyRequests, "rate_limited")
		// The same phone elsewhere, and more from this address here.
		for i, w := range []struct {
			inst int64
			body map[string]any
		}{{other, phone}, {id, none}, {id, none}, {other, none}} {
			if r := join(w.inst, staff, w.body); r.Status != http.StatusCreated {
				t.Fatalf("walk-in %d: %d %s", i+1, r.Status, r.Body)
			}
		}
	})
}
