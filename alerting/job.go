package alerting

import (
	"context"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/queueless/queueless/jobs"
)

// DefaultInterval is how often alerts are evaluated: the contract asks
// for at least every 15 seconds.
const DefaultInterval = 10 * time.Second

// MaxInterval is the longest interval the contract allows.
const MaxInterval = 15 * time.Second

// evaluateArgs is the periodic job that evaluates every institution.
type evaluateArgs struct{}

func (evaluateArgs) Kind() string { return "alerts_evaluate" }

// InsertOpts: one attempt (the next period evaluates again), and no new
// evaluation while one waits or runs, so that a slow period never piles up
// a backlog and two evaluations of one instance's leader never overlap.
func (evaluateArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: jobs.QueueDefault, MaxAttempts: 1,
		UniqueOpts: river.UniqueOpts{ByState: []rivertype.JobState{rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRunning, rivertype.JobStateScheduled}}}
}

type worker struct {
	river.WorkerDefaults[evaluateArgs]
	e *Evaluator
}

func (w *worker) Work(ctx context.Context, _ *river.Job[evaluateArgs]) error {
	_, err := w.e.EvaluateAll(ctx)
	return err
}

// Register adds the evaluation worker and its periodic job, every
// interval (DefaultInterval when 0), to reg. River enqueues periodic jobs
// on its elected leader only: one instance evaluates at a time, and when
// it dies another takes over. The job runs at start too.
func Register(reg *jobs.Registry, e *Evaluator, interval time.Duration) {
	if interval <= 0 {
		interval = DefaultInterval
	}
	river.AddWorker(reg.Workers, &worker{e: e})
	reg.Periodic = append(reg.Periodic, river.NewPeriodicJob(river.PeriodicInterval(interval),
		func() (river.JobArgs, *river.InsertOpts) { return evaluateArgs{}, nil },
		&river.PeriodicJobOpts{RunOnStart: true}))
}
