package queue

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"testing"
	"time"
)

var estT0 = time.Date(2026, 12, 21, 0, 0, 0, 0, time.UTC) // a Monday

// everyN makes calls at counter name every gap from start, count of them.
func everyN(name string, start time.Time, gap time.Duration, count int) []PaceCall {
	var out []PaceCall
	for i := range count {
		out = append(out, PaceCall{At: start.Add(time.Duration(i) * gap), Counter: name})
	}
	return out
}

func merge(lists ...[]PaceCall) []PaceCall {
	var out []PaceCall
	for _, l := range lists {
		out = append(out, l...)
	}
	// Insertion sort by time: the lists are short.
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j].At.Before(out[j-1].At); j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

func near(got, want time.Duration, tol float64) bool {
	return math.Abs(got.Seconds()-want.Seconds()) <= tol*want.Seconds()
}

func TestEstimateNeedsThreeCallsToday(t *testing.T) {
	t.Parallel()
	at := estT0.Add(8 * time.Hour)
	calls := everyN("1", at, 5*time.Minute, 3)
	if _, ok := ServicePace(calls[:2], at.Add(time.Hour)); ok {
		t.Error("a pace from 2 calls")
	}
	if _, ok := ServicePace(calls, at.Add(9*time.Minute)); ok {
		t.Error("a pace from a call that has not happened yet")
	}
	p, ok := ServicePace(calls, at.Add(10*time.Minute))
	if !ok || p.Calls != 3 {
		t.Fatalf("pace = %+v, %v; want one from 3 calls", p, ok)
	}
	if got := time.Duration(p.interval(false) * float64(time.Second)); !near(got, 5*time.Minute, 0.01) || p.Counters != 1 {
		t.Errorf("pace = %+v (%v), want one counter calling every 5 minutes", p, got)
	}
	// Three calls at three counters at opening: no counter has called
	// twice, so nothing is known of how long a visit takes.
	three := []PaceCall{{at, "1"}, {at, "2"}, {at.Add(time.Second), "3"}}
	if p, ok := ServicePace(three, at.Add(5*time.Minute)); ok {
		t.Errorf("pace = %+v from three first calls; want none", p)
	}
}

func TestEstimatePaceFromCounters(t *testing.T) {
	t.Parallel()
	start := estT0.Add(8 * time.Hour)
	now := start.Add(2 * time.Hour)
	tests := []struct {
		name     string
		calls    []PaceCall
		interval time.Duration
		counters int
	}{
		{"two counters every 6 minutes", merge(everyN("1", start, 6*time.Minute, 20), everyN("2", start.Add(3*time.Minute), 6*time.Minute, 20)),
			3 * time.Minute, 2},
		{"a slow and a fast counter add their rates", merge(everyN("1", start, 4*time.Minute, 30), everyN("2", start, 12*time.Minute, 10)),
			3 * time.Minute, 2},
		{"a counter gone 20 minutes no longer counts", merge(everyN("1", start, 6*time.Minute, 20), everyN("2", start, 6*time.Minute, 17)),
			6 * time.Minute, 1},
		{"a counter just back from lunch: its long gap is a break", merge(
			everyN("1", start, 5*time.Minute, 12), everyN("1", start.Add(110*time.Minute), 5*time.Minute, 3),
			everyN("2", start, 5*time.Minute, 24)), 150 * time.Second, 2},
	}
	for _, tt := range tests {
		p, ok := ServicePace(tt.calls, now)
		if !ok {
			t.Fatalf("%s: no pace", tt.name)
		}
		// The pace of finished visits is exact; with people waiting the
		// time since each counter's last call counts as a visit going on,
		// which can only make the pace slower.
		idle := time.Duration(p.interval(false) * float64(time.Second))
		if p.Counters != tt.counters || !near(idle, tt.interval, 0.03) {
			t.Errorf("%s: pace = %+v (%v); want interval %v with %d counters", tt.name, p, idle, tt.interval, tt.counters)
		}
		if p.Interval < idle || p.Interval > idle*3/2 {
			t.Errorf("%s: busy interval %v, want from %v to half as much again", tt.name, p.Interval, idle)
		}
	}
}

// TestEstimateVisitGoingOn: while people wait, a counter that has not
// called for longer than its usual visit is in a long visit; the pace
// slows with every minute it lasts, and its next call is expected at once.
func TestEstimateVisitGoingOn(t *testing.T) {
	t.Parallel()
	start := estT0.Add(8 * time.Hour)
	calls := everyN("1", start, 5*time.Minute, 12) // last call at 08:55
	var prev time.Duration
	for _, open := range []time.Duration{time.Minute, 5 * time.Minute, 10 * time.Minute, 14 * time.Minute} {
		p, ok := ServicePace(calls, start.Add(55*time.Minute+open))
		if !ok {
			t.Fatal("no pace")
		}
		if p.Interval <= prev {
			t.Errorf("%v into a visit: interval %v, want longer than %v", open, p.Interval, prev)
		}
		prev = p.Interval
		// First in line, a counter 1 minute into a 5-minute visit calls in
		// about 4 minutes; one 10 minutes in, at once.
		w := p.Wait(0)
		if open >= 10*time.Minute && w.Seconds > 1 {
			t.Errorf("%v into a visit: first in line waits %d s, want about nothing", open, w.Seconds)
		}
		if open == time.Minute && (w.Seconds < 180 || w.Seconds > 260 || w.Low != 0) {
			t.Errorf("1 minute into a 5-minute visit: %+v, want about 4 minutes with a range from 0", w)
		}
	}
}

func TestEstimateWeightsTheLastHour(t *testing.T) {
	t.Parallel()
	start := estT0.Add(8 * time.Hour)
	// Two hours at 10 minutes a visit, then an hour at 4.
	slow := everyN("1", start, 10*time.Minute, 13)
	fast := everyN("1", start.Add(124*time.Minute), 4*time.Minute, 15)
	now := start.Add(180 * time.Minute)
	p, ok := ServicePace(append(slow, fast...), now)
	if !ok {
		t.Fatal("no pace")
	}
	// Unweighted the mean gap is ~6.4 minutes; weighted toward the last
	// hour (a gap an hour old weighs e^-2 of a fresh one) it is near 4.
	if p.Interval > 4*time.Minute+40*time.Second || p.Interval < 4*time.Minute {
		t.Errorf("interval %v, want between 4 and 5 minutes: the last hour counts most", p.Interval)
	}
}

func TestEstimateWaitShape(t *testing.T) {
	t.Parallel()
	p := Pace{Interval: 2 * time.Minute, GapCV: 1, Counters: 2, Calls: 10}
	prev := WaitEstimate{}
	for ahead := 0; ahead <= 50; ahead++ {
		w := p.Wait(ahead)
		if !(w.Low < w.Seconds && w.Seconds < w.High) {
			t.Fatalf("ahead %d: %+v is not low < median < high", ahead, w)
		}
		if w.Seconds <= prev.Seconds || w.High <= prev.High {
			t.Fatalf("ahead %d: %+v does not grow from %+v", ahead, w, prev)
		}
		// The median of a skewed wait is under its mean, and nearer it as
		// the wait sums more visits.
		mean := float64(ahead+1) * 120
		if lo := 0.65 + 0.25*float64(min(ahead, 10))/10; float64(w.Seconds) > mean || float64(w.Seconds) < lo*mean {
			t.Fatalf("ahead %d: median %d s, want a little under the mean %.0f s", ahead, w.Seconds, mean)
		}
		prev = w
	}
	if got := p.Wait(-3); got != p.Wait(0) {
		t.Errorf("negative ahead %+v, want as 0 %+v", got, p.Wait(0))
	}
	if r := p.Wait(9).Range(); r[0] != p.Wait(9).Low || r[1] != p.Wait(9).High {
		t.Errorf("Range = %v", r)
	}
}

// TestEstimateCalibrated checks the estimate on a steady office: 3
// counters, lognormal visits, nobody opening or closing. The range allows
// for the staffing changes of a real day (paceDrift), which this office
// has not, so more than the 80% target fall inside, but not all: a range
// that always holds would be too wide to say anything. The median error is
// small.
func TestEstimateCalibrated(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(5, 5))
	inside, total := 0, 0
	var absErr, waits []float64
	for day := range 40 {
		start := estT0.AddDate(0, 0, day).Add(8 * time.Hour)
		var calls []PaceCall
		for c := range 3 {
			at := start
			for at.Before(start.Add(8 * time.Hour)) {
				calls = append(calls, PaceCall{At: at, Counter: fmt.Sprint(c)})
				at = at.Add(time.Duration(math.Exp(math.Log(240)+0.6*r.NormFloat64()) * float64(time.Second)))
			}
		}
		calls = merge(calls)
		for k := 0; k < 20; k++ {
			i := 20 + r.IntN(len(calls)-80)
			now := calls[i].At.Add(time.Second)
			ahead := r.IntN(30)
			p, ok := ServicePace(calls[:i+1], now)
			if !ok {
				t.Fatal("no pace after 20 calls")
			}
			ahead = max(ahead, 1) // people wait: counters are busy
			w := p.Wait(ahead)
			real := calls[i+1+ahead].At.Sub(now).Seconds()
			total++
			absErr = append(absErr, math.Abs(float64(w.Seconds)-real))
			waits = append(waits, real)
			if float64(w.Low) <= real && real <= float64(w.High) {
				inside++
			}
		}
	}
	share := float64(inside) / float64(total)
	rel := medianOf(absErr) / medianOf(waits)
	t.Logf("%d of %d real waits inside the range (%.0f%%); median absolute error %.0f%% of the median wait", inside, total, 100*share, 100*rel)
	if share < 0.80 || share > 0.99 {
		t.Errorf("%.0f%% inside the range, want 80..99%%", 100*share)
	}
	if rel > 0.20 {
		t.Errorf("median absolute error %.0f%% of the median wait, want under 20%%", 100*rel)
	}
}

func TestEstimateThroughLunch(t *testing.T) {
	t.Parallel()
	c, at := manila(t)
	w := WaitEstimate{Seconds: 1800, Low: 600, High: 3600}
	got := w.Through(c, at("2026-12-21 11:40:00"))
	// 20 minutes before lunch, then the rest after 13:00.
	if want := (WaitEstimate{Seconds: 90 * 60, Low: 600, High: 120 * 60}); got != want {
		t.Errorf("through lunch = %+v, want %+v", got, want)
	}
	// Past the day's last closing time runs on: no jump to tomorrow.
	got = w.Through(c, at("2026-12-21 16:50:00"))
	if want := w; got != want {
		t.Errorf("at 16:50 = %+v, want unchanged %+v", got, want)
	}
	got = (WaitEstimate{Seconds: 7200}).Through(c, at("2026-12-21 11:00:00"))
	if want := int64((2*time.Hour + time.Hour) / time.Second); got.Seconds != want {
		t.Errorf("2 hours from 11:00 = %d s, want %d (lunch skipped)", got.Seconds, want)
	}
	if got := w.Through(nil, at("2026-12-21 11:40:00")); got != w {
		t.Errorf("without a calendar = %+v", got)
	}
	if got := w.Through(c, at("2026-12-21 18:00:00")); got != w {
		t.Errorf("after the close = %+v", got)
	}
}

func TestEstimateV1Replay(t *testing.T) {
	t.Parallel()
	var p V1Pace
	if p.Estimate(3) != nil {
		t.Fatal("v1 estimate before any call")
	}
	at := estT0.Add(8 * time.Hour)
	for i := range 5 {
		p.Observe(1, at.Add(time.Duration(i)*time.Minute))
	}
	if got := p.Estimate(4); got == nil || *got != 300 {
		t.Errorf("v1 estimate for 4 ahead at a call a minute = %v, want 300", got)
	}
}

func medianOf(xs []float64) float64 {
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	return s[len(s)/2]
}

// TestEstimateCounterOnBreak: counters gone longer than a visit can last
// (5 times the median visit) are on a break, not in a long visit. After
// the lunch hour, before anyone has called again, the pace is the one they
// had, not slowed by the hour.
func TestEstimateCounterOnBreak(t *testing.T) {
	t.Parallel()
	start := estT0.Add(8 * time.Hour)
	calls := merge(everyN("1", start, 4*time.Minute, 30), everyN("2", start.Add(time.Minute), 4*time.Minute, 30))
	now := calls[len(calls)-1].At.Add(50 * time.Minute)
	p, ok := ServicePace(calls, now)
	if !ok || p.Counters != 2 {
		t.Fatalf("pace = %+v, %v; want the two counters last seen", p, ok)
	}
	if !near(p.Interval, 2*time.Minute, 0.02) {
		t.Errorf("interval %v after a 50-minute break, want the 2 minutes of before", p.Interval)
	}
	// The same counters 6 minutes into a visit: that does count.
	p, _ = ServicePace(calls, calls[len(calls)-1].At.Add(6*time.Minute))
	if p.Interval <= 2*time.Minute {
		t.Errorf("interval %v 6 minutes into 4-minute visits, want slower than 2 minutes", p.Interval)
	}
}

// TestEstimateOldCalls: calls hours old (a service quiet since the morning)
// still give a pace, and nothing breaks when all are past the horizon.
func TestEstimateOldCalls(t *testing.T) {
	t.Parallel()
	start := estT0.Add(8 * time.Hour)
	calls := everyN("1", start, 5*time.Minute, 6)
	p, ok := ServicePace(calls, start.Add(8*time.Hour))
	if !ok || p.Calls != EstimateMinCalls || !near(time.Duration(p.interval(false)*float64(time.Second)), 5*time.Minute, 0.01) {
		t.Fatalf("pace = %+v, %v; want the last 3 calls' 5-minute pace", p, ok)
	}
	if w := p.Wait(4); w.Seconds <= 0 || w.High < w.Seconds {
		t.Errorf("wait %+v", w)
	}
}
