package queue

import (
	"encoding/json"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// TestWaitTableIsWait: the table's wait for every people_ahead is exactly
// Pace.Wait, on random paces, inside and beyond the table.
func TestWaitTableIsWait(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(11, 12))
	for trial := range 200 {
		start := estT0.Add(8 * time.Hour)
		var calls []PaceCall
		at := start
		for range 3 + r.IntN(60) {
			at = at.Add(time.Duration(r.IntN(600)+1) * time.Second)
			calls = append(calls, PaceCall{At: at, Counter: string(rune('1' + r.IntN(4)))})
		}
		p, ok := ServicePace(calls, at.Add(time.Duration(r.IntN(300))*time.Second))
		if !ok {
			continue
		}
		n := r.IntN(40)
		tab := p.Table(n)
		for ahead := range n + 5 {
			if got, want := tab.Wait(ahead), p.Wait(ahead); got != want {
				t.Fatalf("trial %d: table(%d).Wait(%d) = %+v, Pace.Wait = %+v", trial, n, ahead, got, want)
			}
		}
	}
}

// TestKeepPaceCalls: the log keeps the calls within the horizon of the
// newest (at least the last three), at most PaceCallsKept, and never
// writes into the array it was given.
func TestKeepPaceCalls(t *testing.T) {
	t.Parallel()
	var log []PaceCall
	at := estT0.Add(8 * time.Hour)
	for i := range 400 {
		at = at.Add(30 * time.Second)
		prev := slices.Clone(log)
		next := KeepPaceCalls(log, PaceCall{At: at, Counter: "1"})
		if !slices.Equal(log, prev) {
			t.Fatalf("call %d: the given log changed", i)
		}
		log = next
		if len(log) > PaceCallsKept || log[len(log)-1].At != at {
			t.Fatalf("call %d: %d kept, newest %v", i, len(log), log[len(log)-1].At)
		}
	}
	if len(log) != PaceCallsKept {
		t.Fatalf("%d kept after 400 calls 30s apart, want %d", len(log), PaceCallsKept)
	}
	// After a long break only the last three calls, the new one with them,
	// are kept: what ServicePace keeps.
	log = KeepPaceCalls(log, PaceCall{At: at.Add(4 * time.Hour), Counter: "2"})
	if len(log) != EstimateMinCalls || log[0].At != at.Add(-30*time.Second) {
		t.Fatalf("after a 4h break: %d kept from %v", len(log), log[0].At)
	}
	b, err := json.Marshal(paceLog(log))
	if err != nil {
		t.Fatal(err)
	}
	var back paceLog
	if err := json.Unmarshal(b, &back); err != nil || !slices.EqualFunc(back, log, func(a, b PaceCall) bool { return a.At.Equal(b.At) && a.Counter == b.Counter }) {
		t.Fatalf("pace log %s read back as %v (%v)", b, back, err)
	}
}

// TestContractEstimates: a service and its waiting tickets have no
// estimate until the service has 3 calls in the day (and a counter has
// called twice); then each has the estimate of estimate.go for its people
// ahead, as of the service's last call, with the range around it; another
// service's calls do not count; the next day starts over. The
// institution's own estimate stays v1's.
func TestContractEstimates(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, h *harness) {
		inst := h.institution(Fields{})
		admin := Meta{Actor: "token:admin"}
		if _, err := h.svc.SetServices(h.ctx, inst.ID, []LineSpec{{Code: "A", Name: "Payments"}, {Code: "B", Name: "Releasing"}}, admin); err != nil {
			t.Fatal(err)
		}
		if _, err := h.svc.SetCounters(h.ctx, inst.ID, []Counter{{Name: "1", Services: []string{"A"}}, {Name: "2", Services: []string{"A"}}, {Name: "3", Services: []string{"B"}}}, admin); err != nil {
			t.Fatal(err)
		}
		var events []Event
		h.svc.OnEvent(func(ev Event) { events = append(events, ev) })
		b := "B"
		var as []Ticket
		for range 12 {
			as = append(as, h.join(inst.ID, JoinRequest{}))
		}
		for range 4 {
			h.join(inst.ID, JoinRequest{Service: &b})
		}
		noEstimate := func(when string, code string) {
			t.Helper()
			for _, l := range h.inst(inst.ID).Services {
				if l.Code == code && (l.EstimatedWaitSeconds != nil || l.EstimatedWaitRange != nil) {
					t.Fatalf("%s: service %s has an estimate %v %v", when, code, *l.EstimatedWaitSeconds, l.EstimatedWaitRange)
				}
			}
			for _, tk := range as {
				if tk := h.ticket(tk.ID); tk.Service == code && tk.Status.Waiting() && (tk.EstimatedWaitSeconds != nil || tk.EstimatedWaitRange != nil) {
					t.Fatalf("%s: ticket %s has an estimate", when, tk.Label)
				}
			}
		}
		noEstimate("before any call", "A")
		// Calls of the day from A: 08:00 at 1, 08:04 at 2, 08:07 at 1.
		var calls []PaceCall
		call := func(counter string) {
			h.advance(inst.ID, 1, counter)
			calls = append(calls, PaceCall{At: h.clock.Now().Truncate(time.Millisecond), Counter: counter})
		}
		call("1")
		h.clock.Advance(4 * time.Minute)
		call("2")
		h.advance(inst.ID, 1, "3") // B's call: not A's pace
		noEstimate("after 2 calls", "A")
		if v1 := h.inst(inst.ID).EstimatedWaitSeconds; v1 == nil {
			t.Fatal("the institution's v1 estimate is null after calls 4 minutes apart")
		}
		h.clock.Advance(3 * time.Minute)
		call("1")
		last := h.clock.Now()
		h.clock.Advance(2 * time.Minute) // reads later still give the estimate as of the last call

		pace, ok := ServicePace(calls, last.Truncate(time.Millisecond))
		if !ok {
			t.Fatal("reference: no pace from the three calls")
		}
		got := h.inst(inst.ID)
		a := got.Services[0]
		want := pace.Wait(int(a.WaitingCount))
		if a.WaitingCount != 9 || a.EstimatedWaitSeconds == nil || *a.EstimatedWaitSeconds != want.Seconds || *a.EstimatedWaitRange != want.Range() {
			t.Fatalf("service A (%d waiting): estimate %v %v, want %+v", a.WaitingCount, a.EstimatedWaitSeconds, a.EstimatedWaitRange, want)
		}
		if r := *a.EstimatedWaitRange; !(r[0] <= want.Seconds && want.Seconds <= r[1] && r[0] < r[1]) {
			t.Fatalf("service A range %v does not contain its estimate %d", r, want.Seconds)
		}
		if l := got.Services[1]; l.EstimatedWaitSeconds != nil || l.EstimatedWaitRange != nil {
			t.Fatalf("service B has an estimate after 1 call of its own")
		}
		var prev int64 = -1
		for _, tk := range as {
			tk = h.ticket(tk.ID)
			if !tk.Status.Waiting() {
				if tk.EstimatedWaitRange != nil {
					t.Fatalf("%s (%s) has a range", tk.Label, tk.Status)
				}
				continue
			}
			w := pace.Wait(int(tk.PeopleAhead))
			if tk.EstimatedWaitSeconds == nil || *tk.EstimatedWaitSeconds != w.Seconds || *tk.EstimatedWaitRange != w.Range() {
				t.Fatalf("%s with %d ahead: estimate %v %v, want %+v", tk.Label, tk.PeopleAhead, tk.EstimatedWaitSeconds, tk.EstimatedWaitRange, w)
			}
			if r := *tk.EstimatedWaitRange; r[0] > w.Seconds || w.Seconds > r[1] || w.Seconds < prev {
				t.Fatalf("%s: estimate %d, range %v, previous ticket's %d", tk.Label, w.Seconds, r, prev)
			}
			prev = w.Seconds
		}
		// The staff list gives the same figures.
		staff, _, err := h.svc.StaffTickets(h.ctx, inst.ID, []TicketStatus{TicketWaiting, TicketNotified}, 0, 100)
		if err != nil {
			t.Fatal(err)
		}
		for _, st := range staff {
			if st.Service != "A" {
				continue
			}
			if w := pace.Wait(int(st.PeopleAhead)); st.EstimatedWaitSeconds == nil || *st.EstimatedWaitSeconds != w.Seconds {
				t.Fatalf("staff list %s: estimate %v, want %d", st.Label, st.EstimatedWaitSeconds, w.Seconds)
			}
		}
		// The event of the last call carries the same service estimate.
		ev := events[len(events)-1].Institution
		if e := ev.Services[0]; e.EstimatedWaitSeconds == nil || *e.EstimatedWaitSeconds != want.Seconds {
			t.Fatalf("event's service A estimate %v, want %d", e.EstimatedWaitSeconds, want.Seconds)
		}

		// A new local day: nothing is known until three calls of that day.
		h.clock.Advance(24 * time.Hour)
		noEstimate("next day", "A")
		h.advance(inst.ID, 2, "1")
		noEstimate("next day, 2 calls", "A")
	})
}

// TestContractRecentCallsNameTheTicket: recent_calls name each call's label
// and service, newest first, as boards show them.
func TestContractRecentCallsNameTheTicket(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, h *harness) {
		inst := h.institution(Fields{})
		if _, err := h.svc.SetServices(h.ctx, inst.ID, []LineSpec{{Code: "A", Name: "Payments"}, {Code: "B", Name: "Releasing"}}, Meta{Actor: "token:admin"}); err != nil {
			t.Fatal(err)
		}
		b := "B"
		h.join(inst.ID, JoinRequest{})
		h.join(inst.ID, JoinRequest{Service: &b})
		h.advance(inst.ID, 2, "7")
		got := h.inst(inst.ID).RecentCalls
		if len(got) != 2 || got[0].Label != "B-001" || got[0].Service != "B" || got[1].Label != "A-001" || got[1].Service != "A" ||
			got[0].Number != 2 || *got[0].Counter != "7" {
			t.Fatalf("recent_calls = %+v", got)
		}
	})
}
