package loadtest

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"
)

// Recorder collects what a run observes: per operation, the latency of
// every attempt and how it ended (an HTTP status, a frame type, an error
// kind); gauges such as open connections; and, when asked, the tickets
// issued, for verification. It is safe for concurrent use.
type Recorder struct {
	start time.Time

	mu      sync.Mutex
	ops     map[string]*opStats
	gauges  map[string]int64
	issued  []Issued
	keepIDs bool
}

type opStats struct {
	all      Histogram // every attempt that got an answer
	ok       Histogram // 2xx answers (and frames) only
	statuses map[string]uint64
}

// Issued is a ticket a join got with 201.
type Issued struct {
	ID     string `json:"id"`
	Number int64  `json:"number"`
}

// NewRecorder returns an empty recorder whose clock starts now; keepIDs
// makes it keep every issued ticket.
func NewRecorder(keepIDs bool) *Recorder {
	return &Recorder{start: time.Now(), ops: map[string]*opStats{}, gauges: map[string]int64{}, keepIDs: keepIDs}
}

// Restart sets the clock to now: throughput counts from here.
func (r *Recorder) Restart() {
	r.mu.Lock()
	r.start = time.Now()
	r.mu.Unlock()
}

func (r *Recorder) op(name string) *opStats {
	s := r.ops[name]
	if s == nil {
		s = &opStats{statuses: map[string]uint64{}}
		r.ops[name] = s
	}
	return s
}

// Observe records one attempt of op that ended with status after d (see
// Success).
func (r *Recorder) Observe(op, status string, d time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.op(op)
	s.statuses[status]++
	s.all.Record(d)
	if Success(status) {
		s.ok.Record(d)
	}
}

// Count records an outcome of op that has no latency (a dropped arrival,
// a close code).
func (r *Recorder) Count(op, status string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.op(op).statuses[status]++
}

// Gauge adds delta to a gauge (open connections).
func (r *Recorder) Gauge(name string, delta int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.gauges[name] += delta
}

// Issue keeps a ticket issued with 201, when the recorder keeps them.
func (r *Recorder) Issue(id string, number int64) {
	if !r.keepIDs {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.issued = append(r.issued, Issued{ID: id, Number: number})
}

// Success reports whether a status counts as a success: a 2xx or 101, or
// a frame type. Errors ("error:..."), closes ("close:...") and arrivals the
// driver dropped ("dropped") do not.
func Success(status string) bool {
	if strings.HasPrefix(status, "error") || strings.HasPrefix(status, "close") || status == "dropped" {
		return false
	}
	n, err := strconv.Atoi(status)
	if err != nil {
		return true // a frame type, "ok"
	}
	return n >= 200 && n < 300 || n == 101
}

// Snapshot is a recorder's content at one moment; snapshots of several
// processes merge into one.
type Snapshot struct {
	Elapsed time.Duration        `json:"elapsed_ns"`
	Ops     map[string]*OpCounts `json:"ops"`
	Gauges  map[string]int64     `json:"gauges,omitempty"`
	Issued  []Issued             `json:"issued,omitempty"`
}

// OpCounts is one operation in a Snapshot.
type OpCounts struct {
	All      *Histogram        `json:"all"`
	OK       *Histogram        `json:"ok"`
	Statuses map[string]uint64 `json:"statuses"`
}

// Total is the number of outcomes recorded, with or without latency.
func (o *OpCounts) Total() uint64 {
	var n uint64
	for _, c := range o.Statuses {
		n += c
	}
	return n
}

// Snapshot copies the recorder's content; withIssued includes the issued
// tickets.
func (r *Recorder) Snapshot(withIssued bool) *Snapshot {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := &Snapshot{Elapsed: time.Since(r.start), Ops: map[string]*OpCounts{}, Gauges: maps.Clone(r.gauges)}
	for name, o := range r.ops {
		s.Ops[name] = &OpCounts{All: o.all.Clone(), OK: o.ok.Clone(), Statuses: maps.Clone(o.statuses)}
	}
	if withIssued {
		s.Issued = slices.Clone(r.issued)
	}
	return s
}

// Merge adds o to s. Elapsed is the longest of the two: the processes of
// a run run side by side.
func (s *Snapshot) Merge(o *Snapshot) {
	if o == nil {
		return
	}
	s.Elapsed = max(s.Elapsed, o.Elapsed)
	if s.Ops == nil {
		s.Ops = map[string]*OpCounts{}
	}
	for name, oc := range o.Ops {
		c := s.Ops[name]
		if c == nil {
			c = &OpCounts{All: &Histogram{}, OK: &Histogram{}, Statuses: map[string]uint64{}}
			s.Ops[name] = c
		}
		c.All.Merge(oc.All)
		c.OK.Merge(oc.OK)
		for st, n := range oc.Statuses {
			c.Statuses[st] += n
		}
	}
	if len(o.Gauges) > 0 && s.Gauges == nil {
		s.Gauges = map[string]int64{}
	}
	for g, v := range o.Gauges {
		s.Gauges[g] += v
	}
	s.Issued = append(s.Issued, o.Issued...)
}

// OpSummary is one operation's figures, in milliseconds.
type OpSummary struct {
	Op          string            `json:"op"`
	Count       uint64            `json:"count"`      // outcomes, with or without latency
	PerSecond   float64           `json:"per_second"` // Count over the run
	OKPerSecond float64           `json:"ok_per_second"`
	Timed       uint64            `json:"timed"` // outcomes with a latency
	P50         float64           `json:"p50_ms"`
	P90         float64           `json:"p90_ms"`
	P99         float64           `json:"p99_ms"`
	Max         float64           `json:"max_ms"`
	Mean        float64           `json:"mean_ms"`
	OKP50       float64           `json:"ok_p50_ms"`
	OKP99       float64           `json:"ok_p99_ms"`
	Statuses    map[string]uint64 `json:"statuses"`
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// Summaries returns every operation's figures, by name.
func (s *Snapshot) Summaries() []OpSummary {
	secs := s.Elapsed.Seconds()
	var out []OpSummary
	for _, name := range slices.Sorted(maps.Keys(s.Ops)) {
		o := s.Ops[name]
		sum := OpSummary{Op: name, Count: o.Total(), Timed: o.All.Count(), Statuses: o.Statuses,
			P50: ms(o.All.Quantile(.5)), P90: ms(o.All.Quantile(.9)), P99: ms(o.All.Quantile(.99)),
			Max: ms(o.All.Max()), Mean: ms(o.All.Mean()),
			OKP50: ms(o.OK.Quantile(.5)), OKP99: ms(o.OK.Quantile(.99))}
		if secs > 0 {
			sum.PerSecond = float64(sum.Count) / secs
			var okN uint64
			for st, n := range o.Statuses {
				if Success(st) {
					okN += n
				}
			}
			sum.OKPerSecond = float64(okN) / secs
		}
		out = append(out, sum)
	}
	return out
}

// Op returns the summary of one operation, zero when it never ran.
func (s *Snapshot) Op(name string) OpSummary {
	for _, o := range s.Summaries() {
		if o.Op == name {
			return o
		}
	}
	return OpSummary{Op: name, Statuses: map[string]uint64{}}
}

// FormatStatuses lists statuses by count, most frequent first: "201:1834 429:12".
func FormatStatuses(m map[string]uint64) string {
	keys := slices.SortedFunc(maps.Keys(m), func(a, b string) int {
		if c := cmp.Compare(m[b], m[a]); c != 0 {
			return c
		}
		return cmp.Compare(a, b)
	})
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s:%d", k, m[k])
	}
	return strings.Join(parts, " ")
}

// WriteTable prints the summaries as an aligned table.
func WriteTable(w io.Writer, sums []OpSummary) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "op\tcount\t/s\tok/s\tp50 ms\tp90 ms\tp99 ms\tmax ms\t\tstatuses")
	for _, s := range sums {
		fmt.Fprintf(tw, "%s\t%d\t%.0f\t%.0f\t%s\t%s\t%s\t%s\t\t%s\n", s.Op, s.Count, s.PerSecond, s.OKPerSecond,
			latency(s.Timed, s.P50), latency(s.Timed, s.P90), latency(s.Timed, s.P99), latency(s.Timed, s.Max),
			FormatStatuses(s.Statuses))
	}
	tw.Flush()
}

func latency(n uint64, v float64) string {
	if n == 0 {
		return "-"
	}
	return strconv.FormatFloat(v, 'f', 2, 64)
}

// marshalIndent is json.MarshalIndent for output.
func marshalIndent(v any) ([]byte, error) { return json.MarshalIndent(v, "", "  ") }
