package officeday

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/queueless/queueless/queue"
)

// ServiceSpec is one service of the simulated office.
type ServiceSpec struct {
	Code   string
	Share  float64       // share of the arrivals
	Median time.Duration // median visit at the counter
	Sigma  float64       // lognormal shape of the visit time (0.5: mildly, 0.8: very skewed)
}

// CounterSpec is one counter: the services it calls from (the waiting
// ticket with the earliest place among them) and its shifts, local times.
type CounterSpec struct {
	Name     string
	Services []string
	Shifts   [][2]string
}

// Arrival is a stretch of the day with a constant arrival rate.
type Arrival struct {
	From, To string // local HH:MM
	PerHour  float64
}

// Config is a simulated office day.
type Config struct {
	Seed     uint64
	Date     queue.Date
	Day      queue.DaySettings // timezone, hours, join cutoff
	Services []ServiceSpec
	Counters []CounterSpec
	Arrivals []Arrival
	// NoShow is the share of called tickets whose holder never comes; the
	// counter waits NoShowWait (uniform between the two) before calling on.
	NoShow     float64
	NoShowWait [2]time.Duration
	// Abandon is the share of tickets whose holder gives up and cancels
	// after a patience drawn from an exponential of mean Patience.
	Abandon  float64
	Patience time.Duration
	// Jitter moves each shift's start and end by up to this much; Absences
	// unplanned absences of 15 to 40 minutes fall on random counters.
	Jitter   time.Duration
	Absences int
}

// DefaultConfig is a busy government office in Manila on a Monday: three
// services, six counters (two serve two services), 08:00-12:00 and
// 13:00-17:00, joins closing 30 minutes before each closing, a crowd at the
// door at 08:00 and again at 13:00.
func DefaultConfig(seed uint64) Config {
	return Config{
		Seed: seed,
		Date: queue.Date{Year: 2026, Month: time.December, Day: 7},
		Day: queue.DaySettings{
			Timezone: "Asia/Manila",
			Hours: map[string][][]string{
				"mon": {{"08:00", "12:00"}, {"13:00", "17:00"}},
			},
			JoinCutoffMinutes: 30,
		},
		Services: []ServiceSpec{
			{Code: "A", Share: 0.5, Median: 210 * time.Second, Sigma: 0.6}, // payments
			{Code: "B", Share: 0.3, Median: 420 * time.Second, Sigma: 0.7}, // registrations
			{Code: "C", Share: 0.2, Median: 120 * time.Second, Sigma: 0.5}, // releasing
		},
		Counters: []CounterSpec{
			{Name: "1", Services: []string{"A"}, Shifts: [][2]string{{"08:00", "12:00"}, {"13:00", "17:00"}}},
			{Name: "2", Services: []string{"A"}, Shifts: [][2]string{{"08:00", "10:30"}, {"10:50", "12:00"}, {"13:00", "17:00"}}},
			{Name: "3", Services: []string{"A", "B"}, Shifts: [][2]string{{"09:00", "12:00"}, {"13:00", "15:30"}}},
			{Name: "4", Services: []string{"B"}, Shifts: [][2]string{{"08:00", "12:00"}, {"13:00", "17:00"}}},
			{Name: "5", Services: []string{"B"}, Shifts: [][2]string{{"08:00", "12:00"}, {"13:30", "17:00"}}},
			{Name: "6", Services: []string{"C", "A"}, Shifts: [][2]string{{"08:00", "12:00"}, {"13:00", "17:00"}}},
		},
		Arrivals: []Arrival{
			{From: "08:00", To: "08:10", PerHour: 480}, // the crowd at the door
			{From: "08:10", To: "10:00", PerHour: 66},
			{From: "10:00", To: "11:30", PerHour: 45},
			{From: "13:00", To: "13:10", PerHour: 300}, // back from lunch
			{From: "13:10", To: "14:30", PerHour: 60},
			{From: "14:30", To: "16:30", PerHour: 32},
		},
		NoShow:     0.08,
		NoShowWait: [2]time.Duration{60 * time.Second, 180 * time.Second},
		Abandon:    0.05,
		Patience:   40 * time.Minute,
		Jitter:     8 * time.Minute,
		Absences:   2,
	}
}

// Ticket is one ticket of the day, with what it was told and what happened.
type Ticket struct {
	Number  int
	Service string
	Joined  time.Time
	// AheadService is people_ahead in its service (v1.1); AheadAll the
	// waiting tickets with a lower number in the institution (v1).
	AheadService, AheadAll int
	// Estimates told at join; nil when the estimator had none.
	New          *queue.WaitEstimate // v1.1: the service's pace, through the hours
	V1           *int64              // v1 as shipped: institution pace x institution people ahead
	V1ServiceAhd *int64              // v1's pace x the service's people ahead
	// What happened: called (Wait set), cancelled (gave up) or still
	// waiting at the close (ClosedOut).
	Called    bool
	CalledAt  time.Time
	Counter   string
	NoShow    bool
	Cancelled bool
	ClosedOut bool
}

// Wait is the real wait of a called ticket.
func (t Ticket) Wait() time.Duration { return t.CalledAt.Sub(t.Joined) }

// Call is one call of the day.
type Call struct {
	At      time.Time
	Counter string
	Service string
	Number  int
}

// Day is the outcome of one simulated day.
type Day struct {
	Seed    uint64
	Tickets []*Ticket
	Calls   []Call
	// Open is when counters may call: each counter's shifts after jitter
	// and absences.
	Shifts map[string][]queue.Interval
}

type counter struct {
	spec      CounterSpec
	shifts    []queue.Interval
	busyUntil time.Time
}

// Simulate plays one day, second by second.
func Simulate(cfg Config) (*Day, error) {
	cal, err := queue.NewCalendar(cfg.Day, time.UTC)
	if err != nil {
		return nil, fmt.Errorf("simulate: %w", err)
	}
	r := rand.New(rand.NewPCG(cfg.Seed, 0x0ff1ceda7))
	local := func(hhmm string) (time.Time, error) {
		t, err := time.ParseInLocation("15:04", hhmm, cal.Location())
		if err != nil {
			return time.Time{}, fmt.Errorf("simulate: time %q: %w", hhmm, err)
		}
		d := cfg.Date
		return time.Date(d.Year, d.Month, d.Day, t.Hour(), t.Minute(), 0, 0, cal.Location()), nil
	}
	periods := cal.Periods(cfg.Date)
	if len(periods) == 0 {
		return nil, fmt.Errorf("simulate: the office does not open on %v", cfg.Date)
	}
	dayStart, dayEnd := periods[0].Start, periods[len(periods)-1].End

	svcIndex := map[string]int{}
	for i, s := range cfg.Services {
		svcIndex[s.Code] = i
	}
	day := &Day{Seed: cfg.Seed, Shifts: map[string][]queue.Interval{}}

	// Counters' shifts, jittered, with unplanned absences cut out.
	jitter := func() time.Duration {
		if cfg.Jitter <= 0 {
			return 0
		}
		return time.Duration(r.Int64N(int64(2*cfg.Jitter))) - cfg.Jitter
	}
	counters := make([]*counter, len(cfg.Counters))
	for i, spec := range cfg.Counters {
		c := &counter{spec: spec}
		for _, sh := range spec.Shifts {
			from, err := local(sh[0])
			if err != nil {
				return nil, err
			}
			to, err := local(sh[1])
			if err != nil {
				return nil, err
			}
			// Staff are never early: a shift that starts at an opening
			// starts then or later.
			from = from.Add(max(jitter(), 0))
			to = to.Add(jitter())
			if to.After(from) {
				c.shifts = append(c.shifts, queue.Interval{Start: from, End: to})
			}
		}
		for _, s := range spec.Services {
			if _, ok := svcIndex[s]; !ok {
				return nil, fmt.Errorf("simulate: counter %s serves unknown service %q", spec.Name, s)
			}
		}
		counters[i] = c
	}
	for range cfg.Absences {
		c := counters[r.IntN(len(counters))]
		if len(c.shifts) == 0 {
			continue
		}
		sh := c.shifts[r.IntN(len(c.shifts))]
		length := 15*time.Minute + time.Duration(r.Int64N(int64(25*time.Minute)))
		if sh.End.Sub(sh.Start) <= length {
			continue
		}
		start := sh.Start.Add(time.Duration(r.Int64N(int64(sh.End.Sub(sh.Start) - length))))
		c.shifts = cutOut(c.shifts, queue.Interval{Start: start, End: start.Add(length)})
	}
	for _, c := range counters {
		day.Shifts[c.spec.Name] = c.shifts
	}

	// Arrivals: a Poisson process per stretch; each picks a service.
	var tickets []*Ticket
	for _, a := range cfg.Arrivals {
		from, err := local(a.From)
		if err != nil {
			return nil, err
		}
		to, err := local(a.To)
		if err != nil {
			return nil, err
		}
		for at := from; ; {
			at = at.Add(time.Duration(r.ExpFloat64() / a.PerHour * float64(time.Hour)))
			if !at.Before(to) {
				break
			}
			tickets = append(tickets, &Ticket{Service: pick(r, cfg.Services), Joined: at.Truncate(time.Second)})
		}
	}
	slices.SortStableFunc(tickets, func(a, b *Ticket) int { return a.Joined.Compare(b.Joined) })
	type quit struct {
		at time.Time
		t  *Ticket
	}
	var quits []quit
	for _, t := range tickets {
		t.NoShow = r.Float64() < cfg.NoShow
		if r.Float64() < cfg.Abandon {
			quits = append(quits, quit{t.Joined.Add(time.Duration(r.ExpFloat64() * float64(cfg.Patience)).Truncate(time.Second)), t})
		}
	}
	slices.SortStableFunc(quits, func(a, b quit) int { return a.at.Compare(b.at) })

	waiting := make([][]*Ticket, len(cfg.Services))
	svcCalls := make([][]queue.PaceCall, len(cfg.Services))
	var v1 queue.V1Pace
	next, number := 0, 0
	for now := dayStart; !now.After(dayEnd); now = now.Add(time.Second) {
		// People who give up.
		for ; len(quits) > 0 && !quits[0].at.After(now); quits = quits[1:] {
			t := quits[0].t
			if !t.Called && t.Number > 0 {
				s := svcIndex[t.Service]
				waiting[s] = slices.DeleteFunc(waiting[s], func(w *Ticket) bool { return w == t })
				t.Cancelled = true
			}
		}
		// Joins: the estimates are what the ticket is told at join.
		for ; next < len(tickets) && !tickets[next].Joined.After(now); next++ {
			t := tickets[next]
			if cal.Joins(now) != queue.JoinsOpen {
				continue // turned away: cut off or closed
			}
			number++
			t.Number = number
			s := svcIndex[t.Service]
			t.AheadService = len(waiting[s])
			for _, w := range waiting {
				t.AheadAll += len(w)
			}
			// As the server gives it: from the service's kept calls
			// (queue.KeepPaceCalls), as of its last call.
			if sc := svcCalls[s]; len(sc) > 0 {
				at := sc[len(sc)-1].At
				if p, ok := queue.ServicePace(sc, at); ok {
					w := p.Wait(t.AheadService).Through(cal, at)
					t.New = &w
				}
			}
			t.V1 = v1.Estimate(int64(t.AheadAll))
			t.V1ServiceAhd = v1.Estimate(int64(t.AheadService))
			waiting[s] = append(waiting[s], t)
			day.Tickets = append(day.Tickets, t)
		}
		// Calls: each free counter on shift, while the office is open,
		// calls the earliest place among its services.
		if !onShift(periods, now) {
			continue
		}
		for _, c := range counters {
			if now.Before(c.busyUntil) || !onShift(c.shifts, now) {
				continue
			}
			best := -1
			for _, code := range c.spec.Services {
				s := svcIndex[code]
				if len(waiting[s]) > 0 && (best < 0 || waiting[s][0].Joined.Before(waiting[best][0].Joined) ||
					(waiting[s][0].Joined.Equal(waiting[best][0].Joined) && waiting[s][0].Number < waiting[best][0].Number)) {
					best = s
				}
			}
			if best < 0 {
				continue
			}
			t := waiting[best][0]
			waiting[best] = waiting[best][1:]
			t.Called, t.CalledAt, t.Counter = true, now, c.spec.Name
			svcCalls[best] = queue.KeepPaceCalls(svcCalls[best], queue.PaceCall{At: now, Counter: c.spec.Name})
			v1.Observe(1, now)
			day.Calls = append(day.Calls, Call{At: now, Counter: c.spec.Name, Service: t.Service, Number: t.Number})
			var visit time.Duration
			if t.NoShow {
				lo, hi := cfg.NoShowWait[0], cfg.NoShowWait[1]
				visit = lo + time.Duration(r.Int64N(int64(hi-lo)+1))
			} else {
				spec := cfg.Services[best]
				visit = time.Duration(math.Exp(math.Log(spec.Median.Seconds())+spec.Sigma*r.NormFloat64()) * float64(time.Second))
			}
			c.busyUntil = now.Add(max(visit.Round(time.Second), time.Second))
		}
	}
	// The day's close: whoever still waits is expired (at_close: expire).
	for _, w := range waiting {
		for _, t := range w {
			t.ClosedOut = true
		}
	}
	return day, nil
}

func pick(r *rand.Rand, services []ServiceSpec) string {
	x := r.Float64()
	for _, s := range services {
		if x < s.Share {
			return s.Code
		}
		x -= s.Share
	}
	return services[len(services)-1].Code
}

func onShift(shifts []queue.Interval, now time.Time) bool {
	for _, s := range shifts {
		if s.Contains(now) {
			return true
		}
	}
	return false
}

// cutOut removes gap from the intervals.
func cutOut(ivs []queue.Interval, gap queue.Interval) []queue.Interval {
	var out []queue.Interval
	for _, iv := range ivs {
		if !gap.Start.Before(iv.End) || !iv.Start.Before(gap.End) {
			out = append(out, iv)
			continue
		}
		if iv.Start.Before(gap.Start) {
			out = append(out, queue.Interval{Start: iv.Start, End: gap.Start})
		}
		if gap.End.Before(iv.End) {
			out = append(out, queue.Interval{Start: gap.End, End: iv.End})
		}
	}
	return out
}
