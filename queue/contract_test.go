package queue

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"
)

// fakeClock is a settable clock for the service.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

type harness struct {
	t     *testing.T
	svc   *Service
	clock *fakeClock
	ctx   context.Context
}

// eachStore runs fn against every Store implementation: the contract suite.
func eachStore(t *testing.T, fn func(t *testing.T, h *harness)) {
	t.Helper()
	stores := map[string]func(t *testing.T) Store{
		"memory":   func(t *testing.T) Store { return NewMemoryStore() },
		"postgres": func(t *testing.T) Store { return newTestPostgresStore(t) },
	}
	for name, mk := range stores {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			clock := &fakeClock{now: time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC)}
			svc := NewService(mk(t), Config{GracePeriod: 3 * time.Minute, Now: clock.Now})
			fn(t, &harness{t: t, svc: svc, clock: clock, ctx: context.Background()})
		})
	}
}

func (h *harness) institution(f Fields) Institution {
	h.t.Helper()
	if f.Name == "" {
		f.Name = "Test Office"
	}
	if f.Kind == "" {
		f.Kind = "government"
	}
	if f.Status == "" {
		f.Status = StatusOpen
	}
	inst, err := h.svc.CreateInstitution(h.ctx, f, Meta{Actor: "token:admin"})
	if err != nil {
		h.t.Fatalf("create institution: %v", err)
	}
	return inst
}

func (h *harness) join(id int64, req JoinRequest) Ticket {
	h.t.Helper()
	res, err := h.svc.Join(h.ctx, id, req, Meta{Actor: ActorCitizen, RequestID: "req-1"})
	if err != nil {
		h.t.Fatalf("join %d: %v", id, err)
	}
	return res.Ticket
}

func (h *harness) ticket(id string) Ticket {
	h.t.Helper()
	tk, err := h.svc.Ticket(h.ctx, id)
	if err != nil {
		h.t.Fatalf("ticket %s: %v", id, err)
	}
	return tk
}

func (h *harness) advance(id int64, count int, counter string) AdvanceResult {
	h.t.Helper()
	req := AdvanceRequest{Count: count}
	if counter != "" {
		req.Counter = &counter
	}
	res, err := h.svc.Advance(h.ctx, id, req, Meta{Actor: "token:1"})
	if err != nil {
		h.t.Fatalf("advance %d: %v", id, err)
	}
	return res
}

func (h *harness) inst(id int64) Institution {
	h.t.Helper()
	inst, err := h.svc.Institution(h.ctx, id)
	if err != nil {
		h.t.Fatalf("institution %d: %v", id, err)
	}
	return inst
}

func (h *harness) events(ticketID string) []string {
	h.t.Helper()
	list, err := h.svc.Notifications(h.ctx, ticketID)
	if err != nil {
		h.t.Fatalf("notifications: %v", err)
	}
	var out []string
	for _, n := range list {
		out = append(out, n.Event)
	}
	return out
}

func wantCode(t *testing.T, err error, code Code) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want %s", code)
	}
	if got, _ := ErrorCode(err); got != code {
		t.Fatalf("got error %v (code %s), want code %s", err, got, code)
	}
}

func TestContractNumbersAndPeopleAhead(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, h *harness) {
		inst := h.institution(Fields{})
		var tickets []Ticket
		for i := range 6 {
			tk := h.join(inst.ID, JoinRequest{})
			if got, want := tk.Number, int64(i+1); got != want {
				t.Fatalf("ticket %d number = %d, want %d", i, got, want)
			}
			if got, want := tk.PeopleAhead, int64(i); got != want {
				t.Fatalf("ticket %d people_ahead = %d, want %d", i, got, want)
			}
			// Default threshold 3: the first four start notified.
			wantStatus := TicketWaiting
			if i <= DefaultThreshold {
				wantStatus = TicketNotified
			}
			if tk.Status != wantStatus {
				t.Fatalf("ticket %d status = %s, want %s", i, tk.Status, wantStatus)
			}
			tickets = append(tickets, tk)
		}
		got := h.inst(inst.ID)
		if got.LastIssued != 6 || got.WaitingCount != 6 || got.NowServing != 0 {
			t.Fatalf("institution = last %d waiting %d serving %d, want 6 6 0", got.LastIssued, got.WaitingCount, got.NowServing)
		}
		// Cancel ticket 2: those behind move up, ticket 5 becomes notified.
		if _, err := h.svc.Cancel(h.ctx, tickets[1].ID, Meta{Actor: ActorCitizen}); err != nil {
			t.Fatal(err)
		}
		t5 := h.ticket(tickets[4].ID)
		if t5.PeopleAhead != 3 || t5.Status != TicketNotified {
			t.Fatalf("ticket 5 after a cancel ahead: ahead %d status %s, want 3 notified", t5.PeopleAhead, t5.Status)
		}
		if ev := h.events(tickets[4].ID); !slices.Equal(ev, []string{NotifyNearTurn}) {
			t.Fatalf("ticket 5 notifications = %v, want [near_turn]", ev)
		}
		// Call two: tickets 1 and 3 (2 is cancelled).
		res := h.advance(inst.ID, 2, "3")
		if len(res.Called) != 2 || res.Called[0].Number != 1 || res.Called[1].Number != 3 {
			t.Fatalf("called %+v, want numbers 1 and 3", res.Called)
		}
		if c := res.Called[1].Counter; c == nil || *c != "3" {
			t.Fatalf("called counter = %v, want 3", c)
		}
		if res.Institution.NowServing != 3 || res.Institution.WaitingCount != 3 {
			t.Fatalf("after advance: now_serving %d waiting %d, want 3 and 3", res.Institution.NowServing, res.Institution.WaitingCount)
		}
		if n := len(res.Institution.RecentCalls); n != 2 || res.Institution.RecentCalls[0].Number != 3 {
			t.Fatalf("recent_calls = %+v, want [3, 1]", res.Institution.RecentCalls)
		}
		t6 := h.ticket(tickets[5].ID)
		if t6.PeopleAhead != 2 || t6.Status != TicketNotified || t6.NowServing != 3 {
			t.Fatalf("ticket 6: ahead %d status %s now_serving %d, want 2 notified 3", t6.PeopleAhead, t6.Status, t6.NowServing)
		}
		// Numbers are never reused after a cancel.
		if tk := h.join(inst.ID, JoinRequest{}); tk.Number != 7 {
			t.Fatalf("next number = %d, want 7", tk.Number)
		}
	})
}

func TestContractJoinRefusals(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, h *harness) {
		capacity := int64(2)
		inst := h.institution(Fields{Capacity: &capacity})
		phone := "09171234567"
		h.join(inst.ID, JoinRequest{Phone: &phone})
		_, err := h.svc.Join(h.ctx, inst.ID, JoinRequest{Phone: &phone}, Meta{})
		wantCode(t, err, CodeDuplicateTicket)
		h.join(inst.ID, JoinRequest{})
		_, err = h.svc.Join(h.ctx, inst.ID, JoinRequest{}, Meta{})
		wantCode(t, err, CodeQueueFull)

		closed := h.institution(Fields{Status: StatusPaused})
		_, err = h.svc.Join(h.ctx, closed.ID, JoinRequest{}, Meta{})
		wantCode(t, err, CodeInstitutionClosed)
		_, err = h.svc.Join(h.ctx, 999999, JoinRequest{}, Meta{})
		wantCode(t, err, CodeNotFound)

		bad := "12345"
		_, err = h.svc.Join(h.ctx, inst.ID, JoinRequest{Phone: &bad}, Meta{})
		wantCode(t, err, CodeInvalid)
		_, err = h.svc.Join(h.ctx, inst.ID, JoinRequest{Threshold: 11}, Meta{})
		wantCode(t, err, CodeInvalid)

		// Refusals change nothing.
		if got := h.inst(inst.ID); got.LastIssued != 2 {
			t.Fatalf("last_issued = %d after refusals, want 2", got.LastIssued)
		}
		// A served ticket frees its phone.
		other := h.institution(Fields{})
		first := h.join(other.ID, JoinRequest{Phone: &phone})
		if _, err := h.svc.Cancel(h.ctx, first.ID, Meta{}); err != nil {
			t.Fatal(err)
		}
		if again := h.join(other.ID, JoinRequest{Phone: &phone}); again.Number != 2 {
			t.Fatalf("rejoin after cancel got number %d, want 2", again.Number)
		}
	})
}

func TestContractIdempotentJoin(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, h *harness) {
		inst := h.institution(Fields{})
		first, err := h.svc.Join(h.ctx, inst.ID, JoinRequest{IdempotencyKey: "key-1"}, Meta{})
		if err != nil || first.Replayed {
			t.Fatalf("first join: %+v %v", first, err)
		}
		v := h.inst(inst.ID).Version
		again, err := h.svc.Join(h.ctx, inst.ID, JoinRequest{IdempotencyKey: "key-1"}, Meta{})
		if err != nil {
			t.Fatal(err)
		}
		if !again.Replayed || again.Ticket.ID != first.Ticket.ID || again.Ticket.Number != 1 {
			t.Fatalf("replay = %+v, want ticket %s replayed", again, first.Ticket.ID)
		}
		if got := h.inst(inst.ID); got.Version != v || got.LastIssued != 1 {
			t.Fatalf("replay changed the institution: version %d->%d, last_issued %d", v, got.Version, got.LastIssued)
		}
		// The same key elsewhere is another ticket; after 24 h it is forgotten.
		other := h.institution(Fields{})
		if r, _ := h.svc.Join(h.ctx, other.ID, JoinRequest{IdempotencyKey: "key-1"}, Meta{}); r.Replayed {
			t.Fatal("a key is per institution, but another institution replayed it")
		}
		h.clock.Advance(IdempotencyWindow + time.Minute)
		late, err := h.svc.Join(h.ctx, inst.ID, JoinRequest{IdempotencyKey: "key-1"}, Meta{})
		if err != nil || late.Replayed || late.Ticket.Number != 2 {
			t.Fatalf("join after 24 h = %+v %v, want a new ticket 2", late, err)
		}
		// A batch with the same key twice issues one ticket.
		res := h.svc.JoinBatch(h.ctx, inst.ID, []JoinRequest{{IdempotencyKey: "k2", Threshold: 3}, {IdempotencyKey: "k2", Threshold: 3}}, []Meta{{}, {}})
		if res[0].Err != nil || res[1].Err != nil || res[0].Ticket.ID != res[1].Ticket.ID || !res[1].Replayed {
			t.Fatalf("batch with a repeated key = %+v", res)
		}
	})
}

// One batch of joins, as the batcher makes of concurrent ones, gives each
// request the outcome it would get alone in that order: the idempotency
// replay first (from the table or from earlier in the batch), then the
// checks of admit (closed, phone held in the table or earlier in the batch,
// capacity).
func TestContractJoinBatchMixedOutcomes(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, h *harness) {
		capacity := int64(6)
		inst := h.institution(Fields{Capacity: &capacity})
		held, fresh, late := "09170000001", "09170000002", "09170000003"
		h.join(inst.ID, JoinRequest{Phone: &held})                 // 1
		old := h.join(inst.ID, JoinRequest{IdempotencyKey: "old"}) // 2

		type want struct {
			code     Code  // "" for a ticket
			number   int64 // the ticket's, issued or replayed
			replayed bool
		}
		cases := []struct {
			req  JoinRequest
			want want
		}{
			{JoinRequest{Phone: &held}, want{code: CodeDuplicateTicket}},
			{JoinRequest{Phone: &fresh}, want{number: 3}},
			{JoinRequest{Phone: &fresh}, want{code: CodeDuplicateTicket}},
			{JoinRequest{IdempotencyKey: "old"}, want{number: 2, replayed: true}},
			{JoinRequest{IdempotencyKey: "new"}, want{number: 4}},
			{JoinRequest{IdempotencyKey: "new"}, want{number: 4, replayed: true}},
			{JoinRequest{}, want{number: 5}},
			// The replay comes before the phone check.
			{JoinRequest{IdempotencyKey: "old", Phone: &held}, want{number: 2, replayed: true}},
			// A refused key's repeat is refused the same way, not replayed.
			{JoinRequest{IdempotencyKey: "refused", Phone: &held}, want{code: CodeDuplicateTicket}},
			{JoinRequest{IdempotencyKey: "refused"}, want{code: CodeDuplicateTicket}},
			{JoinRequest{}, want{number: 6}},
			{JoinRequest{Phone: &late}, want{code: CodeQueueFull}},
			// A full queue still replays.
			{JoinRequest{IdempotencyKey: "new"}, want{number: 4, replayed: true}},
		}
		reqs, metas := make([]JoinRequest, len(cases)), make([]Meta, len(cases))
		for i, c := range cases {
			reqs[i], metas[i] = c.req, Meta{Actor: ActorCitizen}
			if err := reqs[i].Validate(); err != nil {
				t.Fatal(err)
			}
		}
		res := h.svc.JoinBatch(h.ctx, inst.ID, reqs, metas)
		ids := map[int64]string{2: old.ID}
		for i, c := range cases {
			r := res[i]
			if c.want.code != "" {
				if got, _ := ErrorCode(r.Err); r.Err == nil || got != c.want.code || r.Replayed {
					t.Errorf("request %d: %+v, err %v, want %s", i, r.JoinResult, r.Err, c.want.code)
				}
				continue
			}
			if r.Err != nil || r.Ticket.Number != c.want.number || r.Replayed != c.want.replayed {
				t.Errorf("request %d: number %d replayed %t err %v, want number %d replayed %t",
					i, r.Ticket.Number, r.Replayed, r.Err, c.want.number, c.want.replayed)
				continue
			}
			if id, ok := ids[r.Ticket.Number]; ok && id != r.Ticket.ID {
				t.Errorf("request %d: ticket %s, want %s, the ticket number %d was issued as", i, r.Ticket.ID, id, r.Ticket.Number)
			}
			ids[r.Ticket.Number] = r.Ticket.ID
		}
		if got := h.inst(inst.ID); got.LastIssued != 6 || got.WaitingCount != 6 {
			t.Fatalf("after the batch last_issued = %d, waiting = %d, want 6 and 6", got.LastIssued, got.WaitingCount)
		}

		// What the batch issued is in the table; what it refused is not.
		if _, err := h.svc.Cancel(h.ctx, ids[5], Meta{}); err != nil {
			t.Fatal(err)
		}
		_, err := h.svc.Join(h.ctx, inst.ID, JoinRequest{Phone: &fresh}, Meta{})
		wantCode(t, err, CodeDuplicateTicket)
		again, err := h.svc.Join(h.ctx, inst.ID, JoinRequest{IdempotencyKey: "new"}, Meta{})
		if err != nil || !again.Replayed || again.Ticket.ID != ids[4] {
			t.Fatalf("join with the batch's key = %+v %v, want ticket 4 replayed", again, err)
		}
		refused, err := h.svc.Join(h.ctx, inst.ID, JoinRequest{IdempotencyKey: "refused", Phone: &late}, Meta{})
		if err != nil || refused.Replayed || refused.Ticket.Number != 7 {
			t.Fatalf("join with a key the batch refused = %+v %v, want a new ticket 7", refused, err)
		}

		// A closed institution refuses every join but a replay, phone held or not.
		paused := StatusPaused
		if _, err := h.svc.UpdateInstitution(h.ctx, inst.ID, Patch{Status: &paused}, Meta{}); err != nil {
			t.Fatal(err)
		}
		reqs = []JoinRequest{
			{IdempotencyKey: "old", Threshold: DefaultThreshold},
			{Phone: &held, Threshold: DefaultThreshold},
			{Phone: ptr("09170000004"), IdempotencyKey: "closed", Threshold: DefaultThreshold},
			{IdempotencyKey: "closed", Threshold: DefaultThreshold},
		}
		res = h.svc.JoinBatch(h.ctx, inst.ID, reqs, make([]Meta, len(reqs)))
		if r := res[0]; r.Err != nil || !r.Replayed || r.Ticket.ID != old.ID {
			t.Errorf("replay at a paused institution = %+v %v, want ticket 2 replayed", r.JoinResult, r.Err)
		}
		for i, r := range res[1:] {
			if got, _ := ErrorCode(r.Err); r.Err == nil || got != CodeInstitutionClosed || r.Replayed {
				t.Errorf("request %d at a paused institution: %+v %v, want %s", i+1, r.JoinResult, r.Err, CodeInstitutionClosed)
			}
		}
		if got := h.inst(inst.ID); got.LastIssued != 7 {
			t.Fatalf("last_issued = %d after a batch of refusals and a replay, want 7", got.LastIssued)
		}
	})
}

func TestContractTicketLife(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, h *harness) {
		inst := h.institution(Fields{})
		a := h.join(inst.ID, JoinRequest{})
		b := h.join(inst.ID, JoinRequest{})
		_, err := h.svc.CheckIn(h.ctx, a.ID, Meta{})
		wantCode(t, err, CodeInvalidState)
		_, err = h.svc.Recall(h.ctx, a.ID, nil, Meta{})
		wantCode(t, err, CodeInvalidState)

		h.advance(inst.ID, 1, "1")
		h.clock.Advance(10 * time.Second)
		in, err := h.svc.CheckIn(h.ctx, a.ID, Meta{})
		if err != nil || in.CheckedInAt == nil || in.Status != TicketServing {
			t.Fatalf("check-in = %+v %v", in, err)
		}
		v := h.inst(inst.ID).Version
		h.clock.Advance(time.Second)
		again, err := h.svc.CheckIn(h.ctx, a.ID, Meta{})
		if err != nil || !again.CheckedInAt.Equal(*in.CheckedInAt) || !again.UpdatedAt.Equal(in.UpdatedAt) {
			t.Fatalf("repeated check-in changed the ticket: %+v vs %+v (%v)", again, in, err)
		}
		if got := h.inst(inst.ID).Version; got != v {
			t.Fatalf("repeated check-in moved version %d -> %d", v, got)
		}
		res := h.advance(inst.ID, 1, "1")
		if len(res.Served) != 1 || res.Served[0].ID != a.ID || len(res.Called) != 1 || res.Called[0].ID != b.ID {
			t.Fatalf("advance: served %+v called %+v", res.Served, res.Called)
		}
		if got := h.ticket(a.ID); got.Status != TicketServed || got.CompletedAt == nil {
			t.Fatalf("a = %s completed %v, want served", got.Status, got.CompletedAt)
		}
		if ev := h.events(a.ID); !slices.Equal(ev, []string{NotifyNearTurn, NotifyTurnCalled, NotifyCompleted}) {
			t.Fatalf("a notifications = %v", ev)
		}
		_, err = h.svc.Cancel(h.ctx, a.ID, Meta{})
		wantCode(t, err, CodeInvalidState)

		// Recall restarts the grace period; without check-in b then expires.
		h.clock.Advance(2 * time.Minute)
		if _, err := h.svc.Recall(h.ctx, b.ID, nil, Meta{}); err != nil {
			t.Fatal(err)
		}
		h.clock.Advance(2 * time.Minute)
		if n, err := h.svc.ExpireDue(h.ctx); err != nil || n != 0 {
			t.Fatalf("expire before the recalled deadline = %d %v, want 0", n, err)
		}
		h.clock.Advance(61 * time.Second)
		if n, err := h.svc.ExpireDue(h.ctx); err != nil || n != 1 {
			t.Fatalf("expire after the deadline = %d %v, want 1", n, err)
		}
		if n, _ := h.svc.ExpireDue(h.ctx); n != 0 {
			t.Fatalf("a second sweep expired %d more", n)
		}
		if ev := h.events(b.ID); !slices.Equal(ev, []string{NotifyNearTurn, NotifyTurnCalled, NotifyTurnCalled, NotifyExpired}) {
			t.Fatalf("b notifications = %v", ev)
		}
		_, err = h.svc.CheckIn(h.ctx, b.ID, Meta{})
		wantCode(t, err, CodeInvalidState)

		// Cancel is idempotent on a cancelled ticket.
		c := h.join(inst.ID, JoinRequest{})
		x, err := h.svc.Cancel(h.ctx, c.ID, Meta{})
		if err != nil {
			t.Fatal(err)
		}
		v = h.inst(inst.ID).Version
		y, err := h.svc.Cancel(h.ctx, c.ID, Meta{})
		if err != nil || !y.UpdatedAt.Equal(x.UpdatedAt) || h.inst(inst.ID).Version != v {
			t.Fatalf("repeated cancel changed something: %+v %v", y, err)
		}
		if ev := h.events(c.ID); len(ev) != 2 || ev[1] != NotifyCancelled {
			t.Fatalf("c notifications = %v, want near_turn, cancelled", ev)
		}
		_, err = h.svc.Ticket(h.ctx, "00000000-0000-4000-8000-000000000000")
		wantCode(t, err, CodeNotFound)
	})
}

func TestContractAdvanceExpiresAndNoOp(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, h *harness) {
		inst := h.institution(Fields{})
		res := h.advance(inst.ID, 1, "")
		if len(res.Called)+len(res.Served)+len(res.Expired) != 0 || res.Institution.Version != inst.Version {
			t.Fatalf("advance with nothing to do changed something: %+v", res)
		}
		a := h.join(inst.ID, JoinRequest{})
		h.join(inst.ID, JoinRequest{})
		h.advance(inst.ID, 1, "")
		h.clock.Advance(4 * time.Minute)
		res = h.advance(inst.ID, 1, "")
		if len(res.Expired) != 1 || res.Expired[0].ID != a.ID || len(res.Called) != 1 {
			t.Fatalf("advance past the grace period: %+v", res)
		}
		if res.Institution.EstimatedWaitSeconds == nil {
			t.Fatal("estimate still unknown after two calls")
		}
		if n, _ := h.svc.ExpireDue(h.ctx); n != 0 {
			t.Fatalf("the sweeper expired %d tickets advance had already expired", n)
		}
	})
}

func TestContractVersionAndAudit(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, h *harness) {
		inst := h.institution(Fields{})
		last := inst.Version
		step := func(what string) {
			t.Helper()
			v := h.inst(inst.ID).Version
			if v <= last {
				t.Fatalf("%s: version %d, want above %d", what, v, last)
			}
			last = v
		}
		tk := h.join(inst.ID, JoinRequest{})
		step("join")
		h.advance(inst.ID, 1, "2")
		step("advance")
		if _, err := h.svc.CheckIn(h.ctx, tk.ID, Meta{}); err != nil {
			t.Fatal(err)
		}
		step("check-in")
		paused := StatusPaused
		if _, err := h.svc.UpdateInstitution(h.ctx, inst.ID, Patch{Status: &paused}, Meta{Actor: "token:3"}); err != nil {
			t.Fatal(err)
		}
		step("pause")
		same, err := h.svc.UpdateInstitution(h.ctx, inst.ID, Patch{Status: &paused}, Meta{})
		if err != nil || same.Version != last {
			t.Fatalf("a patch that changes nothing moved version to %d (%v)", same.Version, err)
		}
		if _, err := h.svc.Announce(h.ctx, inst.ID, "Counter 2 closes at noon", Meta{Actor: "token:3"}); err != nil {
			t.Fatal(err)
		}
		_, err = h.svc.Announce(h.ctx, inst.ID, "  ", Meta{})
		wantCode(t, err, CodeInvalid)
		evs, next, err := h.svc.Events(h.ctx, inst.ID, 0, 100)
		if err != nil || next != nil {
			t.Fatalf("events: %v next %v", err, next)
		}
		var kinds []string
		for _, e := range evs {
			kinds = append(kinds, e.Kind)
		}
		want := []string{AuditCreated, AuditJoined, AuditNotified, AuditCalled, AuditCheckedIn, AuditUpdated, AuditAnnouncement}
		if !slices.Equal(kinds, want) {
			t.Fatalf("audit kinds = %v, want %v", kinds, want)
		}
		if evs[1].Actor != ActorCitizen || evs[1].RequestID != "req-1" || evs[1].Number == nil || *evs[1].Number != 1 {
			t.Fatalf("join audit event = %+v", evs[1])
		}
		if evs[5].Actor != "token:3" {
			t.Fatalf("patch actor = %q", evs[5].Actor)
		}
		page, next, err := h.svc.Events(h.ctx, inst.ID, evs[1].ID, 2)
		if err != nil || len(page) != 2 || page[0].ID != evs[2].ID || next == nil || *next != evs[3].ID {
			t.Fatalf("events page after %d: %+v next %v err %v", evs[1].ID, page, next, err)
		}
	})
}

func TestContractStaffTickets(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, h *harness) {
		inst := h.institution(Fields{})
		phone := "09170000001"
		first := h.join(inst.ID, JoinRequest{Phone: &phone})
		for range 4 {
			h.join(inst.ID, JoinRequest{})
		}
		h.advance(inst.ID, 1, "")
		page, next, err := h.svc.StaffTickets(h.ctx, inst.ID, []TicketStatus{TicketWaiting, TicketNotified}, 0, 2)
		if err != nil || len(page) != 2 || next == nil || *next != 3 {
			t.Fatalf("page 1 = %+v next %v err %v", page, next, err)
		}
		if page[0].Number != 2 || page[0].PeopleAhead != 0 || page[1].PeopleAhead != 1 {
			t.Fatalf("page 1 ranks: %+v", page)
		}
		page, next, err = h.svc.StaffTickets(h.ctx, inst.ID, []TicketStatus{TicketWaiting, TicketNotified}, 3, 2)
		if err != nil || len(page) != 2 || next != nil || page[0].Number != 4 || page[0].PeopleAhead != 2 {
			t.Fatalf("page 2 = %+v next %v err %v", page, next, err)
		}
		serving, _, err := h.svc.StaffTickets(h.ctx, inst.ID, []TicketStatus{TicketServing}, 0, 10)
		if err != nil || len(serving) != 1 || serving[0].ID != first.ID || serving[0].Phone == nil || *serving[0].Phone != phone {
			t.Fatalf("serving list = %+v %v", serving, err)
		}
	})
}

func TestContractInstitutionFields(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, h *harness) {
		_, err := h.svc.CreateInstitution(h.ctx, Fields{Name: "X", Kind: "castle"}, Meta{})
		wantCode(t, err, CodeInvalid)
		inst, err := h.svc.CreateInstitution(h.ctx, Fields{Name: " Bank ", Kind: "bank"}, Meta{})
		if err != nil || inst.Status != StatusClosed || inst.Name != "Bank" || inst.ID < 1 || inst.Capacity != nil {
			t.Fatalf("create = %+v %v", inst, err)
		}
		capacity := int64(10)
		name := "Bank of the Hall"
		got, err := h.svc.UpdateInstitution(h.ctx, inst.ID, Patch{Name: &name, SetCapacity: true, Capacity: &capacity}, Meta{})
		if err != nil || got.Name != name || got.Capacity == nil || *got.Capacity != 10 {
			t.Fatalf("patch = %+v %v", got, err)
		}
		got, err = h.svc.UpdateInstitution(h.ctx, inst.ID, Patch{SetCapacity: true}, Meta{})
		if err != nil || got.Capacity != nil {
			t.Fatalf("patch capacity null = %+v %v", got, err)
		}
		zero := int64(0)
		_, err = h.svc.UpdateInstitution(h.ctx, inst.ID, Patch{SetCapacity: true, Capacity: &zero}, Meta{})
		wantCode(t, err, CodeInvalid)
		_, err = h.svc.UpdateInstitution(h.ctx, 424242, Patch{Name: &name}, Meta{})
		wantCode(t, err, CodeNotFound)
		list, err := h.svc.Institutions(h.ctx)
		if err != nil || len(list) != 1 || list[0].Name != name {
			t.Fatalf("list = %+v %v", list, err)
		}
	})
}

func TestContractEventsEmitted(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, h *harness) {
		var mu sync.Mutex
		var got []Event
		h.svc.OnEvent(func(ev Event) { mu.Lock(); got = append(got, ev); mu.Unlock() })
		inst := h.institution(Fields{})
		tk := h.join(inst.ID, JoinRequest{})
		h.advance(inst.ID, 1, "")
		h.advance(inst.ID, 1, "") // nothing to do: no event
		if _, err := h.svc.Announce(h.ctx, inst.ID, "hello", Meta{}); err != nil {
			t.Fatal(err)
		}
		_, err := h.svc.Join(h.ctx, inst.ID, JoinRequest{Threshold: 99}, Meta{})
		if !errors.Is(err, ErrInvalid) {
			t.Fatalf("bad join: %v", err)
		}
		mu.Lock()
		defer mu.Unlock()
		if len(got) != 3 {
			t.Fatalf("got %d events, want 3 (join, advance, announcement)", len(got))
		}
		if tr := got[0].Transitions; len(tr) != 1 || tr[0].From != "" || tr[0].Ticket.ID != tk.ID {
			t.Fatalf("join event transitions = %+v", tr)
		}
		if tr := got[1].Transitions; len(tr) != 1 || tr[0].Ticket.Status != TicketServing || got[1].Institution.Version <= got[0].Institution.Version {
			t.Fatalf("advance event = %+v", got[1])
		}
		if got[2].Announcement == nil || got[2].Announcement.Message != "hello" || got[2].Institution.Version != got[1].Institution.Version {
			t.Fatalf("announcement event = %+v", got[2])
		}
	})
}
