package app

// The office day's job: one River periodic job that River runs on its
// elected leader only (in both modes), which calls queue.Service.RunDay:
// automatic opening and closing at each boundary, the close of the day,
// and the fair opening's commitments and draws. RunDay decides everything
// under each institution's row lock from stored state, so a job that runs
// twice, or on a new leader after the old one died, does nothing twice.

import (
	"context"
	"fmt"
	"time"

	"github.com/riverqueue/river"

	"github.com/queueless/queueless/jobs"
	"github.com/queueless/queueless/queue"
)

// DayConfig tunes the office day.
type DayConfig struct {
	// DefaultTimezone is the time zone of an institution created without
	// one (an IANA name).
	DefaultTimezone string
	// Interval is how often the day job runs on the leader.
	Interval time.Duration
}

func init() {
	envVars = append(envVars,
		envVar{"DEFAULT_TIMEZONE", "UTC", "time zone (IANA name, e.g. Asia/Manila) of an institution created without one: its hours, local days, labels and quotas", func(c *Config, v string) error {
			if _, err := queue.LoadTimezone(v); err != nil {
				return fmt.Errorf("DEFAULT_TIMEZONE: %w", err)
			}
			c.Day.DefaultTimezone = v
			return nil
		}},
		envVar{"DAY_JOB_INTERVAL", "2s", "how often the office-day job (opening, closing, close of day, draws) runs on River's leader (1s..1m): boundaries are acted on within this", durationVar(func(c *Config) *time.Duration { return &c.Day.Interval }, time.Second, time.Minute)},
	)
}

// dayArgs is the day job: no arguments, the clock decides.
type dayArgs struct{}

func (dayArgs) Kind() string { return "office_day" }

// InsertOpts: a failed run is not retried; the next one, seconds later,
// does what is still due.
func (dayArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: jobs.QueueDefault, MaxAttempts: 1}
}

type dayWorker struct {
	river.WorkerDefaults[dayArgs]
	a *App
}

func (w *dayWorker) Work(ctx context.Context, job *river.Job[dayArgs]) error {
	q := w.a.Queue
	if q == nil {
		return nil // still starting
	}
	rep, err := q.RunDay(ctx, time.Now())
	if rep.StatusSet+rep.DaysClosed+rep.Committed+rep.Drawn > 0 {
		w.a.log.Info("office day", "status_changes", rep.StatusSet, "days_closed", rep.DaysClosed,
			"expired", rep.Expired, "carried_over", rep.CarriedOver, "commitments", rep.Committed, "drawn", rep.Drawn)
	}
	return err
}

// registerDay adds the day job to reg: River runs periodic jobs on its
// leader only.
func (a *App) registerDay(reg *jobs.Registry) {
	river.AddWorker(reg.Workers, &dayWorker{a: a})
	every := a.cfg.Day.Interval
	if every <= 0 {
		every = 2 * time.Second
	}
	reg.Periodic = append(reg.Periodic, river.NewPeriodicJob(river.PeriodicInterval(every),
		func() (river.JobArgs, *river.InsertOpts) { return dayArgs{}, nil },
		&river.PeriodicJobOpts{RunOnStart: true}))
}
