package jobs

import (
	"context"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
)

// yield is the one rule by which deliveries give way to the request path:
// a job of the deliveries queue (texts, pushes, webhooks) waits, before it
// is worked, while Pressure says the instance is busy, but never past max
// after the job became due (its scheduled_at: inserted, or its retry's
// time), and never more than max in one wait whatever the clocks say. A
// text is then at most max later than it would have been; a crowd longer
// than max gets the deliveries worked alongside it again.
//
// It is River worker middleware, which River runs outside the job's own
// timeout (the timeout starts when the worker does), so a wait never eats
// into a send's deadline; JOBS_RESCUE_AFTER must exceed max plus the
// longest job timeout (internal/app validates it). While the waiting jobs
// hold all of a queue's workers River fetches no more of them: the
// backlog stays in river_job, available to other instances.
type yield struct {
	river.MiddlewareDefaults
	pressure *Pressure
	max      time.Duration
	queue    string
	now      func() time.Time
	// sleep waits d or until ctx ends; tests replace it with a fake clock.
	sleep func(ctx context.Context, d time.Duration) error
}

func newYield(p *Pressure, max time.Duration) *yield {
	return &yield{pressure: p, max: max, queue: QueueDeliveries, now: p.now, sleep: sleepCtx}
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Work implements rivertype.WorkerMiddleware.
func (y *yield) Work(ctx context.Context, job *rivertype.JobRow, doInner func(context.Context) error) error {
	if job.Queue == y.queue {
		waited, err := y.wait(ctx, job.ScheduledAt)
		if waited > 0 {
			y.pressure.held.Add(1)
			y.pressure.heldNano.Add(int64(waited))
		}
		if err != nil {
			// The client is stopping: the job goes back as it was, for
			// this instance's next start or another instance, without
			// spending an attempt.
			return river.JobSnooze(0)
		}
	}
	return doInner(ctx)
}

// wait returns once the request path is quiet, or the job due at due has
// been held long enough; it returns how long it waited.
func (y *yield) wait(ctx context.Context, due time.Time) (time.Duration, error) {
	start := y.now()
	if busy, _ := y.pressure.busy(start); !busy {
		return 0, nil // the common case: no wait, and none counted
	}
	deadline := start.Add(y.max)
	if d := due.Add(y.max); d.Before(deadline) {
		deadline = d
	}
	for {
		now := y.now()
		busy, quietAt := y.pressure.busy(now)
		if !busy || !now.Before(deadline) {
			return now.Sub(start), nil
		}
		next := quietAt
		if deadline.Before(next) {
			next = deadline
		}
		if err := y.sleep(ctx, next.Sub(now)); err != nil {
			return now.Sub(start), err
		}
	}
}
