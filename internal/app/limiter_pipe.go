package app

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// pipedClient is the join limiter's Redis client: the scripts it runs
// (EVALSHA, one per counter) from joins at the same moment go to Redis
// together, in one pipeline, instead of one round trip each. A crowd's
// joins each count their phone (and their address) in the limiter's keys
// at once; each call costs the client a write, a read and a wake-up, and
// Redis a read and a write, when sent alone. The counts are the same as
// one call after another: Redis runs a pipeline's scripts in order, each
// atomically, and each caller gets its own script's answer.
//
// Group commit, as the join batcher does it: no call waits for a timer.
// A call that finds none in flight is sent at once, alone, by its caller;
// calls made while one is in flight queue, and go together as soon as it
// is answered. Everything else goes to the client as it is.
type pipedClient struct {
	redis.UniversalClient
	max int // most scripts in one pipeline

	mu      sync.Mutex
	pending []*evalCall
	running bool // a caller or drain is sending; the others queue

	// beforeSend, when set (tests), runs before each pipeline is sent.
	beforeSend func(n int)
}

type evalCall struct {
	ctx   context.Context
	sha   string
	keys  []string
	args  []any
	cmd   *redis.Cmd
	done  chan struct{}
	taken bool // sent or being sent; guarded by pipedClient.mu
}

// maxPiped bounds the scripts of one pipeline.
const maxPiped = 256

func newPipedClient(c redis.UniversalClient) *pipedClient {
	return &pipedClient{UniversalClient: c, max: maxPiped}
}

// EvalSha runs a script as the client does, possibly in a pipeline with
// others' calls. A caller whose context ends while its call waits gets the
// context's error, and its call is not sent; once sent, it may have
// counted (as a call cut after its write would have).
func (c *pipedClient) EvalSha(ctx context.Context, sha string, keys []string, args ...any) *redis.Cmd {
	call := &evalCall{ctx: ctx, sha: sha, keys: keys, args: args, done: make(chan struct{})}
	c.mu.Lock()
	if !c.running {
		// None in flight: send it now, from this goroutine, and leave
		// what queues meanwhile to a drain.
		c.running, call.taken = true, true
		c.mu.Unlock()
		c.send([]*evalCall{call})
		c.handOff()
		return call.cmd
	}
	c.pending = append(c.pending, call)
	c.mu.Unlock()
	select {
	case <-call.done:
		return call.cmd
	case <-ctx.Done():
	}
	c.mu.Lock()
	if !call.taken {
		c.pending = slices.DeleteFunc(c.pending, func(o *evalCall) bool { return o == call })
	}
	c.mu.Unlock()
	cmd := redis.NewCmd(ctx, append([]any{"evalsha", sha}, args...)...)
	cmd.SetErr(ctx.Err())
	return cmd
}

// handOff ends a send: the calls queued meanwhile go in a drain.
func (c *pipedClient) handOff() {
	c.mu.Lock()
	if len(c.pending) == 0 {
		c.running = false
		c.mu.Unlock()
		return
	}
	c.mu.Unlock()
	go c.drain()
}

// drain sends the queued calls, as many at once as max allows, until none
// is left.
func (c *pipedClient) drain() {
	for {
		c.mu.Lock()
		n := min(len(c.pending), c.max)
		if n == 0 {
			c.running = false
			c.mu.Unlock()
			return
		}
		batch := make([]*evalCall, 0, n)
		for _, call := range c.pending[:n] {
			call.taken = true
			if err := call.ctx.Err(); err != nil {
				// Its caller is gone (or going): not sent, and its
				// deadline does not cut the others' pipeline short.
				call.cmd = redis.NewCmd(call.ctx, "evalsha", call.sha)
				call.cmd.SetErr(err)
				close(call.done)
				continue
			}
			batch = append(batch, call)
		}
		c.pending = slices.Delete(c.pending, 0, n)
		c.mu.Unlock()
		if len(batch) > 0 {
			c.send(batch)
		}
	}
}

// send runs the calls' scripts: one alone as the client would, more in one
// pipeline bounded by the earliest of their deadlines. Each call's command
// carries its own answer or error.
func (c *pipedClient) send(batch []*evalCall) {
	if c.beforeSend != nil {
		c.beforeSend(len(batch))
	}
	defer func() {
		for _, call := range batch {
			close(call.done)
		}
	}()
	if len(batch) == 1 {
		call := batch[0]
		call.cmd = c.UniversalClient.EvalSha(call.ctx, call.sha, call.keys, call.args...)
		return
	}
	ctx, cancel := batchContext(batch)
	defer cancel()
	pipe := c.UniversalClient.Pipeline()
	for _, call := range batch {
		call.cmd = pipe.EvalSha(ctx, call.sha, call.keys, call.args...)
	}
	// Exec's error is also each failed command's: every caller reads its own.
	_, _ = pipe.Exec(ctx)
}

// batchContext keeps the first call's values and ends by the earliest of
// the calls' deadlines.
func batchContext(batch []*evalCall) (context.Context, context.CancelFunc) {
	var deadline time.Time
	for _, call := range batch {
		if d, ok := call.ctx.Deadline(); ok && (deadline.IsZero() || d.Before(deadline)) {
			deadline = d
		}
	}
	base := context.WithoutCancel(batch[0].ctx)
	if deadline.IsZero() {
		return context.WithCancel(base)
	}
	return context.WithDeadline(base, deadline)
}
