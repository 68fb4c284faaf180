package queue

// WaitTable answers Pace.Wait for every people_ahead from 0 to n at the
// cost of one pass over the counters' schedules: an institution's waiting
// tickets all ask their line's pace, and n separate Waits would replay the
// schedules n times (O(n^2) per change).
type WaitTable struct {
	pace Pace
	// first is the mean wait of a ticket first in line (counters maybe
	// idle); busy[k] the mean wait of a ticket with k+1 people ahead.
	first float64
	busy  []float64
}

// Table returns p's waits for 0 to n people ahead.
func (p Pace) Table(n int) WaitTable {
	t := WaitTable{pace: p, first: p.callTime(1, false)}
	n = max(n, 0)
	t.busy = make([]float64, 0, n)
	if n == 0 {
		return t
	}
	if len(p.counters) == 0 {
		for k := 2; k <= n+1; k++ {
			t.busy = append(t.busy, float64(k)*p.Interval.Seconds())
		}
		return t
	}
	// callTime's schedule, once: the kth call is at the kth time taken.
	next := make([]float64, len(p.counters))
	for i, c := range p.counters {
		next[i] = max(c.pace(true)-c.open, 0)
	}
	for k := 1; k <= n+1; k++ {
		j := 0
		for i := range next {
			if next[i] < next[j] {
				j = i
			}
		}
		if k >= 2 {
			t.busy = append(t.busy, next[j])
		}
		next[j] += p.counters[j].pace(true)
	}
	return t
}

// Wait is the pace's Wait(ahead); beyond the table's n it is computed on
// its own.
func (t WaitTable) Wait(ahead int) WaitEstimate {
	switch {
	case ahead <= 0:
		return t.pace.waitWithMean(ahead, t.first)
	case ahead <= len(t.busy):
		return t.pace.waitWithMean(ahead, t.busy[ahead-1])
	}
	return t.pace.Wait(ahead)
}
