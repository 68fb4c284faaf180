package queue

// Estimates per service (API.md v1.1, "Estimates"): how long a ticket with N
// people ahead of it will wait, as a median and a range, from the service's
// own recent pace and the counters that serve it.
//
// How the integration uses this file: the store keeps, per service, the
// calls of the current local day (Calendar.LocalDate) as CallRecords, oldest
// first. When a service's state changes, ServicePace(calls, now) is
// computed once, and every waiting ticket of the service gets
// pace.Wait(people_ahead).Through(calendar, now): the Service's
// estimated_wait_seconds and estimated_wait_range are those of a ticket
// joining now (people_ahead = the service's waiting count). No pace (fewer
// than EstimateMinCalls calls today) means both are null.
//
// The method and its measured error are in docs/ESTIMATES.md;
// loadtest/officeday replays office days to measure it.

import (
	"math"
	"slices"
	"time"
)

// Estimator constants. docs/ESTIMATES.md explains each.
const (
	// EstimateMinCalls is how many calls a service needs today before it
	// has an estimate.
	EstimateMinCalls = 3
	// ActiveCounterWindow: a counter serves a service now if it called
	// from it this recently.
	ActiveCounterWindow = 15 * time.Minute
	// paceDecay weights a gap by exp(-age/paceDecay): the last hour counts
	// most, a gap an hour old weighs e^-2 (0.14) of a fresh one.
	paceDecay   = 30 * time.Minute
	paceHorizon = 6 * paceDecay
	// longGapFactor: a counter's gap longer than this many times the median
	// gap (and than minLongGap) spans a break, not a visit, and is left out.
	longGapFactor = 5
	minLongGap    = 10 * time.Minute
	// paceDrift is the relative uncertainty of the pace over the wait to
	// come, beyond what the calls so far show: counters opening and
	// closing, the mix of visits changing. Calibrated on simulated days
	// (docs/ESTIMATES.md).
	paceDrift = 0.35
	// The range is the central 80% of the predicted wait: z of the 10th
	// and 90th percentiles of a normal distribution.
	z90 = 1.2815515655446004
)

// PaceCall is one call from a service as the pace sees it: when, and at
// which counter.
type PaceCall struct {
	At      time.Time
	Counter string
}

// Pace is a service's observed pace at one instant: the rate at which its
// active counters call, and how irregular the gaps between calls are.
type Pace struct {
	// Interval is the expected time between two calls of the service with
	// its active counters (the inverse of their summed rates) while people
	// wait.
	Interval time.Duration
	// GapCV is the coefficient of variation of one such interval.
	GapCV float64
	// Counters is how many counters called from the service in the last
	// ActiveCounterWindow (or, when none did, in the window before its
	// last call).
	Counters int
	// Calls is the number of calls the pace was computed from.
	Calls int
	// PaceError is the relative standard error of Interval: few recent
	// gaps, or irregular ones, make it larger.
	PaceError float64
	// counters are the active counters' own paces.
	counters []counterPace
}

// counterPace is one active counter's pace, in seconds: every from its
// finished gaps only; busyEvery also counting the time since its last call
// as a visit still going on (right-censored), which it is while people
// wait; open is that time.
type counterPace struct {
	every, busyEvery, open float64
}

// WaitEstimate is a predicted wait: the median in Seconds, and the range
// [Low, High] of the 10th to 90th percentiles, in whole seconds.
type WaitEstimate struct {
	Seconds   int64
	Low, High int64
}

// Range is the estimate's range as the contract's estimated_wait_range.
func (w WaitEstimate) Range() [2]int64 { return [2]int64{w.Low, w.High} }

// ServicePace is the pace of a service from its calls of the current local
// day, oldest first, seen at now (calls after now are ignored). ok is false
// with fewer than EstimateMinCalls calls.
//
// Each counter's own pace is its time between consecutive calls from this
// service, weighted toward the last hour and shrunk toward the pace of all
// counters when it has few gaps; a counter that also serves other services
// shows a longer gap here, which is its real rate for this service. The
// service's rate is the sum of its active counters' rates. ok is also false
// until some counter has called twice: the first calls of a day come
// together at opening and say nothing of how long a visit takes.
func ServicePace(calls []PaceCall, now time.Time) (Pace, bool) {
	n := len(calls)
	for n > 0 && calls[n-1].At.After(now) {
		n--
	}
	calls = calls[:n]
	if n < EstimateMinCalls {
		return Pace{}, false
	}
	// Calls older than paceHorizon weigh under e^-6 of a fresh one: leave
	// them out, and the work per state change stays bounded all day.
	// Keep the last EstimateMinCalls whatever their age.
	from, _ := slices.BinarySearchFunc(calls, now.Add(-paceHorizon), func(c PaceCall, t time.Time) int { return c.At.Compare(t) })
	calls = calls[min(from, n-EstimateMinCalls):]
	n = len(calls)

	// Gaps between the service's consecutive calls, any counter.
	var svcGaps []gap
	for i := 1; i < n; i++ {
		svcGaps = append(svcGaps, gap{d: calls[i].At.Sub(calls[i-1].At), end: calls[i].At})
	}
	// Gaps between each counter's consecutive calls.
	last := map[string]time.Time{}
	perCounter := map[string][]gap{}
	var allCounter []gap
	for _, c := range calls {
		if prev, ok := last[c.Counter]; ok {
			g := gap{d: c.At.Sub(prev), end: c.At}
			perCounter[c.Counter] = append(perCounter[c.Counter], g)
			allCounter = append(allCounter, g)
		}
		last[c.Counter] = c.At
	}

	active := activeCounters(last, calls[n-1].At, now)
	p := Pace{Counters: len(active), Calls: n}
	kept := dropBreaks(svcGaps)
	_, svcCV := weightedMoments(kept, now)
	p.GapCV = clamp(svcCV, 0.5, 1.5)
	p.PaceError = p.GapCV / math.Sqrt(effectiveCount(kept, now))

	limit := breakLimit(allCounter)
	pooled, _ := weightedMoments(dropBreaks(allCounter), now)
	if pooled <= 0 {
		// No counter has called twice yet (the first calls of the day come
		// together at opening): nothing is known of the visits' length.
		return Pace{}, false
	}
	for _, name := range active {
		gaps := dropBreaks(perCounter[name])
		sum, weight := 0.0, 0.0
		for _, g := range gaps {
			w := decay(g.end, now)
			sum += w * g.d.Seconds()
			weight += w
		}
		// Shrink toward the pooled pace with the weight of one fresh gap.
		// While people wait the counter is busy, so the time since its
		// last call is part of a visit: the total time over the finished
		// visits (the exponential's estimate under censoring). Unless that
		// time is already as long as a break: then it is one.
		open := now.Sub(last[name])
		c := counterPace{every: (sum + pooled) / (weight + 1), open: open.Seconds()}
		c.busyEvery = c.every
		if open <= limit {
			c.busyEvery = (sum + pooled + open.Seconds()) / (weight + 1)
		}
		p.counters = append(p.counters, c)
	}
	p.Interval = time.Duration(p.interval(true) * float64(time.Second))
	return p, p.Interval > 0
}

// interval is the time between the service's calls in seconds, with the
// counters busy (people waiting) or maybe idle.
func (p Pace) interval(busy bool) float64 {
	var rate float64
	for _, c := range p.counters {
		rate += 1 / c.pace(busy)
	}
	if rate == 0 {
		return p.Interval.Seconds()
	}
	return 1 / rate
}

func (c counterPace) pace(busy bool) float64 {
	if busy {
		return c.busyEvery
	}
	return c.every
}

// activeCounters are the counters whose last call is within the window
// before now or, when none is, within the window before the service's last
// call (the staffing last seen, e.g. after a lunch break nobody has called
// yet). Sorted, so the sum over them is deterministic.
func activeCounters(last map[string]time.Time, lastCall, now time.Time) []string {
	var out []string
	for _, ref := range []time.Time{now, lastCall} {
		for name, at := range last {
			if ref.Sub(at) <= ActiveCounterWindow {
				out = append(out, name)
			}
		}
		if len(out) > 0 {
			break
		}
	}
	slices.Sort(out)
	return out
}

type gap struct {
	d   time.Duration
	end time.Time
}

func decay(at, now time.Time) float64 {
	return math.Exp(-now.Sub(at).Seconds() / paceDecay.Seconds())
}

// breakLimit is the longest gap that is a visit, not a break: longGapFactor
// times the median gap, and at least minLongGap.
func breakLimit(gaps []gap) time.Duration {
	if len(gaps) == 0 {
		return minLongGap
	}
	ds := make([]time.Duration, len(gaps))
	for i, g := range gaps {
		ds[i] = g.d
	}
	slices.Sort(ds)
	return max(longGapFactor*ds[len(ds)/2], minLongGap)
}

// dropBreaks leaves out the gaps that span a break rather than a visit.
func dropBreaks(gaps []gap) []gap {
	if len(gaps) == 0 {
		return nil
	}
	limit := breakLimit(gaps)
	out := gaps[:0:0]
	for _, g := range gaps {
		if g.d <= limit {
			out = append(out, g)
		}
	}
	return out
}

// weightedMoments is the decay-weighted mean (seconds) and coefficient of
// variation of gaps.
func weightedMoments(gaps []gap, now time.Time) (mean, cv float64) {
	var w, s, ss float64
	for _, g := range gaps {
		x := decay(g.end, now)
		w += x
		s += x * g.d.Seconds()
		ss += x * g.d.Seconds() * g.d.Seconds()
	}
	if w == 0 {
		return 0, 0
	}
	mean = s / w
	if mean <= 0 {
		return 0, 0
	}
	v := ss/w - mean*mean
	return mean, math.Sqrt(max(v, 0)) / mean
}

// effectiveCount is Kish's effective sample size of the decay weights:
// (sum w)^2 / sum w^2; at least 1.
func effectiveCount(gaps []gap, now time.Time) float64 {
	var s, ss float64
	for _, g := range gaps {
		w := decay(g.end, now)
		s += w
		ss += w * w
	}
	if ss == 0 {
		return 1
	}
	return max(s*s/ss, 1)
}

func clamp(x, lo, hi float64) float64 { return min(max(x, lo), hi) }

// Wait is the predicted wait of a ticket with ahead people ahead of it: it
// is called at the service's (ahead+1)th call from now. Its expected time
// is read off the active counters' schedules: each counter calls next when
// its current visit should end (at once if it is overdue: probably free),
// then once per its own pace; the (ahead+1)th of those calls is the mean
// wait. Its variance is that of a sum of ahead+1 irregular gaps plus the
// uncertainty of the pace itself (PaceError, and paceDrift for what will
// change: counters opening and closing, the mix of visits). The wait is
// taken lognormal (positive and skewed) with that mean and variance; the
// estimate is its median and the range its 10th to 90th percentiles.
func (p Pace) Wait(ahead int) WaitEstimate {
	// With people ahead, every counter is in a visit; first in line, a
	// counter may be idle and call at once.
	busy := ahead > 0
	return p.waitWithMean(ahead, p.callTime(max(ahead, 0)+1, busy))
}

// waitWithMean is Wait(ahead) given the mean wait in seconds, the time of
// the (ahead+1)th call by callTime.
func (p Pace) waitWithMean(ahead int, mean float64) WaitEstimate {
	calls := max(ahead, 0) + 1
	busy := ahead > 0
	gap := p.interval(busy)
	mean = max(mean, 1)
	rel2 := paceDrift*paceDrift + p.PaceError*p.PaceError
	variance := float64(calls)*(p.GapCV*gap)*(p.GapCV*gap) + rel2*mean*mean
	s2 := math.Log(1 + variance/(mean*mean))
	mu := math.Log(mean) - s2/2
	s := math.Sqrt(s2)
	q := func(z float64) int64 { return int64(math.Round(math.Exp(mu + z*s))) }
	w := WaitEstimate{Seconds: q(0), Low: q(-z90), High: q(z90)}
	if ahead <= 0 {
		// First in line: a counter may be free right now, and nothing in
		// the calls says whether one is.
		w.Low = 0
	}
	return w
}

// callTime is when, in seconds from now, the counters' schedules make the
// nth call: each counter calls next when its current visit should end (at
// once if that is overdue), then once per its own pace.
func (p Pace) callTime(n int, busy bool) float64 {
	if len(p.counters) == 0 {
		return float64(n) * p.Interval.Seconds()
	}
	next := make([]float64, len(p.counters))
	for i, c := range p.counters {
		next[i] = max(c.pace(busy)-c.open, 0)
	}
	var t float64
	for range n {
		k := 0
		for i := range next {
			if next[i] < next[k] {
				k = i
			}
		}
		t = next[k]
		next[k] += p.counters[k].pace(busy)
	}
	return t
}

// Through carries a wait predicted from now across the times the schedule
// is closed later that local day (a lunch hour): counters do not call
// then. Past the day's last closing time runs on as it is: what happens to
// a ticket still waiting then is the at_close rule's, not the pace's.
func (w WaitEstimate) Through(c *Calendar, now time.Time) WaitEstimate {
	if c == nil || !c.HasHours() {
		return w
	}
	end, ok := c.LastClosing(c.LocalDate(now))
	if ok && !now.Before(end) {
		return w
	}
	shift := func(s int64) int64 {
		d := time.Duration(s) * time.Second
		at := c.AddOpenTime(now, d)
		if ok && at.After(end) {
			// Skip the closed time before the close, then run plainly.
			at = end.Add(d - openBetween(c, now, end))
		}
		return int64(math.Round(at.Sub(now).Seconds()))
	}
	return WaitEstimate{Seconds: shift(w.Seconds), Low: shift(w.Low), High: shift(w.High)}
}

// openBetween is how much open time the schedule has in [from, to).
func openBetween(c *Calendar, from, to time.Time) time.Duration {
	var open time.Duration
	for d := c.LocalDate(from).AddDays(-1); d.Compare(c.LocalDate(to)) <= 0; d = d.AddDays(1) {
		for _, iv := range c.Periods(d) {
			s, e := laterTime(iv.Start, from), minTime(iv.End, to)
			if e.After(s) {
				open += e.Sub(s)
			}
		}
	}
	return open
}

func laterTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
