package queue

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// A plain reference model of the calling order, written from the contract
// and apart from order.go: it keeps every waiting ticket in one list and
// finds the next call by looking at all of them.
type refTicket struct {
	id       string
	number   int64
	service  string
	place    time.Time
	priority bool
}

type refModel struct {
	run     int
	waiting []refTicket
	streak  map[string]int
}

func (m *refModel) clone() *refModel {
	c := &refModel{run: m.run, waiting: slices.Clone(m.waiting), streak: map[string]int{}}
	for k, v := range m.streak {
		c.streak[k] = v
	}
	return c
}

func refEarlier(a, b refTicket) bool {
	if !a.place.Equal(b.place) {
		return a.place.Before(b.place)
	}
	return a.number < b.number
}

// call removes and returns the ticket the services codes call next.
func (m *refModel) call(codes []string) (refTicket, bool) {
	best, bestPri := -1, false
	for _, code := range codes {
		reg, pri := -1, -1
		for i, t := range m.waiting {
			if t.service != code {
				continue
			}
			if t.priority && m.run > 0 {
				if pri < 0 || refEarlier(t, m.waiting[pri]) {
					pri = i
				}
			} else if reg < 0 || refEarlier(t, m.waiting[reg]) {
				reg = i
			}
		}
		head, isPri := reg, false
		if pri >= 0 && (reg < 0 || m.streak[code] < m.run) {
			head, isPri = pri, true
		}
		if head >= 0 && (best < 0 || refEarlier(m.waiting[head], m.waiting[best])) {
			best, bestPri = head, isPri
		}
	}
	if best < 0 {
		return refTicket{}, false
	}
	t := m.waiting[best]
	m.waiting = slices.Delete(m.waiting, best, best+1)
	if bestPri {
		m.streak[t.service]++
	} else {
		m.streak[t.service] = 0
	}
	return t, true
}

func (m *refModel) remove(id string) {
	m.waiting = slices.DeleteFunc(m.waiting, func(t refTicket) bool { return t.id == id })
}

// ahead counts the calls from t's service before t.
func (m *refModel) ahead(t refTicket) int64 {
	c := m.clone()
	var n int64
	for {
		got, ok := c.call([]string{t.service})
		if !ok || got.id == t.id {
			return n
		}
		n++
	}
}

var orderCodes = []string{"A", "B", "C"}

// orderSetup makes an institution with services A, B and C, counter 1
// calling A and counter 2 calling B and C, and the given priority run.
func orderSetup(h *harness, run int) Institution {
	h.t.Helper()
	inst := h.institution(Fields{PriorityRun: &run})
	_, err := h.svc.SetServices(h.ctx, inst.ID, []LineSpec{{Code: "A", Name: "Payments"}, {Code: "B", Name: "Registrations"}, {Code: "C", Name: "Releasing"}}, Meta{Actor: "token:admin"})
	if err != nil {
		h.t.Fatal(err)
	}
	inst, err = h.svc.SetCounters(h.ctx, inst.ID, []Counter{{Name: "1", Services: []string{"A"}}, {Name: "2", Services: []string{"B", "C"}}}, Meta{Actor: "token:admin"})
	if err != nil {
		h.t.Fatal(err)
	}
	return inst
}

// orderOps runs steps random operations on institution id and the model
// side by side, checking every call and every waiting ticket's people ahead.
func orderOps(t *testing.T, h *harness, r *rand.Rand, id int64, m *refModel, steps int, checkEvery bool) {
	t.Helper()
	labels := map[string]int64{}
	thresholds := map[string]int{}
	for step := range steps {
		if r.IntN(3) == 0 {
			h.clock.Advance(time.Duration(r.IntN(3)+1) * time.Second)
		}
		var what string
		switch op := r.IntN(10); {
		case op < 5: // join
			code := orderCodes[r.IntN(3)]
			req := JoinRequest{Service: &code, Threshold: 1 + r.IntN(4)}
			if r.IntN(6) == 0 {
				req.Service = nil // the default: the first open service
				code = "A"
			}
			if r.IntN(3) == 0 {
				p := PrioritySenior
				req.Priority = &p
			}
			what = fmt.Sprintf("join %s priority %v", code, req.Priority != nil)
			res, err := h.svc.Join(h.ctx, id, req, Meta{Actor: ActorCitizen})
			if req.Priority != nil && m.run == 0 {
				wantCode(t, err, CodeInvalid)
				continue
			}
			if err != nil {
				t.Fatalf("step %d %s: %v", step, what, err)
			}
			tk := res.Ticket
			labels[code]++
			if want := FormatLabel(code, labels[code]); tk.Service != code || tk.Label != want {
				t.Fatalf("step %d %s: service %s label %s, want %s %s", step, what, tk.Service, tk.Label, code, want)
			}
			rt := refTicket{id: tk.ID, number: tk.Number, service: code, place: h.clock.Now().UTC().Truncate(time.Microsecond), priority: req.Priority != nil}
			m.waiting = append(m.waiting, rt)
			thresholds[tk.ID] = req.Threshold
			if got, want := tk.PeopleAhead, m.ahead(rt); got != want {
				t.Fatalf("step %d %s: people_ahead at join = %d, want %d", step, what, got, want)
			}
		case op < 8: // advance
			req := AdvanceRequest{Count: 1 + r.IntN(4)}
			var codes []string
			switch r.IntN(5) {
			case 0:
				code := orderCodes[r.IntN(3)]
				req.Service, codes = &code, []string{code}
			case 1:
				c := "1"
				req.Counter, codes = &c, []string{"A"}
			case 2:
				c := "2"
				req.Counter, codes = &c, []string{"B", "C"}
			case 3:
				c := "9" // not configured: every service
				req.Counter, codes = &c, orderCodes
			default:
				codes = orderCodes
			}
			what = fmt.Sprintf("advance %d from %v", req.Count, codes)
			res, err := h.svc.Advance(h.ctx, id, req, Meta{Actor: "token:1"})
			if err != nil {
				t.Fatalf("step %d %s: %v", step, what, err)
			}
			var want []int64
			for range req.Count {
				rt, ok := m.call(codes)
				if !ok {
					break
				}
				want = append(want, rt.number)
			}
			var got []int64
			for _, c := range res.Called {
				got = append(got, c.Number)
			}
			if !slices.Equal(got, want) {
				t.Fatalf("step %d %s: called %v, want %v", step, what, got, want)
			}
		default: // a particular call, a cancel or a priority change
			if len(m.waiting) == 0 {
				continue
			}
			rt := m.waiting[r.IntN(len(m.waiting))]
			var err error
			switch r.IntN(3) {
			case 0:
				what = fmt.Sprintf("call %d", rt.number)
				c := "7"
				_, err = h.svc.CallTicket(h.ctx, rt.id, CallRequest{Counter: &c, Reason: "appointment"}, nil, Meta{Actor: "token:1"})
				m.remove(rt.id)
			case 1:
				what = fmt.Sprintf("cancel %d", rt.number)
				_, err = h.svc.Cancel(h.ctx, rt.id, Meta{Actor: ActorCitizen})
				m.remove(rt.id)
			default:
				if m.run == 0 {
					continue
				}
				what = fmt.Sprintf("priority of %d to %v", rt.number, !rt.priority)
				var p *Priority
				if !rt.priority {
					pp := PriorityPWD
					p = &pp
				}
				_, err = h.svc.SetPriority(h.ctx, rt.id, p, nil, Meta{Actor: "token:1"})
				i := slices.IndexFunc(m.waiting, func(x refTicket) bool { return x.id == rt.id })
				m.waiting[i].priority = !rt.priority
			}
			if err != nil {
				t.Fatalf("step %d %s: %v", step, what, err)
			}
		}
		if checkEvery || step == steps-1 {
			checkAhead(t, h, m, thresholds, fmt.Sprintf("step %d after %s", step, what))
		}
	}
}

// checkAhead compares every waiting ticket with the model.
func checkAhead(t *testing.T, h *harness, m *refModel, thresholds map[string]int, when string) {
	t.Helper()
	for _, rt := range m.waiting {
		tk := h.ticket(rt.id)
		want := m.ahead(rt)
		if !tk.Status.Waiting() || tk.PeopleAhead != want || tk.Position == nil || *tk.Position != want+1 {
			t.Fatalf("%s: ticket %d (%s, priority %v) is %s with people_ahead %d position %v, want waiting with %d",
				when, rt.number, rt.service, rt.priority, tk.Status, tk.PeopleAhead, tk.Position, want)
		}
		if want <= int64(thresholds[rt.id]) && tk.Status != TicketNotified {
			t.Fatalf("%s: ticket %d has %d ahead, within its threshold %d, but is %s", when, rt.number, want, thresholds[rt.id], tk.Status)
		}
	}
}

// TestCallingOrderProperties checks random sequences of joins (with and
// without priority, three services), advances from a service, configured
// and unconfigured counters, particular calls, cancels and priority changes
// against the reference model: every call, every people_ahead.
func TestCallingOrderProperties(t *testing.T) {
	t.Parallel()
	for seed := range uint64(40) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			t.Parallel()
			r := rand.New(rand.NewPCG(seed, 11))
			run := r.IntN(4)
			clock := &fakeClock{now: time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC)}
			h := &harness{t: t, svc: NewService(NewMemoryStore(), Config{GracePeriod: 3 * time.Minute, Now: clock.Now, MaxJoinBatch: 1}), clock: clock, ctx: t.Context()}
			inst := orderSetup(h, run)
			m := &refModel{run: run, streak: map[string]int{}}
			orderOps(t, h, r, inst.ID, m, 150, true)
		})
	}
}

// TestPeopleAheadIsWhatHappens: after a random sequence, each waiting
// ticket's people_ahead is how many tickets staff actually call before it
// when they then drain its service, on both stores.
func TestPeopleAheadIsWhatHappens(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, h *harness) {
		for seed := range uint64(3) {
			r := rand.New(rand.NewPCG(seed, 12))
			run := 1 + r.IntN(3)
			inst := orderSetup(h, run)
			m := &refModel{run: run, streak: map[string]int{}}
			orderOps(t, h, r, inst.ID, m, 60, false)
			promised := map[int64]int64{}
			for _, rt := range m.waiting {
				promised[rt.number] = h.ticket(rt.id).PeopleAhead
			}
			for _, code := range orderCodes {
				var called int64
				for {
					res, err := h.svc.Advance(h.ctx, inst.ID, AdvanceRequest{Count: 1, Service: &code}, Meta{Actor: "token:1"})
					if err != nil {
						t.Fatal(err)
					}
					if len(res.Called) == 0 {
						break
					}
					n := res.Called[0].Number
					if want, ok := promised[n]; !ok || want != called {
						t.Fatalf("seed %d: ticket %d of %s was called after %d others, it was promised %d (known %v)", seed, n, code, called, want, ok)
					}
					delete(promised, n)
					called++
				}
			}
			if len(promised) != 0 {
				t.Fatalf("seed %d: never called: %v", seed, promised)
			}
		}
	})
}

// TestPeopleAheadFormula checks PeopleAhead against a step-by-step run of
// the order for every small lane length, streak and run.
func TestPeopleAheadFormula(t *testing.T) {
	t.Parallel()
	base := time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC)
	for run := 0; run <= 3; run++ {
		for streak := 0; streak <= 4; streak++ {
			for nReg := range 5 {
				for nPri := range 5 {
					m := &refModel{run: run, streak: map[string]int{"A": streak}}
					var num int64
					for i := range nReg {
						num++
						m.waiting = append(m.waiting, refTicket{id: fmt.Sprint(num), number: num, service: "A", place: base.Add(time.Duration(2*i) * time.Second)})
					}
					for i := range nPri {
						num++
						m.waiting = append(m.waiting, refTicket{id: fmt.Sprint(num), number: num, service: "A", place: base.Add(time.Duration(2*i+1) * time.Second), priority: true})
					}
					for _, rt := range m.waiting {
						var index int64
						for _, o := range m.waiting {
							sameLane := run == 0 || o.priority == rt.priority
							if sameLane && refEarlier(o, rt) {
								index++
							}
						}
						want := m.ahead(rt)
						reg, pri := int64(nReg), int64(nPri)
						if run == 0 {
							reg, pri = reg+pri, 0
						}
						if got := PeopleAhead(run, streak, reg, pri, rt.priority && run > 0, index); got != want {
							t.Fatalf("run %d streak %d reg %d pri %d, ticket %d (priority %v, index %d): PeopleAhead = %d, want %d",
								run, streak, nReg, nPri, rt.number, rt.priority, index, got, want)
						}
					}
				}
			}
		}
	}
}
