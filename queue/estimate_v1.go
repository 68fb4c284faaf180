package queue

// The v1 estimate, replayable: the yardstick the v1.1 estimator is measured
// against (loadtest/officeday, docs/ESTIMATES.md). It drives the very code
// v1 runs (Institution.observeCalls and estimateWait), so the comparison is
// with what v1 really tells people. The integration does not call this to
// serve requests.

import "time"

// V1Pace replays calls through v1's institution-wide call pace.
type V1Pace struct {
	inst Institution
}

// Observe records one advance that called n tickets at at.
func (p *V1Pace) Observe(n int, at time.Time) { p.inst.observeCalls(n, at) }

// Estimate is v1's estimated_wait_seconds for a ticket with ahead people
// ahead of it; nil while v1 has no pace.
func (p *V1Pace) Estimate(ahead int64) *int64 { return estimateWait(p.inst.CallInterval, ahead) }
