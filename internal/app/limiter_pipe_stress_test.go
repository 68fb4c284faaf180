package app

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestPipedClientStress runs many concurrent calls through the piped client
// with random deadlines, cancellations, slow sends, small pipelines and
// scripts that refuse with TRYAGAIN before counting (the resend-alone path),
// for one to four sends in flight. Every call must return; each key's count
// in Redis must lie between its successes and its successes plus failures;
// a key's successful answers must be distinct; and at the end no send is in
// flight and none waits.
func TestPipedClientStress(t *testing.T) {
	t.Parallel()
	for sends := 1; sends <= 4; sends++ {
		t.Run(fmt.Sprintf("sends%d", sends), func(t *testing.T) {
			c, raw, prefix := pipedTestClient(t)
			c.maxSends = sends
			c.max = 1 + rand.IntN(8)
			ctx := context.Background()
			// KEYS[1] counts; KEYS[2] counts attempts: every third attempt of
			// a flaky call is refused before counting, as a loading server's.
			sha, err := raw.ScriptLoad(ctx, `
local a = redis.call('INCR', KEYS[2])
if ARGV[1] == '1' and a % 3 == 1 then
  return redis.error_reply('TRYAGAIN stress')
end
return redis.call('INCR', KEYS[1])`).Result()
			if err != nil {
				t.Fatal(err)
			}
			c.beforeSend = func(int) {
				if rand.IntN(3) == 0 {
					time.Sleep(time.Duration(rand.IntN(3000)) * time.Microsecond)
				}
			}
			const keys, goroutines, perG = 5, 64, 60
			type tally struct {
				mu         sync.Mutex
				ok, failed int
				seen       map[int64]bool
			}
			var tallies [keys]tally
			for i := range tallies {
				tallies[i].seen = map[int64]bool{}
			}
			var wg sync.WaitGroup
			var returned atomic.Int64
			for range goroutines {
				wg.Go(func() {
					for range perG {
						k := rand.IntN(keys)
						key := fmt.Sprintf("%sstress:%d", prefix, k)
						cctx, cancel := context.WithCancel(ctx)
						switch rand.IntN(5) {
						case 0: // no deadline
						case 1:
							cctx, cancel = context.WithTimeout(ctx, time.Duration(rand.IntN(2000))*time.Microsecond)
						case 2:
							cctx, cancel = context.WithTimeout(ctx, time.Duration(rand.IntN(50))*time.Millisecond)
						case 3:
							time.AfterFunc(time.Duration(rand.IntN(3000))*time.Microsecond, cancel)
						case 4: // ended already, or about to
							cctx, cancel = context.WithTimeout(ctx, time.Duration(rand.IntN(20))*time.Microsecond)
						}
						flaky := "0"
						if rand.IntN(4) == 0 {
							flaky = "1"
						}
						v, err := c.EvalSha(cctx, sha, []string{key, key + ":attempts"}, flaky).Int64()
						cancel()
						returned.Add(1)
						tl := &tallies[k]
						tl.mu.Lock()
						if err != nil {
							tl.failed++
						} else {
							tl.ok++
							if tl.seen[v] {
								t.Errorf("key %d: answer %d given twice", k, v)
							}
							tl.seen[v] = true
						}
						tl.mu.Unlock()
					}
				})
			}
			finished := make(chan struct{})
			go func() { wg.Wait(); close(finished) }()
			select {
			case <-finished:
			case <-time.After(60 * time.Second):
				c.mu.Lock()
				defer c.mu.Unlock()
				t.Fatalf("calls stuck: %d of %d returned; sending=%d pending=%d",
					returned.Load(), goroutines*perG, c.sending, len(c.pending))
			}
			// Drains may still carry calls whose callers left.
			for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
				c.mu.Lock()
				s, p := c.sending, len(c.pending)
				c.mu.Unlock()
				if s == 0 && p == 0 {
					break
				}
				if s < 0 || time.Now().After(deadline) {
					t.Fatalf("at the end: sending=%d pending=%d", s, p)
				}
			}
			totalOK := 0
			for k := range tallies {
				tl := &tallies[k]
				key := fmt.Sprintf("%sstress:%d", prefix, k)
				n, err := raw.Get(ctx, key).Int()
				if err != nil && tl.ok > 0 {
					t.Fatalf("key %d: %v", k, err)
				}
				if n < tl.ok || n > tl.ok+tl.failed {
					t.Errorf("key %d: %d in Redis, %d successes, %d failures", k, n, tl.ok, tl.failed)
				}
				totalOK += tl.ok
				_ = raw.Del(ctx, key, key+":attempts").Err()
			}
			if totalOK == 0 {
				t.Error("no call succeeded")
			}
		})
	}
}

// TestPipedClientAnswersBeforeOthersResends: in one pipeline, a call whose
// script ran gets its answer before the refused calls of the same pipeline
// are sent again (go-redis retries those with a backoff), not after.
func TestPipedClientAnswersBeforeOthersResends(t *testing.T) {
	t.Parallel()
	c, raw, prefix := pipedTestClient(t)
	oneSend(c)
	ctx := context.Background()
	sha, err := raw.ScriptLoad(ctx, `
if ARGV[1] == '1' then return redis.error_reply('TRYAGAIN always') end
return redis.call('INCR', KEYS[1])`).Result()
	if err != nil {
		t.Fatal(err)
	}
	const refused = 6
	sizes := holdFirstSend(t, c, 1+refused)
	var wg sync.WaitGroup
	wg.Go(func() { c.EvalSha(ctx, sha, []string{prefix + "x"}, "0") }) // the first send, held
	waitFirstSent(t, c)
	var mu sync.Mutex
	var okAt time.Time
	var refusedAt []time.Time
	wg.Go(func() {
		if err := c.EvalSha(ctx, sha, []string{prefix + "ok"}, "0").Err(); err != nil {
			t.Error(err)
		}
		mu.Lock()
		okAt = time.Now()
		mu.Unlock()
	})
	for range refused {
		wg.Go(func() {
			if err := c.EvalSha(ctx, sha, []string{prefix + "r"}, "1").Err(); err == nil {
				t.Error("a refused script answered without an error")
			}
			mu.Lock()
			refusedAt = append(refusedAt, time.Now())
			mu.Unlock()
		})
	}
	wg.Wait()
	if s := sizes(); len(s) != 2 || s[1] != 1+refused {
		t.Fatalf("sends %v, want [1 %d]", s, 1+refused)
	}
	for _, at := range refusedAt {
		if !okAt.Before(at) {
			t.Fatalf("the call that ran was answered at %v, after a refused call's resend ended at %v", okAt, at)
		}
	}
}
