package app

import (
	"context"
	"errors"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/ulule/limiter/v3"
	lredis "github.com/ulule/limiter/v3/drivers/store/redis"

	"github.com/queueless/queueless/internal/testenv"
)

func pipedTestClient(t *testing.T) (*pipedClient, *redis.Client, string) {
	t.Helper()
	opts, err := redis.ParseURL(testenv.RedisURL(t))
	if err != nil {
		t.Fatal(err)
	}
	raw := redis.NewClient(opts)
	t.Cleanup(func() { _ = raw.Close() })
	return newPipedClient(raw), raw, testenv.RedisPrefix(t)
}

// waitFirstSent waits until the first call is being sent (and held by
// the test's beforeSend).
func waitFirstSent(t *testing.T, c *pipedClient) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
		c.mu.Lock()
		n := c.sending
		c.mu.Unlock()
		if n == 1 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the first call was not sent")
		}
	}
}

// oneSend makes c send one pipeline at a time, so that a test knows which
// calls go together.
func oneSend(c *pipedClient) *pipedClient {
	c.maxSends = 1
	return c
}

// holdFirstSend makes the first send wait until want calls have queued
// behind it, so that they go as one pipeline; it records every send's size.
func holdFirstSend(t *testing.T, c *pipedClient, want int) (sizes func() []int) {
	t.Helper()
	var mu sync.Mutex
	var seen []int
	c.beforeSend = func(n int) {
		mu.Lock()
		first := len(seen) == 0
		seen = append(seen, n)
		mu.Unlock()
		if !first {
			return
		}
		deadline := time.Now().Add(10 * time.Second)
		for {
			c.mu.Lock()
			queued := len(c.pending)
			c.mu.Unlock()
			if queued >= want {
				return
			}
			if time.Now().After(deadline) {
				t.Errorf("only %d calls queued behind the first, want %d", queued, want)
				return
			}
			time.Sleep(time.Millisecond)
		}
	}
	return func() []int {
		mu.Lock()
		defer mu.Unlock()
		return append([]int(nil), seen...)
	}
}

// TestPipedClientCountsAsOneByOne counts concurrent joins in the limiter's
// own Redis store over the piped client: the calls queued behind the first
// go as one pipeline, and the answers are those of calls made one after
// another: each key's counts 1..n once each, refused exactly beyond the
// limit, and n in Redis at the end.
func TestPipedClientCountsAsOneByOne(t *testing.T) {
	t.Parallel()
	c, raw, prefix := pipedTestClient(t)
	oneSend(c)
	const perKey, keys = 40, 3
	sizes := holdFirstSend(t, c, perKey*keys-1)
	store, err := lredis.NewStoreWithOptions(boundedClient{c}, limiter.StoreOptions{Prefix: prefix + "limit"})
	if err != nil {
		t.Fatal(err)
	}
	rate := limiter.Rate{Limit: 25, Period: time.Hour}
	ctx := context.Background()
	var mu sync.Mutex
	counts := map[string][]int64{}
	refused := map[string]int64{}
	var wg sync.WaitGroup
	for i := range perKey * keys {
		key := []string{"join:phone:a", "join:phone:b", "join:any:c"}[i%keys]
		wg.Go(func() {
			lc, err := store.Get(ctx, key, rate)
			if err != nil {
				t.Error(err)
				return
			}
			used := lc.Limit - lc.Remaining
			if lc.Reset <= time.Now().Unix() || lc.Reset > time.Now().Add(rate.Period+time.Second).Unix() {
				t.Errorf("%s: reset %d, want within the hour", key, lc.Reset)
			}
			mu.Lock()
			counts[key] = append(counts[key], used)
			if lc.Reached {
				refused[key]++
			}
			mu.Unlock()
		})
	}
	wg.Wait()
	for key, got := range counts {
		sort.Slice(got, func(i, j int) bool { return got[i] < got[j] })
		// The limiter shows a count beyond the limit as the limit used up:
		// 1..25, then 25 for each refused call.
		for i, u := range got {
			if want := min(int64(i+1), rate.Limit); u != want {
				t.Fatalf("%s: counts seen %v, want 1..%d then %d", key, got, rate.Limit, rate.Limit)
			}
		}
		if refused[key] != perKey-rate.Limit {
			t.Errorf("%s: %d refused, want %d", key, refused[key], perKey-rate.Limit)
		}
		n, err := raw.Get(ctx, prefix+"limit:"+key).Int64()
		if err != nil || n != perKey {
			t.Errorf("%s in Redis: %d (%v), want %d", key, n, err, perKey)
		}
		ttl, err := raw.PTTL(ctx, prefix+"limit:"+key).Result()
		if err != nil || ttl <= 0 || ttl > rate.Period {
			t.Errorf("%s: time to live %v (%v), want within the period", key, ttl, err)
		}
	}
	if len(counts) != keys {
		t.Fatalf("keys counted: %d, want %d", len(counts), keys)
	}
	s := sizes()
	if len(s) != 2 || s[0] != 1 || s[1] != perKey*keys-1 {
		t.Fatalf("sends of %v scripts, want [1 %d]: the first alone, the rest in one pipeline", s, perKey*keys-1)
	}
}

// TestPipedClientCallerGone: a call whose caller gives up while it waits
// for the one in flight answers the context's error and is never sent.
func TestPipedClientCallerGone(t *testing.T) {
	t.Parallel()
	c, raw, prefix := pipedTestClient(t)
	oneSend(c)
	release := make(chan struct{})
	var first sync.Once
	c.beforeSend = func(int) { first.Do(func() { <-release }) }
	store, err := lredis.NewStoreWithOptions(boundedClient{c}, limiter.StoreOptions{Prefix: prefix + "limit"})
	if err != nil {
		t.Fatal(err)
	}
	rate := limiter.Rate{Limit: 5, Period: time.Minute}
	done := make(chan error, 1)
	go func() {
		_, err := store.Get(context.Background(), "first", rate)
		done <- err
	}()
	waitPending := func(want int) {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
			c.mu.Lock()
			n, running := len(c.pending), c.sending > 0
			c.mu.Unlock()
			if running && n == want {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d calls queued (running %v), want %d", n, running, want)
			}
		}
	}
	waitPending(0)
	ctx, cancel := context.WithCancel(context.Background())
	gone := make(chan error, 1)
	go func() {
		_, err := store.Get(ctx, "gone", rate)
		gone <- err
	}()
	waitPending(1)
	cancel()
	if err := <-gone; !errors.Is(err, context.Canceled) {
		t.Fatalf("the call given up: %v, want context.Canceled", err)
	}
	waitPending(0)
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if n, err := raw.Exists(context.Background(), prefix+"limit:gone").Result(); err != nil || n != 0 {
		t.Fatalf("the call given up was counted: exists %d (%v)", n, err)
	}
	if n, err := raw.Get(context.Background(), prefix+"limit:first").Int64(); err != nil || n != 1 {
		t.Fatalf("first: %d (%v), want 1", n, err)
	}
}

// TestPipedClientErrorsAreEach: a script that fails in a pipeline (here
// NOSCRIPT, which the limiter's store answers by loading its scripts again)
// fails that call alone.
func TestPipedClientErrorsAreEach(t *testing.T) {
	t.Parallel()
	c, raw, prefix := pipedTestClient(t)
	oneSend(c)
	sizes := holdFirstSend(t, c, 3)
	ctx := context.Background()
	sha, err := raw.ScriptLoad(ctx, `return redis.call("incrby", KEYS[1], 1)`).Result()
	if err != nil {
		t.Fatal(err)
	}
	results := make([]*redis.Cmd, 4)
	var wg sync.WaitGroup
	for i := range results {
		wg.Go(func() {
			s := sha
			if i == 2 {
				s = strings.Repeat("0", 40) // no such script
			}
			results[i] = c.EvalSha(ctx, s, []string{prefix + "k"})
		})
		if i == 0 {
			// The first is the one sent alone.
			for deadline := time.Now().Add(5 * time.Second); len(sizes()) == 0; time.Sleep(time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatal("the first call was not sent")
				}
			}
		}
	}
	wg.Wait()
	for i, cmd := range results {
		_, err := cmd.Result()
		if (i == 2) != (err != nil) {
			t.Errorf("call %d: error %v", i, err)
		}
		if i == 2 && (err == nil || !strings.HasPrefix(err.Error(), "NOSCRIPT")) {
			t.Errorf("call %d: error %v, want NOSCRIPT", i, err)
		}
	}
	if n, err := raw.Get(ctx, prefix+"k").Int64(); err != nil || n != 3 {
		t.Fatalf("k: %d (%v), want 3", n, err)
	}
	if s := sizes(); len(s) != 2 || s[1] != 3 {
		t.Fatalf("sends %v, want [1 3]", s)
	}
}

// TestPipedClientStuckSendHoldsOnlyItsOwn: a send that does not come back
// (a connection whose reads hang) holds the calls it carries and no other:
// the next calls go on other sends and are answered while it hangs.
func TestPipedClientStuckSendHoldsOnlyItsOwn(t *testing.T) {
	t.Parallel()
	c, raw, prefix := pipedTestClient(t)
	release := make(chan struct{})
	var first atomic.Bool
	c.beforeSend = func(int) {
		// Only the first send hangs (sync.Once would hold the others too).
		if first.CompareAndSwap(false, true) {
			<-release
		}
	}
	ctx := context.Background()
	sha, err := raw.ScriptLoad(ctx, `return redis.call("incrby", KEYS[1], 1)`).Result()
	if err != nil {
		t.Fatal(err)
	}
	stuck := make(chan error, 1)
	go func() { stuck <- c.EvalSha(ctx, sha, []string{prefix + "stuck"}).Err() }()
	waitFirstSent(t, c)
	const others = 30
	var wg sync.WaitGroup
	errs := make(chan error, others)
	for range others {
		wg.Go(func() {
			cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			defer cancel()
			errs <- c.EvalSha(cctx, sha, []string{prefix + "free"}).Err()
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("a call behind the stuck send: %v", err)
		}
	}
	if n, err := raw.Get(ctx, prefix+"free").Int64(); err != nil || n != others {
		t.Fatalf("free: %d (%v), want %d", n, err, others)
	}
	select {
	case err := <-stuck:
		t.Fatalf("the stuck call came back before it was released: %v", err)
	default:
	}
	close(release)
	if err := <-stuck; err != nil {
		t.Fatal(err)
	}
}

// TestBatchContextLastsForTheLatestCaller: a pipeline lasts as long as the
// caller that waits longest; a caller with no deadline keeps it open.
func TestBatchContextLastsForTheLatestCaller(t *testing.T) {
	t.Parallel()
	now := time.Now()
	soon, cancelSoon := context.WithDeadline(context.Background(), now.Add(10*time.Millisecond))
	defer cancelSoon()
	later, cancelLater := context.WithDeadline(context.Background(), now.Add(time.Minute))
	defer cancelLater()
	ctx, cancel := batchContext([]*evalCall{{ctx: soon}, {ctx: later}})
	d, ok := ctx.Deadline()
	cancel()
	if !ok || !d.Equal(now.Add(time.Minute)) {
		t.Fatalf("deadline %v (%v), want the latest caller's %v", d, ok, now.Add(time.Minute))
	}
	ctx, cancel = batchContext([]*evalCall{{ctx: soon}, {ctx: context.Background()}})
	_, ok = ctx.Deadline()
	cancel()
	if ok {
		t.Fatal("a caller without a deadline: the pipeline has one")
	}
}
