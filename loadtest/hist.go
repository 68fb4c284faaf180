package loadtest

import (
	"encoding/json"
	"fmt"
	"math"
	"math/bits"
	"slices"
	"time"
)

// Histogram counts durations in log-linear buckets: exact below 256 ns,
// then 128 buckets per power of two, so any quantile it reports is within
// 1/128 (0.8%) of a value actually recorded. It takes 1 ns to 292 years in
// a fixed 57 KiB, merges by adding counts, and travels between processes
// as JSON. The zero value is empty and ready; it is not safe for
// concurrent use (Recorder locks around it).
type Histogram struct {
	counts   []uint64 // by bucket index; allocated on first Record
	n        uint64
	sum      float64 // nanoseconds
	min, max int64
}

const (
	histExact   = 256 // values below this have a bucket each
	histSubBits = 7   // 2^7 buckets per power of two above
	histBuckets = histExact + (63-8)*(1<<histSubBits)
)

// bucketOf returns the bucket index of v >= 0.
func bucketOf(v int64) int {
	if v < histExact {
		return int(v)
	}
	k := bits.Len64(uint64(v)) - 1     // 8..62
	top := int(v >> (k - histSubBits)) // in [128, 256)
	return histExact + (k-8)*(1<<histSubBits) + top - (1 << histSubBits)
}

// bucketRange returns the smallest and largest value of bucket i.
func bucketRange(i int) (lo, hi int64) {
	if i < histExact {
		return int64(i), int64(i)
	}
	j := i - histExact
	k := j>>histSubBits + 8
	top := int64(j&(1<<histSubBits-1) + 1<<histSubBits)
	shift := k - histSubBits
	lo = top << shift
	return lo, lo + 1<<shift - 1
}

// Record adds one duration; negative ones count as zero.
func (h *Histogram) Record(d time.Duration) {
	v := max(int64(d), 0)
	if h.counts == nil {
		h.counts = make([]uint64, histBuckets)
	}
	h.counts[bucketOf(v)]++
	if h.n == 0 || v < h.min {
		h.min = v
	}
	if v > h.max {
		h.max = v
	}
	h.n++
	h.sum += float64(v)
}

// Count is the number of recorded durations.
func (h *Histogram) Count() uint64 { return h.n }

// Min and Max are exact.
func (h *Histogram) Min() time.Duration { return time.Duration(h.min) }

// Max is the largest recorded duration.
func (h *Histogram) Max() time.Duration { return time.Duration(h.max) }

// Mean is the average, exact up to float rounding.
func (h *Histogram) Mean() time.Duration {
	if h.n == 0 {
		return 0
	}
	return time.Duration(h.sum / float64(h.n))
}

// Quantile returns the q-quantile (0 <= q <= 1) by nearest rank: the
// smallest recorded value with at least q of the values at or below it,
// reported as the middle of its bucket; the first and last ranks are the
// exact Min and Max.
func (h *Histogram) Quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(h.n)))
	rank = min(max(rank, 1), h.n)
	switch rank {
	case 1:
		return time.Duration(h.min)
	case h.n:
		return time.Duration(h.max)
	}
	var seen uint64
	for i, c := range h.counts {
		if c == 0 {
			continue
		}
		seen += c
		if seen >= rank {
			lo, hi := bucketRange(i)
			v := lo + (hi-lo)/2
			return time.Duration(min(max(v, h.min), h.max))
		}
	}
	return time.Duration(h.max)
}

// Merge adds the counts of o.
func (h *Histogram) Merge(o *Histogram) {
	if o.n == 0 {
		return
	}
	if h.counts == nil {
		h.counts = make([]uint64, histBuckets)
	}
	for i, c := range o.counts {
		h.counts[i] += c
	}
	if h.n == 0 || o.min < h.min {
		h.min = o.min
	}
	h.max = max(h.max, o.max)
	h.n += o.n
	h.sum += o.sum
}

// Clone returns a copy that shares nothing with h.
func (h *Histogram) Clone() *Histogram {
	c := *h
	c.counts = slices.Clone(h.counts)
	return &c
}

// histJSON is a Histogram on the wire: only the buckets in use, as
// [index, count] pairs.
type histJSON struct {
	N       uint64      `json:"n"`
	Sum     float64     `json:"sum_ns"`
	Min     int64       `json:"min_ns"`
	Max     int64       `json:"max_ns"`
	Buckets [][2]uint64 `json:"buckets,omitempty"`
}

// MarshalJSON implements json.Marshaler.
func (h *Histogram) MarshalJSON() ([]byte, error) {
	w := histJSON{N: h.n, Sum: h.sum, Min: h.min, Max: h.max}
	for i, c := range h.counts {
		if c != 0 {
			w.Buckets = append(w.Buckets, [2]uint64{uint64(i), c})
		}
	}
	return json.Marshal(w)
}

// UnmarshalJSON implements json.Unmarshaler.
func (h *Histogram) UnmarshalJSON(b []byte) error {
	var w histJSON
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*h = Histogram{n: w.N, sum: w.Sum, min: w.Min, max: w.Max}
	var total uint64
	for _, p := range w.Buckets {
		if p[0] >= histBuckets {
			return fmt.Errorf("histogram bucket %d out of range", p[0])
		}
		if h.counts == nil {
			h.counts = make([]uint64, histBuckets)
		}
		h.counts[p[0]] += p[1]
		total += p[1]
	}
	if total != w.N {
		return fmt.Errorf("histogram counts add up to %d, not n=%d", total, w.N)
	}
	return nil
}
