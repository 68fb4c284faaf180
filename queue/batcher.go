package queue

import (
	"context"
	"sync"
	"time"
)

// joinBatcher coalesces concurrent joins of one institution: while one
// transaction is in flight, arriving joins wait, and the next transaction
// takes them all (one lock, one multi-row insert, one commit). Each join
// still gets its own outcome. This is group commit at the application level:
// it turns the row lock's one-commit-at-a-time limit into many tickets per
// commit.
type joinBatcher struct {
	svc     *Service
	max     int           // most joins in one transaction
	timeout time.Duration // deadline of one batch transaction

	mu     sync.Mutex
	queues map[int64]*joinQueue
}

type joinQueue struct {
	pending []*joinCall
}

type joinCall struct {
	ctx  context.Context
	req  JoinRequest
	meta Meta
	done chan BatchResult
}

func newJoinBatcher(svc *Service, max int, timeout time.Duration) *joinBatcher {
	return &joinBatcher{svc: svc, max: max, timeout: timeout, queues: map[int64]*joinQueue{}}
}

// join queues a validated request and waits for its outcome or ctx.
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
		// If the call was already taken into a transaction, its ticket may
		// still be issued; a retry with the same Idempotency-Key finds it.
		return JoinResult{}, Errorf(CodeUnavailable, "the join could not be completed in time; please retry")
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
		b.mu.Unlock()
		b.run(id, batch)
	}
}

func (b *joinBatcher) run(id int64, batch []*joinCall) {
	live := batch[:0:0]
	for _, c := range batch {
		if c.ctx.Err() == nil { // a caller that gave up is not joined
			live = append(live, c)
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
	// caller's values (request id for logs) but not its cancellation.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(live[0].ctx), b.timeout)
	defer cancel()
	results := b.svc.JoinBatch(ctx, id, reqs, metas)
	for i, c := range live {
		c.done <- results[i]
	}
}
