package stats

import (
	"math"
	"slices"
	"time"

	"github.com/queueless/queueless/feedback"
	"github.com/queueless/queueless/queue"
)

// Compute gives the figures of tickets (those issued in p) and fb (the
// feedback given in p), by hour of loc: the memory store's stats, and the
// definition the SQL of the PostgreSQL store follows.
//
//   - A ticket's wait is from its issue to its call (called_at), for every
//     ticket called; its service time is from its call to its completion,
//     for every ticket served.
//   - Percentiles are percentile_cont's: linear interpolation between the
//     closest ranks, exact over the period.
//   - The estimate error is over the tickets called that were given an
//     estimate at join: the median of |estimate - wait|.
func Compute(p Period, loc *time.Location, tickets []queue.Ticket, fb []feedback.Feedback) Stats {
	loc = location(loc)
	st := Stats{From: p.From, To: p.To, Timezone: loc.String()}
	all := newAcc()
	hours := make([]*acc, 24)
	for h := range hours {
		hours[h] = newAcc()
	}
	services := map[string]*acc{}
	var codes []string
	for _, t := range tickets {
		code := t.Service
		if code == "" {
			code = queue.DefaultLineCode
		}
		sa := services[code]
		if sa == nil {
			sa = newAcc()
			services[code] = sa
			codes = append(codes, code)
		}
		for _, a := range []*acc{all, hours[t.IssuedAt.In(loc).Hour()], sa} {
			a.add(t)
		}
	}
	st.Counts = all.counts
	st.WaitSeconds = all.waitsOf()
	st.ServiceSeconds = all.servicesOf()
	st.EstimateError = all.errorOf()
	st.ByHour = make([]Hour, 24)
	for h, a := range hours {
		st.ByHour[h] = Hour{Hour: h, Joined: a.counts.Joined, Served: a.counts.Served, WaitSeconds: a.waitsOf()}
	}
	st.ByService = []ServiceStats{}
	for _, code := range codes {
		a := services[code]
		st.ByService = append(st.ByService, ServiceStats{Service: code, Counts: a.counts,
			WaitSeconds: a.waitsOf(), ServiceSeconds: a.servicesOf(), EstimateError: a.errorOf()})
	}
	sortServices(st.ByService)
	st.Satisfaction = satisfaction(fb)
	return st
}

// acc gathers one group's tickets.
type acc struct {
	counts                Counts
	waits, services, errs []float64
}

func newAcc() *acc { return &acc{} }

func (a *acc) add(t queue.Ticket) {
	a.counts.Joined++
	switch t.Status {
	case queue.TicketServed:
		a.counts.Served++
	case queue.TicketExpired:
		a.counts.Expired++
	case queue.TicketCancelled:
		a.counts.Cancelled++
	}
	if t.CalledAt == nil {
		return
	}
	wait := seconds(t.CalledAt.Sub(t.IssuedAt))
	a.waits = append(a.waits, wait)
	if t.Status == queue.TicketServed && t.CompletedAt != nil {
		a.services = append(a.services, seconds(t.CompletedAt.Sub(*t.CalledAt)))
	}
	if t.EstimateAtJoin != nil {
		a.errs = append(a.errs, math.Abs(float64(*t.EstimateAtJoin)-wait))
	}
}

// seconds of d, at PostgreSQL's microsecond precision.
func seconds(d time.Duration) float64 {
	return float64(d.Truncate(time.Microsecond).Microseconds()) / 1e6
}

func (a *acc) waitsOf() Waits {
	w := Waits{P50: percentile(a.waits, 0.5), P90: percentile(a.waits, 0.9)}
	if len(a.waits) > 0 {
		m := round(slices.Max(a.waits))
		w.Max = &m
	}
	return w
}

func (a *acc) servicesOf() Services {
	return Services{P50: percentile(a.services, 0.5), P90: percentile(a.services, 0.9)}
}

func (a *acc) errorOf() EstimateError {
	return EstimateError{Count: int64(len(a.errs)), MedianAbsoluteSeconds: percentile(a.errs, 0.5)}
}

// percentile is PostgreSQL's percentile_cont(p): the value at rank
// p*(n-1) of the sorted values, interpolated linearly; nil for none.
func percentile(values []float64, p float64) *float64 {
	if len(values) == 0 {
		return nil
	}
	s := slices.Clone(values)
	slices.Sort(s)
	pos := p * float64(len(s)-1)
	lo := math.Floor(pos)
	v := s[int(lo)]
	if hi := math.Ceil(pos); hi != lo {
		v += (pos - lo) * (s[int(hi)] - v)
	}
	return roundPtr(&v)
}

func satisfaction(fb []feedback.Feedback) Satisfaction {
	s := Satisfaction{Count: int64(len(fb)), MeanSQD: map[string]*float64{}}
	var sum int64
	var sums, counts [9]int64
	for _, f := range fb {
		sum += int64(f.Rating)
		for i, v := range f.Answers.List() {
			if v != nil {
				sums[i] += int64(*v)
				counts[i]++
			}
		}
	}
	if len(fb) > 0 {
		m := round(float64(sum) / float64(len(fb)))
		s.MeanRating = &m
	}
	for i, q := range feedback.Questions {
		var m *float64
		if counts[i] > 0 {
			v := round(float64(sums[i]) / float64(counts[i]))
			m = &v
		}
		s.MeanSQD[q] = m
	}
	return s
}
