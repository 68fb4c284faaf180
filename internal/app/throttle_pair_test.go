package app

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/redis/go-redis/v9"
	"github.com/ulule/limiter/v3"

	"github.com/queueless/queueless/httpapi"
	"github.com/queueless/queueless/internal/testenv"
	"github.com/queueless/queueless/queue"
)

// countingPair counts the calls that went through the one-round-trip path.
type countingPair struct {
	pairLimiterStore
	calls atomic.Int64
}

func (s *countingPair) GetPair(ctx context.Context, first string, fr limiter.Rate, second string, sr limiter.Rate) (limiter.Context, limiter.Context, bool, error) {
	s.calls.Add(1)
	return s.pairLimiterStore.GetPair(ctx, first, fr, second, sr)
}

// TestJoinThrottlePairMatchesOneByOne drives two join throttles with the
// same random joins (a few addresses, institutions that exist and one that
// does not, small limits): one counts the two address rules one by one in
// the limiter's Redis store (the reference), the other in one round trip
// (pairLimiterStore). Every answer (status, X-RateLimit-* headers) and, at
// the end, every count in Redis must be the same.
func TestJoinThrottlePairMatchesOneByOne(t *testing.T) {
	t.Parallel()
	opts, err := redis.ParseURL(testenv.RedisURL(t))
	if err != nil {
		t.Fatal(err)
	}
	client := redis.NewClient(opts)
	t.Cleanup(func() { _ = client.Close() })
	prefix := testenv.RedisPrefix(t)
	refStore := &redisLimiterStore{client: client, prefix: prefix + "ref:limit"}
	pair := &countingPair{pairLimiterStore: pairLimiterStore{&redisLimiterStore{client: client, prefix: prefix + "pair:limit"}}}
	exists := func(_ context.Context, id int64) error {
		if id == 9 {
			return queue.Errorf(queue.CodeNotFound, "institution %d not found", id)
		}
		return nil
	}
	newThrottle := func(store limiter.Store) echo.HandlerFunc {
		th := httpapi.NewJoinThrottle(httpapi.ThrottleConfig{
			Store:       store,
			AnyRate:     limiter.Rate{Limit: 7, Period: time.Hour},
			AddressRate: limiter.Rate{Limit: 3, Period: time.Hour},
			Exists:      exists,
		})
		return th.Middleware(func(c echo.Context) error { return c.NoContent(http.StatusCreated) })
	}
	ref, got := newThrottle(refStore), newThrottle(pair)
	e := echo.New()
	e.HTTPErrorHandler = func(err error, c echo.Context) {
		if qe, ok := err.(*queue.Error); ok {
			_ = c.String(map[queue.Code]int{queue.CodeRateLimited: 429, queue.CodeNotFound: 404}[qe.Code], qe.Message)
			return
		}
		_ = c.String(500, err.Error())
	}
	serve := func(h echo.HandlerFunc, addr string, inst int64) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodPost, "/", nil)
		r.RemoteAddr = addr + ":5000"
		w := httptest.NewRecorder()
		c := e.NewContext(r, w)
		c.SetParamNames("id")
		c.SetParamValues(strconv.FormatInt(inst, 10))
		if err := h(c); err != nil {
			e.HTTPErrorHandler(err, c)
		}
		return w
	}
	rng := rand.New(rand.NewPCG(16, 2026))
	addrs := []string{"192.0.2.1", "192.0.2.2", "198.51.100.7"}
	insts := []int64{1, 2, 3, 9}
	for i := range 300 {
		addr, inst := addrs[rng.IntN(len(addrs))], insts[rng.IntN(len(insts))]
		w1, w2 := serve(ref, addr, inst), serve(got, addr, inst)
		for _, h := range []string{"X-RateLimit-Limit", "X-RateLimit-Remaining"} {
			if w1.Header().Get(h) != w2.Header().Get(h) {
				t.Fatalf("join %d (%s to %d): %s %q one by one, %q in one round trip", i, addr, inst, h, w1.Header().Get(h), w2.Header().Get(h))
			}
		}
		// Retry-After counts seconds to a window's end, and the two
		// throttles' windows began a moment apart: a second either way.
		r1, err1 := strconv.Atoi(w1.Header().Get("Retry-After"))
		r2, err2 := strconv.Atoi(w2.Header().Get("Retry-After"))
		if (err1 == nil) != (err2 == nil) || r1-r2 > 1 || r2-r1 > 1 {
			t.Fatalf("join %d (%s to %d): Retry-After %q one by one, %q in one round trip", i, addr, inst,
				w1.Header().Get("Retry-After"), w2.Header().Get("Retry-After"))
		}
		if w1.Code != w2.Code {
			t.Fatalf("join %d (%s to %d): %d one by one, %d in one round trip", i, addr, inst, w1.Code, w2.Code)
		}
	}
	if pair.calls.Load() == 0 {
		t.Fatal("the one-round-trip path was never taken")
	}
	ctx := context.Background()
	var refused int
	for _, addr := range addrs {
		keys := []string{"join:any:" + addr}
		for _, inst := range insts {
			keys = append(keys, fmt.Sprintf("join:addr:%d:%s", inst, addr))
		}
		for _, k := range keys {
			a, err1 := client.Get(ctx, refStore.prefix+":"+k).Int64()
			b, err2 := client.Get(ctx, pair.prefix+":"+k).Int64()
			if (err1 == nil) != (err2 == nil) || a != b {
				t.Errorf("count of %s: %d (%v) one by one, %d (%v) in one round trip", k, a, err1, b, err2)
			}
			if k == keys[0] && a > 7 {
				refused++
			}
		}
	}
	if refused == 0 {
		t.Fatal("no address went past its limit: the random joins test nothing of the refusals")
	}
}
