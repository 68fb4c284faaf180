package officeday

import (
	"errors"
	"fmt"
	"io"
	"math"
	"runtime"
	"slices"
	"sync"
	"time"
)

// Targets of the v1.1 estimator (issue 12): at least 80% of real waits
// inside the range, a median absolute error under 25% of the median wait,
// and a smaller error than v1's on the same tickets.
const (
	TargetInside   = 0.80
	TargetRelError = 0.25
)

// Score is one estimator's accuracy on a set of tickets.
type Score struct {
	Name string `json:"name"`
	// Tickets scored: called tickets to which the estimator gave an estimate.
	Tickets int `json:"tickets"`
	// MedianWait is the median real wait of those tickets, seconds.
	MedianWait float64 `json:"median_wait_seconds"`
	// MedianAbsError is the median of |told - real|, seconds; RelError
	// that over MedianWait.
	MedianAbsError float64 `json:"median_abs_error_seconds"`
	RelError       float64 `json:"rel_error"`
	// Bias is the median of told - real: positive means waits are
	// overestimated.
	Bias float64 `json:"bias_seconds"`
	// Inside is the share of real waits inside the range told; null for an
	// estimator without a range.
	Inside *float64 `json:"inside_range"`
	// InsideP50P90 is the share inside [median, 90th percentile], the
	// literal reading of the contract's "p50..p90" (reported, not a target).
	InsideP50P90 *float64 `json:"inside_p50_p90,omitempty"`
}

// Report scores the estimators over days of the same office.
type Report struct {
	Days      int `json:"days"`
	Joined    int `json:"joined"`
	Called    int `json:"called"`
	Cancelled int `json:"cancelled"`
	ClosedOut int `json:"closed_out"`
	NoShows   int `json:"no_shows"`
	// Common is the number of called tickets to which every estimator gave
	// an estimate; the scores below are over exactly those tickets.
	Common int `json:"common"`
	// NoEstimate counts called tickets without an estimate, per estimator
	// (v1.1: fewer than 3 calls of the service so far today).
	NoEstimate map[string]int `json:"no_estimate"`
	Scores     []Score        `json:"scores"`
	// ByService is the v1.1 score per service code.
	ByService map[string]Score `json:"by_service"`
}

// Estimator names in reports.
const (
	NameNew       = "v1.1 (service pace, counters, hours)"
	NameV1        = "v1 (institution pace x people ahead in the institution)"
	NameV1Service = "v1 pace x people ahead in the service"
)

type sample struct {
	told, lo, hi, p90 float64
	real              float64
	ranged            bool
}

// Evaluate scores the estimates told at join against the real waits.
func Evaluate(days []*Day) Report {
	rep := Report{Days: len(days), NoEstimate: map[string]int{}, ByService: map[string]Score{}}
	var newS, v1S, v1sS []sample
	bySvc := map[string][]sample{}
	for _, d := range days {
		for _, t := range d.Tickets {
			rep.Joined++
			switch {
			case t.Cancelled:
				rep.Cancelled++
			case t.ClosedOut:
				rep.ClosedOut++
			}
			if !t.Called {
				continue
			}
			rep.Called++
			if t.NoShow {
				rep.NoShows++
			}
			if t.New == nil {
				rep.NoEstimate[NameNew]++
			}
			if t.V1 == nil {
				rep.NoEstimate[NameV1]++
			}
			if t.New == nil || t.V1 == nil || t.V1ServiceAhd == nil {
				continue
			}
			rep.Common++
			real := t.Wait().Seconds()
			n := sample{told: float64(t.New.Seconds), lo: float64(t.New.Low), hi: float64(t.New.High), real: real, ranged: true}
			newS = append(newS, n)
			bySvc[t.Service] = append(bySvc[t.Service], n)
			v1S = append(v1S, sample{told: float64(*t.V1), real: real})
			v1sS = append(v1sS, sample{told: float64(*t.V1ServiceAhd), real: real})
		}
	}
	rep.Scores = []Score{score(NameNew, newS), score(NameV1, v1S), score(NameV1Service, v1sS)}
	for code, s := range bySvc {
		rep.ByService[code] = score(code, s)
	}
	return rep
}

func score(name string, ss []sample) Score {
	sc := Score{Name: name, Tickets: len(ss)}
	if len(ss) == 0 {
		return sc
	}
	var waits, abs, signed []float64
	inside, inside5090 := 0, 0
	ranged := false
	for _, s := range ss {
		waits = append(waits, s.real)
		abs = append(abs, math.Abs(s.told-s.real))
		signed = append(signed, s.told-s.real)
		if s.ranged {
			ranged = true
			if s.lo <= s.real && s.real <= s.hi {
				inside++
			}
			if s.told <= s.real && s.real <= s.hi {
				inside5090++
			}
		}
	}
	sc.MedianWait = median(waits)
	sc.MedianAbsError = median(abs)
	sc.Bias = median(signed)
	if sc.MedianWait > 0 {
		sc.RelError = sc.MedianAbsError / sc.MedianWait
	}
	if ranged {
		a := float64(inside) / float64(len(ss))
		b := float64(inside5090) / float64(len(ss))
		sc.Inside, sc.InsideP50P90 = &a, &b
	}
	return sc
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	if n == 0 {
		return 0
	}
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// Checks are the targets, each with whether it holds.
func (r Report) Checks() []Check {
	nw, v1 := r.Scores[0], r.Scores[1]
	inside := 0.0
	if nw.Inside != nil {
		inside = *nw.Inside
	}
	return []Check{
		{fmt.Sprintf("real waits inside the v1.1 range: %.1f%% (target >= %.0f%%)", 100*inside, 100*TargetInside), inside >= TargetInside},
		{fmt.Sprintf("v1.1 median absolute error %.0f s = %.1f%% of the median wait %.0f s (target < %.0f%%)",
			nw.MedianAbsError, 100*nw.RelError, nw.MedianWait, 100*TargetRelError), nw.RelError < TargetRelError},
		{fmt.Sprintf("v1.1 median absolute error %.0f s below v1's %.0f s", nw.MedianAbsError, v1.MedianAbsError),
			nw.MedianAbsError < v1.MedianAbsError},
	}
}

// Check is one target and whether it holds.
type Check struct {
	What string `json:"what"`
	OK   bool   `json:"ok"`
}

// OK reports whether every target holds.
func (r Report) OK() bool {
	for _, c := range r.Checks() {
		if !c.OK {
			return false
		}
	}
	return true
}

// WriteText prints the report for people.
func (r Report) WriteText(w io.Writer) {
	fmt.Fprintf(w, "%d simulated days: %d joined, %d called (%d no-shows), %d gave up, %d still waiting at the close\n",
		r.Days, r.Joined, r.Called, r.NoShows, r.Cancelled, r.ClosedOut)
	fmt.Fprintf(w, "scored: the %d called tickets to which every estimator gave an estimate (no estimate: v1.1 %d, v1 %d)\n\n",
		r.Common, r.NoEstimate[NameNew], r.NoEstimate[NameV1])
	fmt.Fprintf(w, "%-58s %8s %10s %9s %8s %8s %9s\n", "estimator", "median", "median", "error/", "bias", "inside", "inside")
	fmt.Fprintf(w, "%-58s %8s %10s %9s %8s %8s %9s\n", "", "wait", "abs error", "median", "", "range", "p50..p90")
	row := func(s Score) {
		in, in5090 := "-", "-"
		if s.Inside != nil {
			in = fmt.Sprintf("%.1f%%", 100**s.Inside)
			in5090 = fmt.Sprintf("%.1f%%", 100**s.InsideP50P90)
		}
		fmt.Fprintf(w, "%-58s %8s %10s %8.1f%% %8s %8s %9s\n", s.Name, secs(s.MedianWait), secs(s.MedianAbsError), 100*s.RelError,
			signedSecs(s.Bias), in, in5090)
	}
	for _, s := range r.Scores {
		row(s)
	}
	fmt.Fprintln(w)
	codes := make([]string, 0, len(r.ByService))
	for c := range r.ByService {
		codes = append(codes, c)
	}
	slices.Sort(codes)
	for _, c := range codes {
		s := r.ByService[c]
		s.Name = "  v1.1, service " + c
		row(s)
	}
	fmt.Fprintln(w)
	for _, c := range r.Checks() {
		mark := "ok  "
		if !c.OK {
			mark = "FAIL"
		}
		fmt.Fprintf(w, "%s %s\n", mark, c.What)
	}
}

func secs(s float64) string {
	return (time.Duration(math.Round(s)) * time.Second).String()
}

func signedSecs(s float64) string {
	if s > 0 {
		return "+" + secs(s)
	}
	return secs(s)
}

// Run simulates days consecutive seeds from first, with cfg's other
// settings, and evaluates them. Days are independent and run on all
// processors; the report does not depend on how they were scheduled.
func Run(cfg func(seed uint64) Config, first uint64, days int) (Report, []*Day, error) {
	out := make([]*Day, days)
	errs := make([]error, days)
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	var wg sync.WaitGroup
	for k := range days {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			out[k], errs[k] = Simulate(cfg(first + uint64(k)))
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return Report{}, nil, err
	}
	return Evaluate(out), out, nil
}
