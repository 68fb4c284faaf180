package queue

import (
	"context"
	"slices"
	"sync"
	"time"
)

// joinBatcher coalesces concurrent joins of one institution: while one
// transaction is in flight, arriving joins wait, and the next transaction
// takes them all (one lock, one multi-row insert, one commit). Each join
// still gets its own outcome. This is group commit at the application level:
// it turns the row lock's one-commit-at-a-time limit into many tickets per
// commit.
//
// A caller is never told a join did not happen when it then does: a join
// still queued when its caller gives up is taken out of the queue (never
// tried: "please retry" is true); one taken into a transaction waits for
// that transaction, which ends by the earliest deadline of the callers it
// serves. When the transaction's commit was sent but not confirmed, the
// caller is told the outcome is unknown and to retry with the same
// Idempotency-Key, which finds the ticket if there is one.
type joinBatcher struct {
	svc     *Service
	max     int           // most joins in one transaction
	timeout time.Duration // longest a batch transaction may take

	mu     sync.Mutex
	queues map[int64]*joinQueue
}

type joinQueue struct {
	pending []*joinCall
}

type joinCall struct {
	ctx   context.Context
	req   JoinRequest
	meta  Meta
	done  chan BatchResult
	taken bool // in a batch; guarded by joinBatcher.mu
}

// minJoinTime is the least time a caller must have left for its join to be
// tried: a transaction ends by the earliest deadline of its callers, and
// one caller about to give up must not cut everyone's short.
const minJoinTime = 50 * time.Millisecond

// outcomeWait bounds how long a caller whose deadline passed waits for
// the transaction that took its join, which ends by that deadline too.
const outcomeWait = 2 * time.Second

// Errors a join's caller may get from the batcher.
var (
	errJoinNotTried = Errorf(CodeUnavailable, "the join could not be completed in time; please retry")
	errJoinUnknown  = &Error{Code: CodeUnavailable, Message: "We could not confirm whether your ticket was issued. " +
		"Retry with the same Idempotency-Key: you will get the ticket if it was issued, and never a second number."}
)

func newJoinBatcher(svc *Service, max int, timeout time.Duration) *joinBatcher {
	return &joinBatcher{svc: svc, max: max, timeout: timeout, queues: map[int64]*joinQueue{}}
}

// join queues a validated request and waits for its outcome.
func (b *joinBatcher) join(ctx context.Context, id int64, req JoinRequest, meta Meta) (JoinResult, error) {
	call := &joinCall{ctx: ctx, req: req, meta: meta, done: make(chan BatchResult, 1)}
	b.mu.Lock()
	q, running := b.queues[id]
	if !running {
		q = &joinQueue{}
		b.queues[id] = q
	}
	q.pending = append(q.pending, call)
	b.mu.Unlock()
	if !running {
		go b.drain(id, q)
	}
	select {
	case r := <-call.done:
		return r.JoinResult, r.Err
	case <-ctx.Done():
	}
	b.mu.Lock()
	if !call.taken {
		q.pending = slices.DeleteFunc(q.pending, func(c *joinCall) bool { return c == call })
		b.mu.Unlock()
		return JoinResult{}, errJoinNotTried
	}
	b.mu.Unlock()
	// A transaction has it, and ends by this caller's deadline: wait for
	// what it did.
	t := time.NewTimer(outcomeWait)
	defer t.Stop()
	select {
	case r := <-call.done:
		return r.JoinResult, r.Err
	case <-t.C:
		return JoinResult{}, outcomeUnknown(nil)
	}
}

// drain runs batches for institution id until its queue is empty.
func (b *joinBatcher) drain(id int64, q *joinQueue) {
	for {
		b.mu.Lock()
		n := min(len(q.pending), b.max)
		if n == 0 {
			delete(b.queues, id)
			b.mu.Unlock()
			return
		}
		batch := q.pending[:n:n]
		q.pending = q.pending[n:]
		for _, c := range batch {
			c.taken = true
		}
		b.mu.Unlock()
		b.run(id, batch)
	}
}

// batchDeadline returns the callers to serve and the deadline of their
// transaction: the earliest of theirs, and at most timeout from now.
// Callers gone, or with less than minJoinTime left, are left out.
func batchDeadline(batch []*joinCall, now time.Time, timeout time.Duration) ([]*joinCall, time.Time) {
	deadline := now.Add(timeout)
	live := batch[:0:0]
	for _, c := range batch {
		if c.ctx.Err() != nil {
			continue
		}
		if d, ok := c.ctx.Deadline(); ok {
			if d.Sub(now) < minJoinTime {
				continue
			}
			if d.Before(deadline) {
				deadline = d
			}
		}
		live = append(live, c)
	}
	return live, deadline
}

func (b *joinBatcher) run(id int64, batch []*joinCall) {
	live, deadline := batchDeadline(batch, time.Now(), b.timeout)
	for _, c := range batch {
		if !slices.Contains(live, c) {
			c.done <- BatchResult{Err: errJoinNotTried} // never tried
		}
	}
	if len(live) == 0 {
		return
	}
	reqs := make([]JoinRequest, len(live))
	metas := make([]Meta, len(live))
	for i, c := range live {
		reqs[i], metas[i] = c.req, c.meta
	}
	// The transaction belongs to no single caller: it keeps the first
	// caller's values (request id for logs) and ends by the earliest
	// deadline of them all.
	ctx, cancel := context.WithDeadline(context.WithoutCancel(live[0].ctx), deadline)
	defer cancel()
	results := b.svc.JoinBatch(ctx, id, reqs, metas)
	for i, c := range live {
		if r := results[i]; r.Err != nil && isOutcomeUnknown(r.Err) {
			results[i].Err = outcomeUnknown(r.Err)
		}
		c.done <- results[i]
	}
}
