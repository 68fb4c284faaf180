package queue

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"
)

// TestConcurrentMixedOperations runs joins, advances, cancels and check-ins
// for one institution at once against PostgreSQL, then checks the outcome:
// no ticket called twice, now_serving never going down, one final state per
// ticket, and an audit trail that matches the tickets.
func TestConcurrentMixedOperations(t *testing.T) {
	t.Parallel()
	store := newTestPostgresStore(t)
	clock := &fakeClock{now: time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC)}
	svc := NewService(store, Config{GracePeriod: time.Minute, Now: clock.Now})
	ctx := context.Background()
	inst, err := svc.CreateInstitution(ctx, Fields{Name: "Hot Office", Kind: "government", Status: StatusOpen}, Meta{})
	if err != nil {
		t.Fatal(err)
	}

	const joiners = 300
	var (
		mu      sync.Mutex
		joined  []Ticket
		called  = map[string]int{}
		serving []string
		states  []Institution // the state every advance returned
	)
	record := func(res AdvanceResult) {
		mu.Lock()
		defer mu.Unlock()
		states = append(states, res.Institution)
		for _, tk := range res.Called {
			called[tk.ID]++
			serving = append(serving, tk.ID)
		}
	}
	pickServing := func() (string, bool) {
		mu.Lock()
		defer mu.Unlock()
		if len(serving) == 0 {
			return "", false
		}
		return serving[rand.IntN(len(serving))], true
	}

	var wg sync.WaitGroup
	errs := make(chan error, 64)
	fail := func(err error) {
		select {
		case errs <- err:
		default:
		}
	}
	for i := range joiners {
		wg.Go(func() {
			var req JoinRequest
			if i%3 == 0 {
				p := fmt.Sprintf("091700%05d", i)
				req.Phone = &p
			}
			res, err := svc.Join(ctx, inst.ID, req, Meta{Actor: ActorCitizen})
			if err != nil {
				fail(fmt.Errorf("join %d: %w", i, err))
				return
			}
			mu.Lock()
			joined = append(joined, res.Ticket)
			mu.Unlock()
		})
	}
	done := make(chan struct{})
	var workers sync.WaitGroup
	for range 4 { // advancers
		workers.Go(func() {
			for {
				select {
				case <-done:
					return
				default:
				}
				res, err := svc.Advance(ctx, inst.ID, AdvanceRequest{Count: 1 + rand.IntN(3)}, Meta{Actor: "token:1"})
				if err != nil {
					fail(fmt.Errorf("advance: %w", err))
					return
				}
				record(res)
			}
		})
	}
	for range 3 { // cancellers and check-ins
		workers.Go(func() {
			for {
				select {
				case <-done:
					return
				default:
				}
				mu.Lock()
				var id string
				if n := len(joined); n > 0 {
					id = joined[rand.IntN(n)].ID
				}
				mu.Unlock()
				if id != "" && rand.IntN(4) == 0 {
					if _, err := svc.Cancel(ctx, id, Meta{Actor: ActorCitizen}); err != nil && !isCode(err, CodeInvalidState) {
						fail(fmt.Errorf("cancel: %w", err))
						return
					}
				}
				if sid, ok := pickServing(); ok {
					if _, err := svc.CheckIn(ctx, sid, Meta{Actor: ActorCitizen}); err != nil && !isCode(err, CodeInvalidState) {
						fail(fmt.Errorf("check-in: %w", err))
						return
					}
				}
			}
		})
	}
	wg.Wait()
	close(done)
	workers.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}

	// Drain: call everyone left, then let every serving ticket expire.
	for {
		res, err := svc.Advance(ctx, inst.ID, AdvanceRequest{Count: 50}, Meta{Actor: "token:1"})
		if err != nil {
			t.Fatal(err)
		}
		record(res)
		if len(res.Called) == 0 {
			break
		}
	}
	clock.Advance(2 * time.Minute)
	if _, err := svc.ExpireDue(ctx); err != nil {
		t.Fatal(err)
	}
	res, err := svc.Advance(ctx, inst.ID, AdvanceRequest{}, Meta{Actor: "token:1"}) // serves the checked-in
	if err != nil {
		t.Fatal(err)
	}
	record(res)

	for id, n := range called {
		if n != 1 {
			t.Errorf("ticket %s was called %d times", id, n)
		}
	}
	sort.Slice(states, func(i, j int) bool { return states[i].Version < states[j].Version })
	for i := 1; i < len(states); i++ {
		if states[i].NowServing < states[i-1].NowServing {
			t.Fatalf("now_serving went down from %d (v%d) to %d (v%d)", states[i-1].NowServing, states[i-1].Version, states[i].NowServing, states[i].Version)
		}
	}
	final, err := svc.Institution(ctx, inst.ID)
	if err != nil {
		t.Fatal(err)
	}
	if final.LastIssued != joiners || final.WaitingCount != 0 {
		t.Fatalf("final institution: last_issued %d waiting %d, want %d and 0", final.LastIssued, final.WaitingCount, joiners)
	}
	all, err := store.Tickets(ctx, inst.ID, []TicketStatus{TicketWaiting, TicketNotified, TicketServing, TicketServed, TicketExpired, TicketCancelled}, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != joiners {
		t.Fatalf("%d tickets stored, want %d", len(all), joiners)
	}
	audit := map[string][]string{}
	var after int64
	for {
		page, err := store.Events(ctx, inst.ID, after, 500)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		for _, e := range page {
			if e.TicketID != nil {
				audit[*e.TicketID] = append(audit[*e.TicketID], e.Kind)
			}
		}
		after = page[len(page)-1].ID
	}
	finalKind := map[TicketStatus]string{TicketServed: AuditServed, TicketExpired: AuditExpired, TicketCancelled: AuditCancelled}
	for i, tk := range all {
		if tk.Number != int64(i+1) {
			t.Fatalf("ticket %d has number %d: numbers are not 1..n", i, tk.Number)
		}
		if !tk.Status.Final() {
			t.Errorf("ticket %d ended %s, not in a final state", tk.Number, tk.Status)
			continue
		}
		kinds := audit[tk.ID]
		if len(kinds) == 0 || kinds[0] != AuditJoined {
			t.Errorf("ticket %d audit %v does not start with a join", tk.Number, kinds)
			continue
		}
		finals := 0
		for _, k := range kinds {
			if k == AuditServed || k == AuditExpired || k == AuditCancelled {
				finals++
			}
		}
		if finals != 1 || kinds[len(kinds)-1] != finalKind[tk.Status] {
			t.Errorf("ticket %d (%s) audit %v: want exactly one final event, last", tk.Number, tk.Status, kinds)
		}
		if n := countOf(kinds, AuditCalled); n != called[tk.ID] || n > 1 {
			t.Errorf("ticket %d: %d called events, %d calls seen", tk.Number, n, called[tk.ID])
		}
		// Served needs a check-in; a checked-in ticket may still be cancelled.
		if tk.Status == TicketServed && !slices.Contains(kinds, AuditCheckedIn) || tk.Status == TicketExpired && slices.Contains(kinds, AuditCheckedIn) {
			t.Errorf("ticket %d is %s, audit %v", tk.Number, tk.Status, kinds)
		}
	}
}

func countOf(list []string, s string) int {
	n := 0
	for _, x := range list {
		if x == s {
			n++
		}
	}
	return n
}

func isCode(err error, code Code) bool {
	c, _ := ErrorCode(err)
	return c == code
}

// TestTwoSweepers runs two sweepers, as two instances would, over the same
// database: every due ticket expires exactly once.
func TestTwoSweepers(t *testing.T) {
	t.Parallel()
	storeA := newTestPostgresStore(t)
	clock := &fakeClock{now: time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC)}
	a := NewService(storeA, Config{GracePeriod: time.Minute, Now: clock.Now})
	// The second instance has its own pool on the same schema.
	storeB := newTestPostgresStoreOn(t, storeA)
	b := NewService(storeB, Config{GracePeriod: time.Minute, Now: clock.Now})
	ctx := context.Background()

	const institutions, perInst = 5, 30
	for range institutions {
		inst, err := a.CreateInstitution(ctx, Fields{Name: "Office", Kind: "bank", Status: StatusOpen}, Meta{})
		if err != nil {
			t.Fatal(err)
		}
		for range perInst {
			if _, err := a.Join(ctx, inst.ID, JoinRequest{}, Meta{}); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := a.Advance(ctx, inst.ID, AdvanceRequest{Count: perInst}, Meta{}); err != nil {
			t.Fatal(err)
		}
	}
	clock.Advance(2 * time.Minute)
	var wg sync.WaitGroup
	counts := make([]int, 4)
	for i := range counts {
		svc := a
		if i%2 == 1 {
			svc = b
		}
		wg.Go(func() {
			for range 3 {
				n, err := svc.ExpireDue(ctx)
				if err != nil {
					t.Error(err)
					return
				}
				counts[i] += n
			}
		})
	}
	wg.Wait()
	total := 0
	for _, n := range counts {
		total += n
	}
	if want := institutions * perInst; total != want {
		t.Fatalf("the sweepers expired %d tickets in all (%v), want exactly %d", total, counts, want)
	}
	insts, err := a.Institutions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, inst := range insts {
		list, err := storeA.Tickets(ctx, inst.ID, []TicketStatus{TicketExpired}, 0, 100)
		if err != nil {
			t.Fatal(err)
		}
		for _, tk := range list {
			notes, err := storeA.Notifications(ctx, tk.ID)
			if err != nil {
				t.Fatal(err)
			}
			var ev []string
			for _, n := range notes {
				ev = append(ev, n.Event)
			}
			if countOf(ev, NotifyExpired) != 1 {
				t.Fatalf("ticket %d notifications %v: want one expired", tk.Number, ev)
			}
		}
		if len(list) != perInst {
			t.Fatalf("institution %d has %d expired tickets, want %d", inst.ID, len(list), perInst)
		}
	}
}
