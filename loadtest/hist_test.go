package loadtest

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

func TestBucketsCoverEveryValue(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	values := []int64{0, 1, 255, 256, 257, 511, 512, 1 << 20, 1<<20 - 1, math.MaxInt64}
	for range 100000 {
		values = append(values, rng.Int64N(1<<uint(rng.IntN(62)+1)))
	}
	for _, v := range values {
		i := bucketOf(v)
		if i < 0 || i >= histBuckets {
			t.Fatalf("bucketOf(%d) = %d, outside [0, %d)", v, i, histBuckets)
		}
		lo, hi := bucketRange(i)
		if v < lo || v > hi {
			t.Fatalf("value %d in bucket %d, whose range is [%d, %d]", v, i, lo, hi)
		}
		if bucketOf(lo) != i || bucketOf(hi) != i {
			t.Fatalf("bucket %d: its bounds %d and %d map to buckets %d and %d", i, lo, hi, bucketOf(lo), bucketOf(hi))
		}
		if got, limit := float64(hi-lo), float64(lo)/128; got > limit && hi != lo {
			t.Fatalf("bucket %d of [%d, %d] is %v wide; want at most 1/128 of its low bound (%v)", i, lo, hi, got, limit)
		}
	}
}

// exactQuantile is the nearest-rank quantile of sorted values.
func exactQuantile(sorted []time.Duration, q float64) time.Duration {
	rank := int(math.Ceil(q * float64(len(sorted))))
	return sorted[min(max(rank, 1), len(sorted))-1]
}

func TestQuantilesWithinBucketPrecision(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		gen  func(r *rand.Rand) time.Duration
	}{
		{"log-normal latencies", func(r *rand.Rand) time.Duration {
			return time.Duration(math.Exp(r.NormFloat64()*1.2 + math.Log(float64(3*time.Millisecond))))
		}},
		{"small exact values", func(r *rand.Rand) time.Duration { return time.Duration(r.IntN(300)) }},
		{"bimodal", func(r *rand.Rand) time.Duration {
			if r.IntN(100) == 0 {
				return time.Duration(r.IntN(int(time.Second))) + time.Second
			}
			return time.Duration(r.IntN(int(time.Millisecond)))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rng := rand.New(rand.NewPCG(3, 4))
			var h Histogram
			var vals []time.Duration
			var sum float64
			for range 50000 {
				v := tc.gen(rng)
				vals = append(vals, v)
				h.Record(v)
				sum += float64(v)
			}
			slices.Sort(vals)
			for _, q := range []float64{0, 0.01, 0.5, 0.9, 0.99, 0.999, 1} {
				want := exactQuantile(vals, q)
				got := h.Quantile(q)
				if diff := math.Abs(float64(got - want)); diff > float64(want)/128+1 {
					t.Errorf("q%.3f = %v, exact %v: off by %.0f ns, more than 1/128", q, got, want, diff)
				}
			}
			if got, want := h.Min(), vals[0]; got != want {
				t.Errorf("Min = %v, want %v", got, want)
			}
			if got, want := h.Max(), vals[len(vals)-1]; got != want {
				t.Errorf("Max = %v, want %v", got, want)
			}
			if got, want := h.Quantile(1), vals[len(vals)-1]; got != want {
				t.Errorf("Quantile(1) = %v, want the maximum %v", got, want)
			}
			if got, want := h.Count(), uint64(len(vals)); got != want {
				t.Errorf("Count = %d, want %d", got, want)
			}
			if got, want := float64(h.Mean()), sum/float64(len(vals)); math.Abs(got-want) > 1 {
				t.Errorf("Mean = %v, want %v", got, want)
			}
		})
	}
}

func TestHistogramMergeAndJSON(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(5, 6))
	var a, b, all Histogram
	for i := range 10000 {
		v := time.Duration(rng.Int64N(int64(time.Second)))
		all.Record(v)
		if i%3 == 0 {
			a.Record(v)
		} else {
			b.Record(v)
		}
	}
	merged := a.Clone()
	merged.Merge(&b)
	var empty Histogram
	merged.Merge(&empty)
	data, err := json.Marshal(merged)
	if err != nil {
		t.Fatal(err)
	}
	var back Histogram
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatal(err)
	}
	for _, h := range []*Histogram{merged, &back} {
		if got, want := h.Count(), all.Count(); got != want {
			t.Errorf("Count = %d, want %d", got, want)
		}
		if h.Min() != all.Min() || h.Max() != all.Max() || h.Mean() != all.Mean() {
			t.Errorf("min/max/mean = %v/%v/%v, want %v/%v/%v", h.Min(), h.Max(), h.Mean(), all.Min(), all.Max(), all.Mean())
		}
		for _, q := range []float64{.5, .9, .99} {
			if got, want := h.Quantile(q), all.Quantile(q); got != want {
				t.Errorf("q%v = %v, want %v as recorded in one histogram", q, got, want)
			}
		}
	}
	if err := json.Unmarshal([]byte(`{"n":2,"buckets":[[3,1]]}`), &back); err == nil {
		t.Error("a histogram whose buckets do not add up to n was accepted")
	}
	if got := empty.Quantile(.99); got != 0 {
		t.Errorf("empty histogram's p99 = %v, want 0", got)
	}
}
