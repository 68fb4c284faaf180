package app

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/redis/go-redis/v9"
	"github.com/ulule/limiter/v3"
	"github.com/ulule/limiter/v3/drivers/store/memory"
	lredis "github.com/ulule/limiter/v3/drivers/store/redis"

	"github.com/queueless/queueless/httpapi"
)

// joinMiddleware builds what guards the join endpoint, outermost first:
// the address throttle (across institutions, then per institution that
// exists), admission control, the phone throttle, which counts only
// joins about to be tried, and the count of joins in flight that makes
// deliveries yield to a crowd (JOBS_YIELD_JOINS).
func (a *App) joinMiddleware() []echo.MiddlewareFunc {
	var mw []echo.MiddlewareFunc
	var phone echo.MiddlewareFunc
	if a.cfg.JoinRate.Limit > 0 || a.cfg.JoinPhoneRate.Limit > 0 || a.cfg.JoinAddressRate.Limit > 0 {
		var store limiter.Store
		if a.redis != nil {
			// Every instance counts in the same keys: the limit is the
			// deployment's, not each instance's.
			// Joins at the same moment share round trips (pipedClient).
			rs := &redisLimiterStore{client: newPipedClient(a.redis), prefix: a.cfg.RedisPrefix + "limit"}
			// Built now when Redis answers; if it does not, the throttle
			// says so at the first join and tries again as it probes.
			_, _ = rs.get()
			store = rs
			if _, cluster := a.redis.(*redis.ClusterClient); !cluster {
				store = pairLimiterStore{rs}
			}
		} else {
			store = memory.NewStoreWithOptions(limiter.StoreOptions{Prefix: "limit", CleanUpInterval: time.Minute})
		}
		t := httpapi.NewJoinThrottle(httpapi.ThrottleConfig{
			Store:        store,
			StoreTimeout: a.cfg.JoinLimiterTimeout,
			AnyRate:      a.cfg.JoinAddressRate,
			AddressRate:  a.cfg.JoinRate,
			PhoneRate:    a.cfg.JoinPhoneRate,
			Exists: func(ctx context.Context, id int64) error {
				_, err := a.Queue.Institution(ctx, id)
				return err
			},
			Logger:     a.log,
			Registerer: a.Registry,
		})
		mw = append(mw, t.Middleware)
		phone = t.PhoneMiddleware
	}
	if a.cfg.JoinMaxInFlight > 0 {
		mw = append(mw, httpapi.NewAdmission(a.cfg.JoinMaxInFlight, a.Registry).Middleware)
	}
	if phone != nil {
		mw = append(mw, phone)
	}
	if a.pressure != nil {
		// Innermost: only the joins actually tried tell the deliveries to
		// wait (JOBS_YIELD_JOINS), not the ones refused at the door.
		p := a.pressure
		mw = append(mw, func(next echo.HandlerFunc) echo.HandlerFunc {
			return func(c echo.Context) error {
				defer p.Enter()()
				return next(c)
			}
		})
	}
	return mw
}

// rateVar parses a limiter rate like 10-M, or off.
func rateVar(field func(*Config) *limiter.Rate) func(*Config, string) error {
	return func(c *Config, v string) error {
		if strings.EqualFold(v, "off") {
			*field(c) = limiter.Rate{}
			return nil
		}
		r, err := limiter.NewRateFromFormatted(v)
		if err != nil || r.Limit < 1 || r.Limit > 1_000_000 {
			return errors.New("must be <count>-<period> with a count from 1 to 1000000 and a period of S, M, H or D (like 10-M), or off")
		}
		*field(c) = r
		return nil
	}
}

// scriptLoadTimeout bounds the loading of the limiter's Lua scripts, which
// its Redis store does under context.Background when it is built.
const scriptLoadTimeout = time.Second

// redisLimiterStore is the limiter's Redis store, built on first use. Its
// constructor loads Lua scripts and so fails while Redis is down: the server
// must start all the same, and the join throttle limits locally until Redis
// answers. After a Redis restart the store reloads its scripts by itself.
type redisLimiterStore struct {
	client redis.UniversalClient
	prefix string

	built atomic.Value // limiter.Store, once built
	mu    sync.Mutex   // held while building
}

var _ limiter.Store = (*redisLimiterStore)(nil)

var errStoreStarting = errors.New("the limiter's redis store is being set up")

func (s *redisLimiterStore) get() (limiter.Store, error) {
	if st, ok := s.built.Load().(limiter.Store); ok {
		return st, nil
	}
	// TryLock: while one request builds the store, the others fall back at
	// once rather than queueing behind a Redis that may not answer.
	if !s.mu.TryLock() {
		return nil, errStoreStarting
	}
	defer s.mu.Unlock()
	if st, ok := s.built.Load().(limiter.Store); ok {
		return st, nil
	}
	st, err := lredis.NewStoreWithOptions(boundedClient{s.client}, limiter.StoreOptions{Prefix: s.prefix, MaxRetry: limiter.DefaultMaxRetry})
	if err != nil {
		return nil, fmt.Errorf("build redis limiter store: %w", err)
	}
	s.built.Store(st)
	return st, nil
}

func (s *redisLimiterStore) Get(ctx context.Context, key string, rate limiter.Rate) (limiter.Context, error) {
	st, err := s.get()
	if err != nil {
		return limiter.Context{}, err
	}
	return st.Get(ctx, key, rate)
}

func (s *redisLimiterStore) Peek(ctx context.Context, key string, rate limiter.Rate) (limiter.Context, error) {
	st, err := s.get()
	if err != nil {
		return limiter.Context{}, err
	}
	return st.Peek(ctx, key, rate)
}

func (s *redisLimiterStore) Reset(ctx context.Context, key string, rate limiter.Rate) (limiter.Context, error) {
	st, err := s.get()
	if err != nil {
		return limiter.Context{}, err
	}
	return st.Reset(ctx, key, rate)
}

func (s *redisLimiterStore) Increment(ctx context.Context, key string, count int64, rate limiter.Rate) (limiter.Context, error) {
	st, err := s.get()
	if err != nil {
		return limiter.Context{}, err
	}
	return st.Increment(ctx, key, count, rate)
}

// boundedClient gives script loads without a deadline one: the store's
// constructor passes context.Background. Over a cluster, go-redis loads a
// script on every shard, and each counter is one key, so that every
// script call stays within one slot.
type boundedClient struct{ redis.UniversalClient }

func (c boundedClient) ScriptLoad(ctx context.Context, script string) *redis.StringCmd {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, scriptLoadTimeout)
		defer cancel()
	}
	return c.UniversalClient.ScriptLoad(ctx, script)
}
