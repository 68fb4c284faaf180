package mockapi

import (
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"strings"
	"sync"
	"time"
)

// Faults is how badly an institution's API behaves. The zero value is a
// perfect API.
type Faults struct {
	// LatencyMS is added to every answer, in wall-clock milliseconds.
	LatencyMS int `json:"latency_ms"`
	// ErrorRate is the share of requests answered 500 (0..1).
	ErrorRate float64 `json:"error_rate"`
	// MalformedRate is the share answered 200 with a body that is not the
	// queue document; TruncateRate the share whose body stops half-way.
	MalformedRate float64 `json:"malformed_rate"`
	TruncateRate  float64 `json:"truncate_rate"`
	// ClockJumpMS shifts every time the API reports by a random amount of
	// up to this many milliseconds, either way: an outside clock that
	// cannot be trusted.
	ClockJumpMS int `json:"clock_jump_ms"`
	// Down drops every connection at once, until it is turned off.
	Down bool `json:"down"`
	// Outages are windows of simulated time when the API drops every
	// connection.
	Outages []Window `json:"outages"`
}

// Window is a span of simulated time.
type Window struct {
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
}

// Validate checks the rates are shares and the windows go forward.
func (f Faults) Validate() error {
	for name, r := range map[string]float64{"error_rate": f.ErrorRate, "malformed_rate": f.MalformedRate, "truncate_rate": f.TruncateRate} {
		if r < 0 || r > 1 {
			return fmt.Errorf("%s must be from 0 to 1", name)
		}
	}
	if f.LatencyMS < 0 || f.LatencyMS > 600_000 {
		return fmt.Errorf("latency_ms must be from 0 to 600000")
	}
	if f.ClockJumpMS < 0 {
		return fmt.Errorf("clock_jump_ms must not be negative")
	}
	for _, w := range f.Outages {
		if !w.To.After(w.From) {
			return fmt.Errorf("an outage must end after it starts")
		}
	}
	return nil
}

// ParseOutages reads "10m+2m,30m+1m": windows starting the first duration
// after start and lasting the second.
func ParseOutages(s string, start time.Time) ([]Window, error) {
	var out []Window
	for _, part := range strings.Split(s, ",") {
		if part = strings.TrimSpace(part); part == "" {
			continue
		}
		at, length, ok := strings.Cut(part, "+")
		a, err1 := time.ParseDuration(at)
		l, err2 := time.ParseDuration(length)
		if !ok || err1 != nil || err2 != nil || a < 0 || l <= 0 {
			return nil, fmt.Errorf("outage %q: want <start after>+<length>, like 10m+2m", part)
		}
		out = append(out, Window{From: start.Add(a), To: start.Add(a + l)})
	}
	return out, nil
}

// outage reports whether simulated time now falls in a window, or Down is set.
func (f Faults) outage(now time.Time) bool {
	if f.Down {
		return true
	}
	for _, w := range f.Outages {
		if !now.Before(w.From) && now.Before(w.To) {
			return true
		}
	}
	return false
}

// faultSet holds the global faults and each institution's own, which
// replace the global ones for it when set.
type faultSet struct {
	mu     sync.Mutex
	global Faults
	per    map[string]Faults
	seed   uint64
	rnds   map[string]*rand.Rand // one per institution, so each replays alone
}

func newFaultSet(global Faults, seed uint64) *faultSet {
	return &faultSet{global: global, per: map[string]Faults{}, seed: seed, rnds: map[string]*rand.Rand{}}
}

func (fs *faultSet) get(ext string) Faults {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if f, ok := fs.per[ext]; ok {
		return f
	}
	return fs.global
}

// verdict is what faults do to one answer, drawn once per request.
type verdict struct {
	latency   time.Duration
	drop      bool
	fail      bool
	malformed bool
	truncate  bool
	shift     time.Duration
}

func (fs *faultSet) draw(ext string, now time.Time) verdict {
	f := fs.get(ext)
	fs.mu.Lock()
	defer fs.mu.Unlock()
	rnd, ok := fs.rnds[ext]
	if !ok {
		h := fnv.New64a()
		h.Write([]byte(ext))
		rnd = rand.New(rand.NewPCG(fs.seed, h.Sum64()))
		fs.rnds[ext] = rnd
	}
	// Every number is drawn every time, so that the n-th request to an
	// institution meets the same fate for a seed, whatever the rates.
	r1, r2, r3, r4 := rnd.Float64(), rnd.Float64(), rnd.Float64(), rnd.Float64()
	v := verdict{latency: time.Duration(f.LatencyMS) * time.Millisecond, drop: f.outage(now)}
	switch {
	case r1 < f.ErrorRate:
		v.fail = true
	case r2 < f.MalformedRate:
		v.malformed = true
	case r3 < f.TruncateRate:
		v.truncate = true
	}
	if f.ClockJumpMS > 0 {
		v.shift = time.Duration((2*r4 - 1) * float64(f.ClockJumpMS) * float64(time.Millisecond))
	}
	return v
}

// FaultsView is every fault set, as the admin endpoint shows it.
type FaultsView struct {
	Global       Faults            `json:"global"`
	Institutions map[string]Faults `json:"institutions"`
}

func (fs *faultSet) view() FaultsView {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	v := FaultsView{Global: fs.global, Institutions: map[string]Faults{}}
	for k, f := range fs.per {
		v.Institutions[k] = f
	}
	return v
}
