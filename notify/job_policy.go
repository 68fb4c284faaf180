package notify

import (
	"time"

	"github.com/riverqueue/river"
)

// jobPolicy is what every notify job shares: River's defaults, the
// service, a timeout a little past the gateway's, and the delivery backoff
// schedule (jobs.Backoff) for retries.
type jobPolicy[T river.JobArgs] struct {
	river.WorkerDefaults[T]
	s *Service
}

// Timeout implements river.Worker.
func (p jobPolicy[T]) Timeout(*river.Job[T]) time.Duration {
	return p.s.cfg.Timeout + 10*time.Second
}

// NextRetry implements river.Worker.
func (p jobPolicy[T]) NextRetry(job *river.Job[T]) time.Time {
	return time.Now().Add(p.s.cfg.Backoff.Delay(job.ID, job.Attempt))
}
