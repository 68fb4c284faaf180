package mockapi

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Dist is a distribution of durations: the time between walk-ins, or a
// counter's time with one person.
type Dist struct {
	// Kind is fixed (always Mean), uniform (Mean ± Spread), exp
	// (exponential with mean Mean, at least Spread) or normal (Mean, standard
	// deviation Spread, at least a tenth of Mean).
	Kind   string
	Mean   time.Duration
	Spread time.Duration
}

// ParseDist reads "exp:90s", "exp:90s:10s", "uniform:60s:20s", "fixed:30s"
// or "normal:90s:30s".
func ParseDist(s string) (Dist, error) {
	parts := strings.Split(s, ":")
	if len(parts) < 2 || len(parts) > 3 {
		return Dist{}, fmt.Errorf("distribution %q: want kind:mean[:spread], like exp:90s", s)
	}
	d := Dist{Kind: parts[0]}
	switch d.Kind {
	case "fixed", "uniform", "exp", "normal":
	default:
		return Dist{}, fmt.Errorf("distribution %q: kind must be fixed, uniform, exp or normal", s)
	}
	var err error
	if d.Mean, err = time.ParseDuration(parts[1]); err != nil || d.Mean <= 0 {
		return Dist{}, fmt.Errorf("distribution %q: mean must be a positive duration", s)
	}
	if len(parts) == 3 {
		if d.Spread, err = time.ParseDuration(parts[2]); err != nil || d.Spread < 0 {
			return Dist{}, fmt.Errorf("distribution %q: spread must be a duration", s)
		}
	}
	return d, nil
}

func (d Dist) String() string {
	if d.Spread == 0 {
		return d.Kind + ":" + d.Mean.String()
	}
	return d.Kind + ":" + d.Mean.String() + ":" + d.Spread.String()
}

// Sample draws one duration, never under a millisecond.
func (d Dist) Sample(r *rand.Rand) time.Duration {
	var v float64
	mean, spread := float64(d.Mean), float64(d.Spread)
	switch d.Kind {
	case "uniform":
		v = mean - spread + 2*spread*r.Float64()
	case "exp":
		v = math.Max(mean*r.ExpFloat64(), spread)
	case "normal":
		v = math.Max(mean+spread*r.NormFloat64(), mean/10)
	default:
		v = mean
	}
	return max(time.Duration(v), time.Millisecond)
}

// Hours are daily opening hours in the simulation's clock (UTC): walk-ins
// arrive and counters call only from Open to Close after midnight.
type Hours struct {
	Open, Close time.Duration
}

// ParseHours reads "08:00-17:00".
func ParseHours(s string) (Hours, error) {
	from, to, ok := strings.Cut(s, "-")
	if !ok {
		return Hours{}, fmt.Errorf("hours %q: want HH:MM-HH:MM", s)
	}
	o, err1 := clockTime(from)
	c, err2 := clockTime(to)
	if err1 != nil || err2 != nil || c <= o {
		return Hours{}, fmt.Errorf("hours %q: want HH:MM-HH:MM with the first before the second", s)
	}
	return Hours{Open: o, Close: c}, nil
}

func clockTime(s string) (time.Duration, error) {
	h, m, ok := strings.Cut(strings.TrimSpace(s), ":")
	hh, err1 := strconv.Atoi(h)
	mm, err2 := strconv.Atoi(m)
	if !ok || err1 != nil || err2 != nil || hh < 0 || hh > 24 || mm < 0 || mm > 59 {
		return 0, fmt.Errorf("bad time %q", s)
	}
	return time.Duration(hh)*time.Hour + time.Duration(mm)*time.Minute, nil
}

// next returns t, or the next opening when t is outside the hours.
func (h *Hours) next(t time.Time) time.Time {
	if h == nil {
		return t
	}
	day := t.Truncate(24 * time.Hour)
	switch since := t.Sub(day); {
	case since < h.Open:
		return day.Add(h.Open)
	case since >= h.Close:
		return day.Add(24 * time.Hour).Add(h.Open)
	}
	return t
}

// InstitutionConfig describes one simulated institution.
type InstitutionConfig struct {
	ExternalID string `json:"external_id"`
	Name       string `json:"name"`
	Kind       string `json:"kind"`
	Address    string `json:"address"`
	Counters   int    `json:"counters"`
	// Arrival is the time between walk-ins taking a number; Service a
	// counter's time with one person.
	Arrival Dist `json:"-"`
	Service Dist `json:"-"`
	// Initial numbers are issued, none called, when the simulation starts.
	Initial int64 `json:"-"`
	// Hours, when set, are the opening hours.
	Hours *Hours `json:"-"`
	// Until, when set, ends the simulation: nothing is issued or called
	// after it (a test's "minute of calls").
	Until time.Time `json:"-"`
}

// CounterCall is a counter's latest call.
type CounterCall struct {
	Counter  string     `json:"counter"`
	Number   *int64     `json:"number"`
	CalledAt *time.Time `json:"called_at"`
}

// Queue is an institution's queue as its API reports it.
type Queue struct {
	ExternalID string        `json:"external_id"`
	NowServing int64         `json:"now_serving"`
	LastIssued int64         `json:"last_issued"`
	Counters   []CounterCall `json:"counters"`
	UpdatedAt  time.Time     `json:"updated_at"`
}

type counter struct {
	name     string
	number   int64
	calledAt time.Time
	freeAt   time.Time
}

// Call is one number called, for the record tests compare against.
type Call struct {
	Number  int64
	Counter string
	At      time.Time
}

// institution is one simulated queue. Its events happen at their own
// simulated times, whenever it is looked at: the same seed gives the same
// calls at the same simulated times, however often anyone polls.
type institution struct {
	cfg InstitutionConfig
	mu  sync.Mutex
	rnd *rand.Rand

	nowServing, lastIssued int64
	counters               []counter
	nextArrival            time.Time
	processed              time.Time // every event up to here has happened
	updatedAt              time.Time
	log                    []Call
}

func newInstitution(cfg InstitutionConfig, seed uint64, index int, start time.Time) *institution {
	in := &institution{cfg: cfg, rnd: rand.New(rand.NewPCG(seed, uint64(index)+1)), lastIssued: cfg.Initial,
		processed: start, updatedAt: start}
	for i := range max(cfg.Counters, 1) {
		in.counters = append(in.counters, counter{name: strconv.Itoa(i + 1), freeAt: start})
	}
	in.nextArrival = in.cfg.Hours.next(start.Add(cfg.Arrival.Sample(in.rnd)))
	return in
}

var never = time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)

// advance lets every event up to now happen, in time order.
func (in *institution) advance(now time.Time) {
	if !in.cfg.Until.IsZero() && now.After(in.cfg.Until) {
		now = in.cfg.Until
	}
	for {
		tA := in.nextArrival
		ci, tC := -1, never
		if in.nowServing < in.lastIssued {
			for i, c := range in.counters {
				t := in.cfg.Hours.next(maxTime(c.freeAt, in.processed))
				if t.Before(tC) {
					ci, tC = i, t
				}
			}
		}
		t := minTime(tA, tC)
		if t.After(now) {
			break
		}
		in.processed = t
		if ci >= 0 && !tC.After(tA) {
			c := &in.counters[ci]
			in.nowServing++
			c.number, c.calledAt = in.nowServing, t
			c.freeAt = t.Add(in.cfg.Service.Sample(in.rnd))
			in.log = append(in.log, Call{Number: in.nowServing, Counter: c.name, At: t})
		} else {
			in.lastIssued++
			in.nextArrival = in.cfg.Hours.next(t.Add(in.cfg.Arrival.Sample(in.rnd)))
		}
		in.updatedAt = t
	}
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// queue returns the queue as of now.
func (in *institution) queue(now time.Time) Queue {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.advance(now)
	q := Queue{ExternalID: in.cfg.ExternalID, NowServing: in.nowServing, LastIssued: in.lastIssued,
		Counters: make([]CounterCall, len(in.counters)), UpdatedAt: in.updatedAt}
	for i, c := range in.counters {
		q.Counters[i] = CounterCall{Counter: c.name}
		if c.number > 0 {
			n, at := c.number, c.calledAt
			q.Counters[i].Number, q.Counters[i].CalledAt = &n, &at
		}
	}
	return q
}

// issue gives out the next number now, as a kiosk would.
func (in *institution) issue(now time.Time) int64 {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.advance(now)
	in.lastIssued++
	in.updatedAt = maxTime(in.updatedAt, in.processed)
	return in.lastIssued
}

// reserve makes sure the dispenser never hands out a number up to n: a
// linked QueueLess has issued them to phones.
func (in *institution) reserve(now time.Time, n int64) {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.advance(now)
	if n > in.lastIssued {
		in.lastIssued = n
	}
}

// calls returns every call so far, oldest first.
func (in *institution) calls(now time.Time) []Call {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.advance(now)
	return append([]Call(nil), in.log...)
}
