package queue

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"
)

var staffOK = func(int64) error { return nil }

// expire calls the next ticket of inst and lets its grace period run out.
func (h *harness) expireNext(id int64) Ticket {
	h.t.Helper()
	res := h.advance(id, 1, "")
	if len(res.Called) != 1 {
		h.t.Fatalf("nobody to call: %+v", res)
	}
	h.clock.Advance(4 * time.Minute)
	if _, err := h.svc.ExpireDue(h.ctx); err != nil {
		h.t.Fatal(err)
	}
	t := h.ticket(res.Called[0].ID)
	if t.Status != TicketExpired {
		h.t.Fatalf("ticket %d is %s, want expired", t.Number, t.Status)
	}
	return t
}

// joinSpaced joins n tickets one second apart (distinct places).
func (h *harness) joinSpaced(id int64, n int, req JoinRequest) []Ticket {
	h.t.Helper()
	var out []Ticket
	for range n {
		h.clock.Advance(time.Second)
		out = append(out, h.join(id, req))
	}
	return out
}

func TestContractRequeue(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, h *harness) {
		zero := 0
		inst := h.institution(Fields{PriorityRun: &zero})
		if inst.RejoinWindowSeconds != DefaultRejoinWindowSeconds || inst.RequeueAfter != DefaultRequeueAfter || inst.MaxRequeues != DefaultMaxRequeues {
			t.Fatalf("new institution's settings %+v, want the defaults", inst.Settings)
		}
		h.joinSpaced(inst.ID, 8, JoinRequest{Threshold: 1})
		a := h.expireNext(inst.ID) // number 1
		v := h.inst(inst.ID).Version

		got, err := h.svc.Requeue(h.ctx, a.ID, nil, Meta{Actor: ActorCitizen})
		if err != nil {
			t.Fatal(err)
		}
		if got.Status != TicketWaiting || got.PeopleAhead != 3 || got.Number != a.Number || got.Label != a.Label {
			t.Fatalf("requeued: status %s people_ahead %d number %d label %s; want waiting, 3, %d, %s", got.Status, got.PeopleAhead, got.Number, got.Label, a.Number, a.Label)
		}
		if got.CalledAt != nil || got.Counter != nil || got.CompletedAt != nil {
			t.Fatalf("requeued ticket still shows its call: %+v", got)
		}
		if ev := h.events(a.ID); ev[len(ev)-1] != NotifyRequeued {
			t.Fatalf("notifications %v, want the last to be requeued", ev)
		}
		after := h.inst(inst.ID)
		if after.Version <= v || after.WaitingCount != 8 || after.Services[0].WaitingCount != 8 {
			t.Fatalf("after requeue: version %d (was %d), waiting %d, line %d; want a new version and 8 waiting", after.Version, v, after.WaitingCount, after.Services[0].WaitingCount)
		}
		// Everyone's people_ahead is what happens: 2, 3, 4 stay ahead; 5.. are behind.
		for i, want := range []int64{0, 1, 2, 4, 5, 6, 7} {
			if got := h.waitingAhead(inst.ID, int64(i+2)); got != want {
				t.Fatalf("ticket %d people_ahead %d, want %d", i+2, got, want)
			}
		}
		order := h.drain(inst.ID, "")
		if want := []int64{2, 3, 4, 1, 5, 6, 7, 8}; !slices.Equal(order, want) {
			t.Fatalf("calls after the requeue %v, want %v", order, want)
		}
		calls, err := h.svc.Calls(h.ctx, inst.ID, "2026-11-23", 0, 100)
		if err != nil {
			t.Fatal(err)
		}
		var reasons []string
		for _, c := range calls.Items {
			reasons = append(reasons, c.Reason)
		}
		if want := []string{"in_order", "in_order", "in_order", "in_order", "requeued", "in_order", "in_order", "in_order", "in_order"}; !slices.Equal(reasons, want) {
			t.Fatalf("fairness log reasons %v, want %v", reasons, want)
		}
	})
}

func TestContractRequeueRefusals(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, h *harness) {
		inst := h.institution(Fields{})
		h.joinSpaced(inst.ID, 4, JoinRequest{})
		w := h.joinSpaced(inst.ID, 1, JoinRequest{})[0]
		_, err := h.svc.Requeue(h.ctx, w.ID, nil, Meta{})
		wantCode(t, err, CodeInvalidState) // not expired

		a := h.expireNext(inst.ID)
		if _, err := h.svc.Requeue(h.ctx, a.ID, nil, Meta{}); err != nil {
			t.Fatal(err)
		}
		h.expireNext(inst.ID) // a is at 3 ahead: numbers 2.. are called first
		a = h.ticket(a.ID)
		for a.Status != TicketExpired {
			h.expireNext(inst.ID)
			a = h.ticket(a.ID)
		}
		_, err = h.svc.Requeue(h.ctx, a.ID, nil, Meta{})
		wantCode(t, err, CodeInvalidState) // max_requeues 1
		if _, err := h.svc.Requeue(h.ctx, a.ID, staffOK, Meta{Actor: "token:1"}); err != nil {
			t.Fatalf("staff requeue past max_requeues: %v", err)
		}

		b := h.ticket(w.ID)
		for b.Status != TicketExpired {
			h.expireNext(inst.ID)
			b = h.ticket(w.ID)
		}
		h.clock.Advance(601 * time.Second)
		_, err = h.svc.Requeue(h.ctx, b.ID, nil, Meta{})
		wantCode(t, err, CodeInvalidState) // past the rejoin window
		_, err = h.svc.Requeue(h.ctx, b.ID, func(int64) error { return Errorf(CodeForbidden, "no") }, Meta{})
		wantCode(t, err, CodeForbidden)
		h.clock.Advance(24 * time.Hour)
		_, err = h.svc.Requeue(h.ctx, b.ID, staffOK, Meta{})
		wantCode(t, err, CodeInvalidState) // an earlier day
	})
}

func TestContractDefer(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, h *harness) {
		zero := 0
		inst := h.institution(Fields{PriorityRun: &zero})
		ts := h.joinSpaced(inst.ID, 8, JoinRequest{Threshold: 1})
		first := h.ticket(ts[0].ID)
		if first.Status != TicketNotified {
			t.Fatalf("first ticket %s, want notified", first.Status)
		}
		_, err := h.svc.Defer(h.ctx, first.ID, 0, Meta{})
		wantCode(t, err, CodeInvalid)
		_, err = h.svc.Defer(h.ctx, first.ID, 11, Meta{})
		wantCode(t, err, CodeInvalid)

		got, err := h.svc.Defer(h.ctx, first.ID, 3, Meta{Actor: ActorCitizen})
		if err != nil {
			t.Fatal(err)
		}
		if got.PeopleAhead != 3 || got.Status != TicketWaiting {
			t.Fatalf("deferred by 3: people_ahead %d status %s, want 3 waiting (beyond its threshold 1)", got.PeopleAhead, got.Status)
		}
		// 2 and 3 are now within threshold 1 and notified.
		for n, want := range map[int]TicketStatus{1: TicketNotified, 2: TicketNotified, 3: TicketWaiting} {
			if s := h.ticket(ts[n].ID).Status; s != want {
				t.Fatalf("ticket %d is %s, want %s", n+1, s, want)
			}
		}
		h.advance(inst.ID, 2, "") // 2, 3 called: 1 is within its threshold again
		if got := h.ticket(first.ID); got.Status != TicketNotified || got.PeopleAhead != 1 {
			t.Fatalf("after two calls the deferred ticket is %s with %d ahead, want notified with 1", got.Status, got.PeopleAhead)
		}
		if ev := h.events(first.ID); !slices.Equal(ev, []string{NotifyNearTurn, NotifyNearTurn}) {
			t.Fatalf("notifications %v, want near_turn twice (re-evaluated after the defer)", ev)
		}
		if _, err := h.svc.Defer(h.ctx, first.ID, 10, Meta{}); err != nil {
			t.Fatal(err)
		}
		if got := h.ticket(first.ID); got.PeopleAhead != 5 {
			t.Fatalf("deferred by 10 with 4 behind: people_ahead %d, want 5 (the back)", got.PeopleAhead)
		}
		_, err = h.svc.Defer(h.ctx, first.ID, 1, Meta{})
		wantCode(t, err, CodeInvalidState) // at most twice
		if order := h.drain(inst.ID, ""); !slices.Equal(order, []int64{4, 5, 6, 7, 8, 1}) {
			t.Fatalf("calls %v, want 4..8 then 1", order)
		}
	})
}

func TestContractTransfer(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, h *harness) {
		zero := 0
		inst := h.institution(Fields{PriorityRun: &zero})
		if _, err := h.svc.SetServices(h.ctx, inst.ID, []LineSpec{{Code: "A", Name: "Assessment"}, {Code: "C", Name: "Cashier"}}, Meta{}); err != nil {
			t.Fatal(err)
		}
		a, c := "A", "C"
		as := h.joinSpaced(inst.ID, 3, JoinRequest{Service: &a})
		cs := h.joinSpaced(inst.ID, 3, JoinRequest{Service: &c})
		_, err := h.svc.Transfer(h.ctx, as[0].ID, TransferRequest{Service: "C", Placement: "middle"}, staffOK, Meta{})
		wantCode(t, err, CodeInvalid)
		_, err = h.svc.Transfer(h.ctx, as[0].ID, TransferRequest{Service: "Z", Placement: PlaceFront}, staffOK, Meta{})
		wantCode(t, err, CodeNotFound)

		svc := "A"
		res, err := h.svc.Advance(h.ctx, inst.ID, AdvanceRequest{Count: 1, Service: &svc}, Meta{Actor: "token:1"})
		if err != nil || len(res.Called) != 1 {
			t.Fatalf("advance A: %v %+v", err, res)
		}
		got, err := h.svc.Transfer(h.ctx, as[0].ID, TransferRequest{Service: "C", Placement: PlaceFront}, staffOK, Meta{Actor: "token:1"})
		if err != nil {
			t.Fatal(err)
		}
		if got.Status != TicketWaiting && got.Status != TicketNotified || got.Service != "C" || got.PeopleAhead != 0 || got.Label != as[0].Label || got.Counter != nil {
			t.Fatalf("transferred to the front of C: %+v", got)
		}
		for i, tk := range cs {
			if p := h.ticket(tk.ID).PeopleAhead; p != int64(i+1) {
				t.Fatalf("C ticket %d people_ahead %d, want %d", i, p, i+1)
			}
		}
		// The waiting A-002 goes to C by its issue time: before all of C,
		// and before A-001 too, which was placed just before C-001.
		if _, err := h.svc.Transfer(h.ctx, as[1].ID, TransferRequest{Service: "C", Placement: PlaceOriginal}, staffOK, Meta{}); err != nil {
			t.Fatal(err)
		}
		// The waiting A-003 goes to the back of C.
		if _, err := h.svc.Transfer(h.ctx, as[2].ID, TransferRequest{Service: "C", Placement: PlaceBack}, staffOK, Meta{}); err != nil {
			t.Fatal(err)
		}
		now := h.inst(inst.ID)
		if now.WaitingCount != 6 || now.Services[0].WaitingCount != 0 || now.Services[1].WaitingCount != 6 {
			t.Fatalf("counts after transfers: %d, A %d, C %d; want 6, 0, 6", now.WaitingCount, now.Services[0].WaitingCount, now.Services[1].WaitingCount)
		}
		if ev := h.events(as[0].ID); !slices.Equal(ev[1:], []string{NotifyTurnCalled, NotifyTransferred, NotifyNearTurn}) {
			t.Fatalf("notifications %v, want near_turn, turn_called, transferred, near_turn (at the front of C)", ev)
		}
		want := []int64{as[1].Number, as[0].Number, cs[0].Number, cs[1].Number, cs[2].Number, as[2].Number}
		if order := h.drain(inst.ID, "C"); !slices.Equal(order, want) {
			t.Fatalf("C calls %v, want %v", order, want)
		}
		if _, err := h.svc.Cancel(h.ctx, as[0].ID, Meta{}); err != nil {
			t.Fatal(err)
		}
		_, err = h.svc.Transfer(h.ctx, as[0].ID, TransferRequest{Service: "A", Placement: PlaceBack}, staffOK, Meta{})
		wantCode(t, err, CodeInvalidState)
	})
}

// waitingAhead is the people_ahead of the ticket numbered n.
func (h *harness) waitingAhead(id, n int64) int64 {
	h.t.Helper()
	list, err := h.svc.Store().Tickets(h.ctx, id, []TicketStatus{TicketWaiting, TicketNotified}, n-1, 1)
	if err != nil || len(list) != 1 || list[0].Number != n {
		h.t.Fatalf("ticket %d is not waiting: %v %v", n, err, list)
	}
	return h.ticket(list[0].ID).PeopleAhead
}

// drain calls everyone waiting in service code (every service when empty),
// one at a time, and returns the numbers called in order.
func (h *harness) drain(id int64, code string) []int64 {
	h.t.Helper()
	var out []int64
	for {
		req := AdvanceRequest{Count: 1}
		if code != "" {
			req.Service = &code
		}
		res, err := h.svc.Advance(h.ctx, id, req, Meta{Actor: "token:1"})
		if err != nil {
			h.t.Fatal(err)
		}
		if len(res.Called) == 0 {
			return out
		}
		out = append(out, res.Called[0].Number)
	}
}

// TestMovesKeepPeopleAheadExact mixes joins (regular and priority), calls,
// expiries, requeues, defers and transfers at random, then checks that
// every waiting ticket's people_ahead is exactly how many of its service
// are called before it.
func TestMovesKeepPeopleAheadExact(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, h *harness) {
		for seed := range uint64(3) {
			r := rand.New(rand.NewPCG(seed, 1212))
			run := r.IntN(3)
			inst := orderSetup(h, run)
			var expired, live []string
			for step := range 120 {
				if r.IntN(3) == 0 {
					h.clock.Advance(time.Duration(r.IntN(2000)) * time.Millisecond)
				}
				code := orderCodes[r.IntN(3)]
				switch op := r.IntN(12); {
				case op < 5:
					req := JoinRequest{Service: &code, Threshold: 1 + r.IntN(3)}
					if run > 0 && r.IntN(3) == 0 {
						p := PriorityPWD
						req.Priority = &p
					}
					live = append(live, h.join(inst.ID, req).ID)
				case op < 7:
					res, err := h.svc.Advance(h.ctx, inst.ID, AdvanceRequest{Count: 1 + r.IntN(2), Service: &code}, Meta{Actor: "token:1"})
					if err != nil {
						t.Fatal(err)
					}
					for _, c := range res.Called {
						if r.IntN(2) == 0 {
							h.clock.Advance(4 * time.Minute)
							if _, err := h.svc.ExpireDue(h.ctx); err != nil {
								t.Fatal(err)
							}
							expired = append(expired, c.ID)
						}
					}
				case op < 8 && len(expired) > 0:
					i := r.IntN(len(expired))
					if got, err := h.svc.Requeue(h.ctx, expired[i], staffOK, Meta{Actor: "token:1"}); err != nil {
						if c, _ := ErrorCode(err); c != CodeInvalidState {
							t.Fatalf("step %d: requeue: %v", step, err)
						}
					} else if got.PeopleAhead > DefaultRequeueAfter {
						t.Fatalf("step %d: requeued with %d ahead, more than requeue_after %d", step, got.PeopleAhead, DefaultRequeueAfter)
					}
					expired = slices.Delete(expired, i, i+1)
				case op < 10 && len(live) > 0:
					id := live[r.IntN(len(live))]
					before := h.ticket(id)
					got, err := h.svc.Defer(h.ctx, id, 1+r.IntN(5), Meta{})
					if err != nil {
						if c, _ := ErrorCode(err); c != CodeInvalidState {
							t.Fatalf("step %d: defer: %v", step, err)
						}
					} else if got.Status.Waiting() && got.PeopleAhead <= before.PeopleAhead && got.UpdatedAt != before.UpdatedAt {
						t.Fatalf("step %d: a defer moved ticket %d from %d ahead to %d", step, got.Number, before.PeopleAhead, got.PeopleAhead)
					}
				case len(live) > 0:
					pl := []string{PlaceFront, PlaceBack, PlaceOriginal}[r.IntN(3)]
					if _, err := h.svc.Transfer(h.ctx, live[r.IntN(len(live))], TransferRequest{Service: code, Placement: pl}, staffOK, Meta{}); err != nil {
						if c, _ := ErrorCode(err); c != CodeInvalidState {
							t.Fatalf("step %d: transfer: %v", step, err)
						}
					}
				}
			}
			h.checkPromises(inst.ID, fmt.Sprintf("seed %d run %d", seed, run))
		}
	})
}

// checkPromises reads every waiting ticket's people_ahead and status, then
// drains each service and checks each was called after exactly that many,
// and that no ticket within its threshold is still only waiting (a
// notified ticket stays notified when others are placed ahead of it).
func (h *harness) checkPromises(id int64, what string) {
	t := h.t
	t.Helper()
	waiting, err := h.svc.Store().Tickets(h.ctx, id, []TicketStatus{TicketWaiting, TicketNotified}, 0, 10000)
	if err != nil {
		t.Fatal(err)
	}
	inst := h.inst(id)
	var total int64
	promised := map[int64]int64{}
	for _, w := range waiting {
		tk := h.ticket(w.ID)
		promised[tk.Number] = tk.PeopleAhead
		if tk.PeopleAhead <= int64(tk.NearTurnThreshold) && tk.Status != TicketNotified {
			t.Fatalf("%s: ticket %d is %s with %d ahead and threshold %d", what, tk.Number, tk.Status, tk.PeopleAhead, tk.NearTurnThreshold)
		}
	}
	for _, l := range inst.Services {
		total += l.WaitingCount
	}
	if total != int64(len(waiting)) || inst.WaitingCount != total {
		t.Fatalf("%s: %d waiting, institution counts %d, lines %d", what, len(waiting), inst.WaitingCount, total)
	}
	for _, code := range orderCodes {
		for i, n := range h.drain(id, code) {
			if want, ok := promised[n]; !ok || want != int64(i) {
				t.Fatalf("%s: ticket %d of %s was called after %d others, it was promised %d (known %v)", what, n, code, i, want, ok)
			}
			delete(promised, n)
		}
	}
	if len(promised) != 0 {
		t.Fatalf("%s: never called: %v", what, promised)
	}
}

// TestMovesConcurrent runs joins, calls, defers and transfers from many
// goroutines at once; afterwards every promise still holds.
func TestMovesConcurrent(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, h *harness) {
		inst := orderSetup(h, 2)
		var mu sync.Mutex
		var ids []string
		for range 40 {
			code := orderCodes[len(ids)%3]
			ids = append(ids, h.join(inst.ID, JoinRequest{Service: &code}).ID)
		}
		var wg sync.WaitGroup
		errs := make(chan error, 200)
		for g := range 20 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := rand.New(rand.NewPCG(uint64(g), 7))
				for range 8 {
					mu.Lock()
					id := ids[r.IntN(len(ids))]
					mu.Unlock()
					code := orderCodes[r.IntN(3)]
					var err error
					switch r.IntN(4) {
					case 0:
						var res JoinResult
						res, err = h.svc.Join(h.ctx, inst.ID, JoinRequest{Service: &code}, Meta{})
						if err == nil {
							mu.Lock()
							ids = append(ids, res.Ticket.ID)
							mu.Unlock()
						}
					case 1:
						_, err = h.svc.Defer(h.ctx, id, 1+r.IntN(10), Meta{})
					case 2:
						_, err = h.svc.Transfer(h.ctx, id, TransferRequest{Service: code, Placement: PlaceFront}, staffOK, Meta{})
					case 3:
						_, err = h.svc.Advance(h.ctx, inst.ID, AdvanceRequest{Count: 1, Service: &code}, Meta{})
					}
					if c, _ := ErrorCode(err); err != nil && c != CodeInvalidState {
						errs <- err
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		h.checkPromises(inst.ID, "after concurrent moves")
	})
}
