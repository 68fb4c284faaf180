package jobs

import (
	"encoding/binary"
	"hash/fnv"
	"math"
	"time"
)

// Backoff is an exponential retry schedule with jitter: the wait after
// failed attempt n (1-based) is Base * 2^(n-1), at most Max, scaled by a
// factor in [1-Jitter, 1+Jitter]. The factor is drawn from the job's id and
// the attempt, not from a random source, so that the time a worker records
// for the next attempt is the time River then schedules (River asks the
// worker's NextRetry after Work returns).
type Backoff struct {
	Base   time.Duration
	Max    time.Duration
	Jitter float64 // 0..1
}

// Delay is the wait after failed attempt n of job id.
func (b Backoff) Delay(id int64, n int) time.Duration {
	if n < 1 {
		n = 1
	}
	d := float64(b.Base) * math.Pow(2, float64(n-1))
	if b.Max > 0 && d > float64(b.Max) {
		d = float64(b.Max)
	}
	h := fnv.New64a()
	var buf [16]byte
	binary.BigEndian.PutUint64(buf[:8], uint64(id))
	binary.BigEndian.PutUint64(buf[8:], uint64(n))
	h.Write(buf[:])
	u := float64(h.Sum64()>>11) / float64(1<<53) // uniform in [0, 1)
	d *= 1 + b.Jitter*(2*u-1)
	return time.Duration(d)
}

// Span is the shortest total wait from the first attempt to attempt n that
// the schedule allows (every jitter at its lowest).
func (b Backoff) Span(n int) time.Duration {
	var total float64
	for i := 1; i < n; i++ {
		d := float64(b.Base) * math.Pow(2, float64(i-1))
		if b.Max > 0 && d > float64(b.Max) {
			d = float64(b.Max)
		}
		total += d * (1 - b.Jitter)
	}
	return time.Duration(total)
}
