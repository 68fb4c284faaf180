package app

import (
	"context"
	"errors"
	"slices"
	"strings"
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
// A call that finds a send free (at most maxPipedSends in flight) and none
// waiting is sent at once, alone, by its caller; calls made while every send
// is busy queue, and go together as soon as one is free. Everything else
// goes to the client as it is.
type pipedClient struct {
	redis.UniversalClient
	max      int // most scripts in one pipeline
	maxSends int // most sends in flight at once

	mu      sync.Mutex
	pending []*evalCall
	sending int // sends in flight: callers sending alone and drains

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

// maxPipedSends bounds the sends in flight. More than one, so that a send
// stuck on one bad connection (or, on a cluster, one slow node) holds only
// the calls it carries: the next calls go on other connections of the
// pool, as they would without the pipeline.
const maxPipedSends = 4

func newPipedClient(c redis.UniversalClient) *pipedClient {
	return &pipedClient{UniversalClient: c, max: maxPiped, maxSends: maxPipedSends}
}

// EvalSha runs a script as the client does, possibly in a pipeline with
// others' calls. A caller whose context ends while its call waits gets the
// context's error, and its call is not sent; once sent, it may have
// counted (as a call cut after its write would have).
func (c *pipedClient) EvalSha(ctx context.Context, sha string, keys []string, args ...any) *redis.Cmd {
	call := &evalCall{ctx: ctx, sha: sha, keys: keys, args: args, done: make(chan struct{})}
	c.mu.Lock()
	if len(c.pending) == 0 && c.sending < c.maxSends {
		// A send free and none waiting: send it now, from this
		// goroutine.
		c.sending++
		call.taken = true
		c.mu.Unlock()
		c.send([]*evalCall{call})
		c.mu.Lock()
		c.sending--
		c.startDrainLocked()
		c.mu.Unlock()
		return call.cmd
	}
	c.pending = append(c.pending, call)
	c.startDrainLocked()
	c.mu.Unlock()
	select {
	case <-call.done:
		return call.cmd
	case <-ctx.Done():
	}
	select {
	case <-call.done: // answered as the context ended: the answer stands
		return call.cmd
	default:
	}
	c.mu.Lock()
	if !call.taken {
		c.pending = slices.DeleteFunc(c.pending, func(o *evalCall) bool { return o == call })
	}
	c.mu.Unlock()
	return failedCmd(ctx, call, ctx.Err())
}

// startDrainLocked starts a drain for the calls waiting, if a send is
// free. c.mu is held.
func (c *pipedClient) startDrainLocked() {
	if len(c.pending) == 0 || c.sending >= c.maxSends {
		return
	}
	c.sending++
	go c.drain()
}

// drain sends the queued calls, as many at once as max allows, until none
// is left.
func (c *pipedClient) drain() {
	for {
		c.mu.Lock()
		n := min(len(c.pending), c.max)
		if n == 0 {
			c.sending--
			c.mu.Unlock()
			return
		}
		batch := make([]*evalCall, 0, n)
		for _, call := range c.pending[:n] {
			call.taken = true
			if err := call.ctx.Err(); err != nil {
				// Its caller is gone (or going): not sent.
				call.cmd = failedCmd(call.ctx, call, err)
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

// failedCmd is the command of a call that was not sent, with its error.
func failedCmd(ctx context.Context, call *evalCall, err error) *redis.Cmd {
	argv := make([]any, 0, 3+len(call.keys)+len(call.args))
	argv = append(argv, "evalsha", call.sha, len(call.keys))
	for _, k := range call.keys {
		argv = append(argv, k)
	}
	argv = append(argv, call.args...)
	cmd := redis.NewCmd(ctx, argv...)
	cmd.SetErr(err)
	return cmd
}

// send runs the calls' scripts: one alone as the client would, more in one
// pipeline that lasts as long as the latest of their deadlines (each
// caller still leaves at its own). Each call's command carries its own
// answer or error. A script the server refused before running it with an
// error the client would have retried (LOADING, TRYAGAIN, CLUSTERDOWN, ...:
// go-redis retries those for a command alone, not in a pipeline) is sent
// again alone.
func (c *pipedClient) send(batch []*evalCall) {
	if c.beforeSend != nil {
		c.beforeSend(len(batch))
	}
	if len(batch) == 1 {
		call := batch[0]
		call.cmd = c.UniversalClient.EvalSha(call.ctx, call.sha, call.keys, call.args...)
		close(call.done)
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
	// Answers go out at once; the refused are sent again alone, together,
	// so that none waits for another's retries.
	var resends sync.WaitGroup
	for _, call := range batch {
		if !notRun(call.cmd.Err()) || call.ctx.Err() != nil {
			close(call.done)
			continue
		}
		resends.Go(func() {
			call.cmd = c.UniversalClient.EvalSha(call.ctx, call.sha, call.keys, call.args...)
			close(call.done)
		})
	}
	resends.Wait()
}

// notRun reports an error reply by which the server says it did not run
// the command and that it may be sent again (the replies go-redis retries).
func notRun(err error) bool {
	var rerr redis.Error
	if !errors.As(err, &rerr) {
		return false
	}
	msg := rerr.Error()
	for _, prefix := range []string{"LOADING ", "READONLY ", "CLUSTERDOWN ", "TRYAGAIN ", "MASTERDOWN "} {
		if strings.HasPrefix(msg, prefix) {
			return true
		}
	}
	return false
}

// batchContext keeps the first call's values and ends by the latest of the
// calls' deadlines, or never when one of them has none: one caller about to
// give up must not cut the others' pipeline short (each caller leaves at its
// own deadline anyway).
func batchContext(batch []*evalCall) (context.Context, context.CancelFunc) {
	var deadline time.Time
	for _, call := range batch {
		d, ok := call.ctx.Deadline()
		if !ok {
			deadline = time.Time{}
			break
		}
		if d.After(deadline) {
			deadline = d
		}
	}
	base := context.WithoutCancel(batch[0].ctx)
	if deadline.IsZero() {
		return context.WithCancel(base)
	}
	return context.WithDeadline(base, deadline)
}
