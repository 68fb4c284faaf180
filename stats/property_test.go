package stats

import (
	"math"
	"math/rand/v2"
	"sort"
	"testing"
	"time"

	"github.com/queueless/queueless/queue"
)

// The reference model, written from the definitions rather than from
// Compute: counts by looping over tickets once per figure, percentiles by
// the 1-based rank 1 + p(n-1) of the sorted values.

func refPercentile(vals []float64, p float64) *float64 {
	if len(vals) == 0 {
		return nil
	}
	s := append([]float64(nil), vals...)
	sort.Float64s(s)
	r := 1 + p*float64(len(s)-1)
	k := int(r) // 1-based
	v := s[k-1]
	if k < len(s) {
		v += (r - float64(k)) * (s[k] - s[k-1])
	}
	v = math.Round(v*1000) / 1000
	return &v
}

func waitOf(t queue.Ticket) (float64, bool) {
	if t.CalledAt == nil {
		return 0, false
	}
	return float64(t.CalledAt.Sub(t.IssuedAt).Microseconds()) / 1e6, true
}

func eqPtr(a, b *float64) bool {
	return (a == nil) == (b == nil) && (a == nil || *a == *b)
}

func TestComputeAgainstModel(t *testing.T) {
	t.Parallel()
	locs := []*time.Location{time.UTC, newYork, mustLoad("Europe/Berlin"), mustLoad("Asia/Manila")}
	for seed := range uint64(200) {
		rng := rand.New(rand.NewPCG(seed, 14))
		loc := locs[rng.IntN(len(locs))]
		// Around Europe's and America's spring changes of 2026.
		start := time.Date(2026, 3, 5, 0, 0, 0, 0, time.UTC)
		var tickets []queue.Ticket
		for i := range rng.IntN(80) {
			issued := start.Add(time.Duration(rng.Int64N(int64(30 * 24 * time.Hour))))
			tk := queue.Ticket{Number: int64(i + 1), IssuedAt: issued, Service: []string{"A", "B", "C"}[rng.IntN(3)]}
			switch rng.IntN(5) {
			case 0:
				tk.Status = queue.TicketWaiting
			case 1:
				tk.Status = queue.TicketCancelled
			default:
				called := issued.Add(time.Duration(rng.Int64N(int64(2 * time.Hour))))
				tk.CalledAt = &called
				tk.Status = []queue.TicketStatus{queue.TicketServed, queue.TicketExpired, queue.TicketServing}[rng.IntN(3)]
				if tk.Status == queue.TicketServed {
					done := called.Add(time.Duration(rng.Int64N(int64(20 * time.Minute))))
					tk.CompletedAt = &done
				}
			}
			if rng.IntN(3) > 0 {
				e := rng.Int64N(7200)
				tk.EstimateAtJoin = &e
			}
			tickets = append(tickets, tk)
		}
		got := Compute(Period{From: start, To: start.Add(30 * 24 * time.Hour)}, loc, tickets, nil)

		var waits, services, errs []float64
		count := func(keep func(queue.Ticket) bool) (c Counts) {
			for _, tk := range tickets {
				if !keep(tk) {
					continue
				}
				c.Joined++
				switch tk.Status {
				case queue.TicketServed:
					c.Served++
				case queue.TicketExpired:
					c.Expired++
				case queue.TicketCancelled:
					c.Cancelled++
				}
			}
			return c
		}
		for _, tk := range tickets {
			if w, ok := waitOf(tk); ok {
				waits = append(waits, w)
				if tk.EstimateAtJoin != nil {
					errs = append(errs, math.Abs(float64(*tk.EstimateAtJoin)-w))
				}
				if tk.Status == queue.TicketServed {
					services = append(services, float64(tk.CompletedAt.Sub(*tk.CalledAt).Microseconds())/1e6)
				}
			}
		}
		if c := count(func(queue.Ticket) bool { return true }); got.Counts != c {
			t.Fatalf("seed %d: counts %+v, want %+v", seed, got.Counts, c)
		}
		if !eqPtr(got.WaitSeconds.P50, refPercentile(waits, 0.5)) || !eqPtr(got.WaitSeconds.P90, refPercentile(waits, 0.9)) ||
			!eqPtr(got.WaitSeconds.Max, refPercentile(waits, 1)) || !eqPtr(got.ServiceSeconds.P90, refPercentile(services, 0.9)) ||
			!eqPtr(got.EstimateError.MedianAbsoluteSeconds, refPercentile(errs, 0.5)) || got.EstimateError.Count != int64(len(errs)) {
			t.Fatalf("seed %d: percentiles differ from the model", seed)
		}
		for h := range 24 {
			c := count(func(tk queue.Ticket) bool { return tk.IssuedAt.In(loc).Hour() == h })
			var hw []float64
			for _, tk := range tickets {
				if w, ok := waitOf(tk); ok && tk.IssuedAt.In(loc).Hour() == h {
					hw = append(hw, w)
				}
			}
			bh := got.ByHour[h]
			if bh.Hour != h || bh.Joined != c.Joined || bh.Served != c.Served || !eqPtr(bh.WaitSeconds.P50, refPercentile(hw, 0.5)) {
				t.Fatalf("seed %d (%s): hour %d: %+v, want %d joined, %d served", seed, loc, h, bh, c.Joined, c.Served)
			}
		}
		n := 0
		for _, code := range []string{"A", "B", "C"} {
			c := count(func(tk queue.Ticket) bool { return tk.Service == code })
			if c.Joined == 0 {
				continue
			}
			if n >= len(got.ByService) || got.ByService[n].Service != code || got.ByService[n].Counts != c {
				t.Fatalf("seed %d: by_service %+v, want %s %+v at %d", seed, got.ByService, code, c, n)
			}
			n++
		}
		if n != len(got.ByService) {
			t.Fatalf("seed %d: %d services, want %d", seed, len(got.ByService), n)
		}
	}
}
