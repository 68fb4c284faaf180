package jobs

import (
	"sync/atomic"
	"time"
)

// Pressure is how busy this instance's request path is, as the deliveries
// see it (issue 13: during a flash crowd, joins first; texts, pushes and
// webhooks a few seconds later). The join path feeds it (Enter, and the
// returned exit); the delivery queue's workers wait on it (Yield) before
// they work a job, so that a backlog of deliveries does not take CPU and
// PostgreSQL commits from the crowd still joining.
//
// The instance is busy while at least Threshold joins are in flight, and
// for Quiet after the last moment they were: a closed-loop or open crowd
// keeps the count up between one join's end and the next one's start, and
// the hysteresis keeps a wait from ending in such a gap. Pressure is per
// instance: an instance with no joins of its own works deliveries at once.
type Pressure struct {
	threshold int64
	quiet     time.Duration
	now       func() time.Time

	inFlight atomic.Int64
	lastBusy atomic.Int64 // UnixNano of the last moment inFlight was at or above threshold; 0: never

	held     atomic.Int64 // jobs that waited
	heldNano atomic.Int64 // how long they waited, in all
}

// Held returns how many delivery jobs waited for the request path, and
// how long in all (the metrics queueless_deliveries_held_*).
func (p *Pressure) Held() (jobs int64, total time.Duration) {
	return p.held.Load(), time.Duration(p.heldNano.Load())
}

// DefaultQuiet is how long the instance stays busy after the joins in
// flight fell below the threshold.
const DefaultQuiet = time.Second

// NewPressure returns a signal that is busy from threshold joins in flight
// (at least 1), quiet for quiet after (DefaultQuiet when not positive).
func NewPressure(threshold int, quiet time.Duration) *Pressure {
	return newPressure(threshold, quiet, time.Now)
}

func newPressure(threshold int, quiet time.Duration, now func() time.Time) *Pressure {
	if quiet <= 0 {
		quiet = DefaultQuiet
	}
	return &Pressure{threshold: int64(max(threshold, 1)), quiet: quiet, now: now}
}

// Enter counts one request of the request path in flight; call exit when
// it is answered.
func (p *Pressure) Enter() (exit func()) {
	if p.inFlight.Add(1) >= p.threshold {
		p.lastBusy.Store(p.now().UnixNano())
	}
	return func() {
		// Busy until the last of a busy spell ends, not the first.
		if p.inFlight.Add(-1)+1 >= p.threshold {
			p.lastBusy.Store(p.now().UnixNano())
		}
	}
}

// InFlight returns the requests counted in flight now.
func (p *Pressure) InFlight() int { return int(p.inFlight.Load()) }

// busy reports whether the request path is busy at now, and if so the
// earliest moment it may be quiet (the moment to look again).
func (p *Pressure) busy(now time.Time) (bool, time.Time) {
	if p.inFlight.Load() >= p.threshold {
		return true, now.Add(p.quiet)
	}
	last := p.lastBusy.Load()
	if last == 0 {
		return false, time.Time{}
	}
	quietAt := time.Unix(0, last).Add(p.quiet)
	return now.Before(quietAt), quietAt
}

// Busy reports whether the request path is busy now.
func (p *Pressure) Busy() bool {
	b, _ := p.busy(p.now())
	return b
}
