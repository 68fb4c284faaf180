package queue

import (
	"context"
	"slices"
	"testing"
	"time"
)

func (h *harness) sync(id int64, q OutsideQueue) SyncResult {
	h.t.Helper()
	res, err := h.svc.SyncCalls(h.ctx, id, q, Meta{Actor: ActorSync, RequestID: "sync-1"})
	if err != nil {
		h.t.Fatalf("sync %d to %+v: %v", id, q, err)
	}
	return res
}

func numbersOf(ts []Ticket) []int64 {
	out := []int64{}
	for _, t := range ts {
		out = append(out, t.Number)
	}
	return out
}

func TestContractSyncCalls(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, h *harness) {
		inst := h.institution(Fields{})
		phone := h.join(inst.ID, JoinRequest{}) // number 1, joined through QueueLess
		var evs []Event
		h.svc.OnEvent(func(ev Event) { evs = append(evs, ev) })

		// Walk-ins 2..6 are mirrored; 1..3 are called, 3 at counter 2.
		two := "2"
		res := h.sync(inst.ID, OutsideQueue{NowServing: 3, LastIssued: 6, Calls: []Call{{Number: 3, Counter: &two}}})
		if !res.Changed || !slices.Equal(numbersOf(res.Issued), []int64{2, 3, 4, 5, 6}) || !slices.Equal(numbersOf(res.Called), []int64{1, 2, 3}) {
			t.Fatalf("first sync: changed %v, issued %v, called %v", res.Changed, numbersOf(res.Issued), numbersOf(res.Called))
		}
		if c := res.Called[2].Counter; c == nil || *c != "2" {
			t.Errorf("number 3 called at counter %v, want 2", c)
		}
		got := h.inst(inst.ID)
		if got.NowServing != 3 || got.LastIssued != 6 || got.WaitingCount != 3 {
			t.Fatalf("after sync: now_serving %d, last_issued %d, waiting %d; want 3, 6, 3", got.NowServing, got.LastIssued, got.WaitingCount)
		}
		if len(evs) != 1 || evs[0].Institution.Version != got.Version {
			t.Fatalf("%d events for one sync, want 1 with the new version", len(evs))
		}
		if tk := h.ticket(phone.ID); tk.Status != TicketServing {
			t.Errorf("the phone's ticket 1 is %s, want serving", tk.Status)
		}
		// The walk-ins left waiting are numbered above now_serving and ranked.
		waiting, _ := h.svc.Store().Tickets(h.ctx, inst.ID, []TicketStatus{TicketWaiting, TicketNotified}, 0, 10)
		if !slices.Equal(numbersOf(waiting), []int64{4, 5, 6}) || waiting[0].Status != TicketNotified {
			t.Fatalf("waiting after sync: %v (first %s), want 4 5 6 with 4 notified", numbersOf(waiting), waiting[0].Status)
		}

		// The same, an older and a backward queue change nothing.
		version := got.Version
		for _, q := range []OutsideQueue{{NowServing: 3, LastIssued: 6}, {NowServing: 2, LastIssued: 4}, {NowServing: 0, LastIssued: 0}} {
			if res := h.sync(inst.ID, q); res.Changed || len(res.Called) != 0 || len(res.Issued) != 0 {
				t.Errorf("sync to %+v changed something: %+v", q, res)
			}
		}
		if v := h.inst(inst.ID).Version; v != version || len(evs) != 1 {
			t.Fatalf("no-op syncs moved the version from %d to %d or emitted %d events", version, v, len(evs)-1)
		}

		// A cancelled number is skipped but now_serving still follows.
		h.clock.Advance(time.Minute)
		tk5, err := h.svc.Store().Tickets(h.ctx, inst.ID, []TicketStatus{TicketWaiting, TicketNotified}, 4, 1)
		if err != nil || len(tk5) != 1 {
			t.Fatalf("ticket 5: %v %v", tk5, err)
		}
		if _, err := h.svc.Cancel(h.ctx, tk5[0].ID, Meta{Actor: ActorCitizen}); err != nil {
			t.Fatal(err)
		}
		res = h.sync(inst.ID, OutsideQueue{NowServing: 5, LastIssued: 6})
		if !slices.Equal(numbersOf(res.Called), []int64{4}) || h.inst(inst.ID).NowServing != 5 {
			t.Fatalf("sync past a cancelled 5: called %v, now_serving %d; want [4], 5", numbersOf(res.Called), h.inst(inst.ID).NowServing)
		}
		// Calls serve checked-in tickets, as an advance does.
		if _, err := h.svc.CheckIn(h.ctx, phone.ID, Meta{Actor: ActorCitizen}); err != nil {
			t.Fatal(err)
		}
		res = h.sync(inst.ID, OutsideQueue{NowServing: 6, LastIssued: 8})
		if !slices.Equal(numbersOf(res.Served), []int64{1}) || !slices.Equal(numbersOf(res.Called), []int64{6}) {
			t.Fatalf("sync with a checked-in ticket: served %v, called %v", numbersOf(res.Served), numbersOf(res.Called))
		}
	})
}

func TestContractSyncRefusesNonsense(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, h *harness) {
		inst := h.institution(Fields{})
		for _, q := range []OutsideQueue{
			{NowServing: 5, LastIssued: 3},
			{NowServing: -1, LastIssued: 3},
			{NowServing: 0, LastIssued: MaxSyncStep + 1},
		} {
			_, err := h.svc.SyncCalls(h.ctx, inst.ID, q, Meta{})
			wantCode(t, err, CodeInvalid)
		}
		if got := h.inst(inst.ID); got.LastIssued != 0 || got.Version != inst.Version {
			t.Fatalf("a refused sync changed the institution: %+v", got)
		}
		_, err := h.svc.SyncCalls(h.ctx, inst.ID+100, OutsideQueue{}, Meta{})
		wantCode(t, err, CodeNotFound)
	})
}

// eachLinkStore runs fn against every LinkStore, with an institution id
// that exists in it.
func eachLinkStore(t *testing.T, fn func(t *testing.T, ls LinkStore, id int64)) {
	t.Helper()
	stores := map[string]func(t *testing.T) (LinkStore, Store){
		"memory": func(t *testing.T) (LinkStore, Store) { return NewMemoryLinkStore(nil), NewMemoryStore() },
		"postgres": func(t *testing.T) (LinkStore, Store) {
			s := newTestPostgresStore(t)
			return NewPostgresLinkStore(s.pool), s
		},
	}
	for name, mk := range stores {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ls, st := mk(t)
			svc := NewService(st, Config{})
			inst, err := svc.CreateInstitution(context.Background(), Fields{Name: "Linked", Kind: "bank"}, Meta{})
			if err != nil {
				t.Fatal(err)
			}
			fn(t, ls, inst.ID)
		})
	}
}

func TestContractLinkStore(t *testing.T) {
	t.Parallel()
	eachLinkStore(t, func(t *testing.T, ls LinkStore, id int64) {
		ctx := context.Background()
		if _, err := ls.Link(ctx, id); !IsNotFound(err) {
			t.Fatalf("link before put: %v, want not found", err)
		}
		l, err := ls.PutLink(ctx, Link{InstitutionID: id, Mode: LinkPoll, URL: "http://outside/q", PollInterval: time.Second, StaleAfter: 30 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		if l.Breaker != BreakerClosed || l.Outside != nil || l.CreatedAt.IsZero() {
			t.Fatalf("new link: %+v", l)
		}
		now := time.Now().UTC().Truncate(time.Millisecond)
		c := "1"
		st := LinkStatus{Outside: &OutsideQueue{NowServing: 3, LastIssued: 5, Calls: []Call{{Number: 3, Counter: &c, CalledAt: now}}},
			LastSuccessAt: &now, LastAttemptAt: &now, Breaker: BreakerHalfOpen, ConsecutiveFailures: 2, LastError: "boom"}
		if ok, err := ls.SetLinkStatus(ctx, id, "", st); err != nil || !ok {
			t.Fatalf("set status without owner: %v %v", ok, err)
		}
		got, err := ls.Link(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if got.Outside == nil || got.Outside.NowServing != 3 || len(got.Outside.Calls) != 1 || *got.Outside.Calls[0].Counter != "1" ||
			got.Breaker != BreakerHalfOpen || got.LastError != "boom" || !got.LastSuccessAt.Equal(now) {
			t.Fatalf("status read back: %+v", got)
		}

		// The lease: one owner at a time, renewable, released, expiring.
		if ok, _ := ls.AcquireLinkLease(ctx, id, "a", time.Minute); !ok {
			t.Fatal("a could not take a free lease")
		}
		if ok, _ := ls.AcquireLinkLease(ctx, id, "b", time.Minute); ok {
			t.Fatal("b took a lease a holds")
		}
		if ok, _ := ls.AcquireLinkLease(ctx, id, "a", time.Minute); !ok {
			t.Fatal("a could not renew its lease")
		}
		if ok, _ := ls.SetLinkStatus(ctx, id, "b", LinkStatus{}); ok {
			t.Fatal("b recorded status on a's lease")
		}
		if ok, _ := ls.SetLinkStatus(ctx, id, "a", st); !ok {
			t.Fatal("a could not record status on its lease")
		}
		if err := ls.ReleaseLinkLease(ctx, id, "b"); err != nil {
			t.Fatal(err)
		}
		if ok, _ := ls.AcquireLinkLease(ctx, id, "b", time.Minute); ok {
			t.Fatal("b's release freed a's lease")
		}
		if err := ls.ReleaseLinkLease(ctx, id, "a"); err != nil {
			t.Fatal(err)
		}
		if ok, _ := ls.AcquireLinkLease(ctx, id, "b", 200*time.Millisecond); !ok {
			t.Fatal("b could not take a released lease")
		}
		time.Sleep(300 * time.Millisecond)
		if ok, _ := ls.AcquireLinkLease(ctx, id, "a", time.Minute); !ok {
			t.Fatal("a could not take an expired lease")
		}

		// A new configuration starts afresh; push links take no lease.
		l, err = ls.PutLink(ctx, Link{InstitutionID: id, Mode: LinkPush, Secret: "s3cret", StaleAfter: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		if l.Outside != nil || l.LeaseOwner != "" || l.Secret != "s3cret" {
			t.Fatalf("replaced link: %+v", l)
		}
		if ok, _ := ls.AcquireLinkLease(ctx, id, "a", time.Minute); ok {
			t.Fatal("a took the lease of a push link")
		}
		list, err := ls.Links(ctx)
		if err != nil || len(list) != 1 || list[0].Mode != LinkPush {
			t.Fatalf("links: %+v %v", list, err)
		}
		if err := ls.DeleteLink(ctx, id); err != nil {
			t.Fatal(err)
		}
		if err := ls.DeleteLink(ctx, id); !IsNotFound(err) {
			t.Fatalf("second delete: %v, want not found", err)
		}
	})
}

func TestPostgresLinkNeedsInstitution(t *testing.T) {
	t.Parallel()
	ls := NewPostgresLinkStore(newTestPostgresStore(t).pool)
	_, err := ls.PutLink(context.Background(), Link{InstitutionID: 404, Mode: LinkPush, Secret: "x", StaleAfter: time.Minute})
	wantCode(t, err, CodeNotFound)
}
