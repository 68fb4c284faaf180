package queue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
)

// Meta says who makes a change and in which request.
type Meta struct {
	Actor     string // citizen, system, system:sync, token:<id>
	RequestID string
}

// Actors that are not tokens.
const (
	ActorCitizen = "citizen"
	ActorSystem  = "system"
)

// Transition is one ticket's change of status in an event; From is empty
// for a ticket that has just joined.
type Transition struct {
	Ticket Ticket
	From   TicketStatus
}

// Announcement is a message from staff to everyone following an institution.
type Announcement struct {
	Message   string    `json:"message"`
	CreatedAt time.Time `json:"created_at"`
}

// Event is what one committed change yields: the institution's new state
// (with its version), the ticket transitions it caused, the notifications it
// recorded and, for announcements, the message. Tickets in an Event are not
// decorated: PeopleAhead and estimates are the consumer's to compute.
type Event struct {
	Institution   Institution    `json:"institution"`
	Transitions   []Transition   `json:"transitions,omitempty"`
	Updated       []Ticket       `json:"updated,omitempty"` // changed without a status change (check-in, recall)
	Notifications []Notification `json:"notifications,omitempty"`
	Announcement  *Announcement  `json:"announcement,omitempty"`
}

// Config tunes a Service.
type Config struct {
	// GracePeriod is how long a called ticket has to check in.
	GracePeriod time.Duration
	// Now is the clock; time.Now when nil.
	Now    func() time.Time
	Logger *slog.Logger
	// MaxJoinBatch is the most joins of one institution coalesced into one
	// transaction; 1 turns coalescing off. Default 256.
	MaxJoinBatch int
	// BatchTimeout bounds one coalesced join transaction. Default 10s.
	BatchTimeout time.Duration
}

// Service carries out the queue's operations against a Store.
type Service struct {
	store     Store
	grace     time.Duration
	now       func() time.Time
	log       *slog.Logger
	mu        sync.RWMutex
	observers []func(Event)
	batcher   *joinBatcher
}

// NewService returns a Service over store.
func NewService(store Store, cfg Config) *Service {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.GracePeriod <= 0 {
		cfg.GracePeriod = 180 * time.Second
	}
	if cfg.MaxJoinBatch == 0 {
		cfg.MaxJoinBatch = 256
	}
	if cfg.BatchTimeout <= 0 {
		cfg.BatchTimeout = 10 * time.Second
	}
	s := &Service{store: store, grace: cfg.GracePeriod, now: cfg.Now, log: cfg.Logger}
	if cfg.MaxJoinBatch > 1 {
		s.batcher = newJoinBatcher(s, cfg.MaxJoinBatch, cfg.BatchTimeout)
	}
	return s
}

// Store returns the service's store.
func (s *Service) Store() Store { return s.store }

// OnEvent registers fn to be called, in commit order per institution, with
// every event after its transaction commits. fn must not block.
func (s *Service) OnEvent(fn func(Event)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.observers = append(s.observers, fn)
}

func (s *Service) emit(ev Event) {
	s.mu.RLock()
	obs := s.observers
	s.mu.RUnlock()
	for _, fn := range obs {
		fn(ev)
	}
}

func (s *Service) clock() time.Time { return s.now().UTC().Truncate(time.Microsecond) }

// update runs fn under the institution's lock and, when it committed a
// change, emits the event built from the applied changes.
func (s *Service) update(ctx context.Context, id int64, ann *Announcement, fn func(ctx context.Context, tx Tx) (Changes, []Transition, error)) (Changes, error) {
	var trans []Transition
	ch, err := s.store.Update(ctx, id, func(ctx context.Context, tx Tx) (Changes, error) {
		c, t, err := fn(ctx, tx)
		trans = t
		return c, err
	})
	if err != nil {
		return ch, err
	}
	if ch.Institution == nil && ann == nil {
		return ch, nil
	}
	ev := Event{Transitions: trans, Notifications: ch.Notifications, Announcement: ann}
	if ch.Institution != nil {
		ev.Institution = *ch.Institution
	} else {
		inst, err := s.store.Institution(ctx, id)
		if err != nil {
			return ch, err
		}
		ev.Institution = inst
	}
	ev.Institution.estimate()
	moved := map[string]bool{}
	for _, t := range trans {
		moved[t.Ticket.ID] = true
	}
	for _, t := range ch.Updated {
		if !moved[t.ID] {
			ev.Updated = append(ev.Updated, t)
		}
	}
	s.emit(ev)
	return ch, nil
}

// Institutions lists every institution.
func (s *Service) Institutions(ctx context.Context) ([]Institution, error) {
	list, err := s.store.Institutions(ctx)
	if err != nil {
		return nil, err
	}
	for i := range list {
		list[i].estimate()
	}
	return list, nil
}

// Institution returns one institution.
func (s *Service) Institution(ctx context.Context, id int64) (Institution, error) {
	inst, err := s.store.Institution(ctx, id)
	if err != nil {
		return inst, err
	}
	inst.estimate()
	return inst, nil
}

// CreateInstitution creates an institution.
func (s *Service) CreateInstitution(ctx context.Context, f Fields, meta Meta) (Institution, error) {
	if err := f.Validate(); err != nil {
		return Institution{}, err
	}
	now := s.clock()
	inst := Institution{Name: f.Name, Kind: f.Kind, Address: f.Address, Status: f.Status,
		Capacity: f.Capacity, Version: 1, UpdatedAt: now, CreatedAt: now, RecentCalls: []Call{}}
	data, _ := json.Marshal(map[string]any{"name": f.Name, "kind": f.Kind, "address": f.Address, "status": f.Status, "capacity": f.Capacity})
	inst, err := s.store.CreateInstitution(ctx, inst, s.audit(now, AuditCreated, nil, meta, data))
	if err != nil {
		return inst, err
	}
	inst.estimate()
	return inst, nil
}

// UpdateInstitution applies a patch. A patch that changes nothing leaves the
// institution and its version as they were.
func (s *Service) UpdateInstitution(ctx context.Context, id int64, p Patch, meta Meta) (Institution, error) {
	if err := p.Validate(); err != nil {
		return Institution{}, err
	}
	var out Institution
	_, err := s.update(ctx, id, nil, func(ctx context.Context, tx Tx) (Changes, []Transition, error) {
		inst := tx.Institution()
		changed := p.apply(&inst)
		out = inst
		if len(changed) == 0 {
			return Changes{}, nil, nil
		}
		now := s.clock()
		s.bump(&inst, now)
		out = inst
		data, _ := json.Marshal(changed)
		return Changes{Institution: &inst, Audit: []AuditEvent{s.audit(now, AuditUpdated, nil, meta, data)}}, nil, nil
	})
	out.estimate()
	return out, err
}

func (s *Service) bump(inst *Institution, now time.Time) {
	inst.Version++
	inst.UpdatedAt = now
}

func (s *Service) audit(now time.Time, kind string, t *Ticket, meta Meta, data json.RawMessage) AuditEvent {
	ev := AuditEvent{At: now, Kind: kind, Actor: meta.Actor, RequestID: meta.RequestID, Data: data}
	if ev.Actor == "" {
		ev.Actor = ActorSystem
	}
	if t != nil {
		id, n := t.ID, t.Number
		ev.TicketID, ev.Number, ev.InstitutionID = &id, &n, t.InstitutionID
	}
	if ev.Data == nil {
		ev.Data = json.RawMessage("{}")
	}
	return ev
}

func notification(now time.Time, t *Ticket, event string) Notification {
	var msg string
	switch event {
	case NotifyNearTurn:
		msg = fmt.Sprintf("Ticket %d: your turn is near. Please make your way to the office.", t.Number)
	case NotifyTurnCalled:
		if t.Counter != nil {
			msg = fmt.Sprintf("Ticket %d: it's your turn. Please go to counter %s.", t.Number, *t.Counter)
		} else {
			msg = fmt.Sprintf("Ticket %d: it's your turn. Please go to the counter.", t.Number)
		}
	case NotifyCompleted:
		msg = fmt.Sprintf("Ticket %d: you have been served. Thank you.", t.Number)
	case NotifyExpired:
		msg = fmt.Sprintf("Ticket %d expired: you did not check in after being called.", t.Number)
	case NotifyCancelled:
		msg = fmt.Sprintf("Ticket %d was cancelled.", t.Number)
	}
	return Notification{TicketID: t.ID, Event: event, Message: msg, CreatedAt: now}
}

// changeSet accumulates one transaction's writes.
type changeSet struct {
	s     *Service
	now   time.Time
	meta  Meta
	ch    Changes
	trans []Transition
}

func (c *changeSet) move(t *Ticket, to TicketStatus, auditKind, notify string, data json.RawMessage) {
	from := t.Status
	t.Status = to
	t.UpdatedAt = c.now
	c.ch.Updated = append(c.ch.Updated, *t)
	c.trans = append(c.trans, Transition{Ticket: *t, From: from})
	c.ch.Audit = append(c.ch.Audit, c.s.audit(c.now, auditKind, t, c.meta, data))
	if notify != "" {
		c.ch.Notifications = append(c.ch.Notifications, notification(c.now, t, notify))
	}
}

// promote marks notified every waiting ticket within its threshold, given
// the waiting tickets in number order from the front of the queue.
func (c *changeSet) promote(front []Ticket) {
	for i := range front {
		t := &front[i]
		if t.Status == TicketWaiting && int64(i) <= int64(t.NearTurnThreshold) {
			c.move(t, TicketNotified, AuditNotified, NotifyNearTurn, nil)
		}
	}
}

// JoinRequest asks for a ticket.
type JoinRequest struct {
	Phone          *string
	Threshold      int // 0: the default
	IdempotencyKey string
}

// JoinResult is a join's outcome; Replayed is true when an earlier join with
// the same idempotency key issued the ticket.
type JoinResult struct {
	Ticket   Ticket
	Replayed bool
}

// Validate checks a join request and applies defaults.
func (r *JoinRequest) Validate() error {
	if r.Phone != nil && !ValidPhone(*r.Phone) {
		return Errorf(CodeInvalid, "phone must be 11 digits starting with 0, like 09171234567")
	}
	if r.Threshold == 0 {
		r.Threshold = DefaultThreshold
	}
	if r.Threshold < MinThreshold || r.Threshold > MaxThreshold {
		return Errorf(CodeInvalid, "near_turn_threshold must be an integer from %d to %d", MinThreshold, MaxThreshold)
	}
	if r.IdempotencyKey != "" && !validKey(r.IdempotencyKey) {
		return Errorf(CodeInvalid, "Idempotency-Key must be 1 to 64 printable ASCII characters")
	}
	return nil
}

func validKey(k string) bool {
	if len(k) < 1 || len(k) > 64 {
		return false
	}
	for i := 0; i < len(k); i++ {
		if k[i] < 0x21 || k[i] > 0x7e {
			return false
		}
	}
	return true
}

// IdempotencyWindow is how long a join's idempotency key is remembered.
const IdempotencyWindow = 24 * time.Hour

// Join issues a ticket in institution id.
func (s *Service) Join(ctx context.Context, id int64, req JoinRequest, meta Meta) (JoinResult, error) {
	if err := req.Validate(); err != nil {
		return JoinResult{}, err
	}
	if s.batcher != nil {
		return s.batcher.join(ctx, id, req, meta)
	}
	res := s.JoinBatch(ctx, id, []JoinRequest{req}, []Meta{meta})
	return res[0].JoinResult, res[0].Err
}

// BatchResult is one request's outcome in a batch of joins.
type BatchResult struct {
	JoinResult
	Err error
}

// JoinBatch issues tickets for validated requests in one transaction: one
// lock, consecutive numbers. Each request gets its own outcome; a failure of
// the transaction fails them all.
func (s *Service) JoinBatch(ctx context.Context, id int64, reqs []JoinRequest, metas []Meta) []BatchResult {
	out := make([]BatchResult, len(reqs))
	_, err := s.update(ctx, id, nil, func(ctx context.Context, tx Tx) (Changes, []Transition, error) {
		for i := range out {
			out[i] = BatchResult{}
		}
		inst := tx.Institution()
		now := s.clock()
		c := &changeSet{s: s, now: now}
		since := now.Add(-IdempotencyWindow)
		keys := map[string]int{}    // key -> index of the request that issued it in this batch
		phones := map[string]bool{} // phones that got a ticket in this batch
		for i, req := range reqs {
			c.meta = metas[i]
			if req.IdempotencyKey != "" {
				if j, ok := keys[req.IdempotencyKey]; ok {
					out[i] = out[j]
					out[i].Replayed = out[j].Err == nil
					continue
				}
				tid, ok, err := tx.IdempotentTicket(ctx, req.IdempotencyKey, since)
				if err != nil {
					return Changes{}, nil, err
				}
				if ok {
					t, err := tx.Ticket(ctx, tid)
					if err != nil {
						return Changes{}, nil, err
					}
					out[i] = BatchResult{JoinResult: JoinResult{Ticket: t, Replayed: true}}
					continue
				}
			}
			if err := s.admit(ctx, tx, &inst, req, phones); err != nil {
				out[i].Err = err
				if req.IdempotencyKey != "" {
					keys[req.IdempotencyKey] = i
				}
				continue
			}
			inst.LastIssued++
			ahead := inst.WaitingCount
			inst.WaitingCount++
			t := Ticket{ID: uuid.NewString(), InstitutionID: id, Number: inst.LastIssued, Status: TicketWaiting,
				NearTurnThreshold: req.Threshold, Phone: req.Phone, IssuedAt: now, UpdatedAt: now}
			c.ch.Audit = append(c.ch.Audit, s.audit(now, AuditJoined, &t, c.meta, nil))
			c.trans = append(c.trans, Transition{Ticket: t})
			if ahead <= int64(t.NearTurnThreshold) {
				t.Status = TicketNotified
				c.ch.Audit = append(c.ch.Audit, s.audit(now, AuditNotified, &t, c.meta, nil))
				c.ch.Notifications = append(c.ch.Notifications, notification(now, &t, NotifyNearTurn))
				c.trans[len(c.trans)-1].Ticket = t
			}
			c.ch.Inserted = append(c.ch.Inserted, t)
			if req.Phone != nil {
				phones[*req.Phone] = true
			}
			if req.IdempotencyKey != "" {
				keys[req.IdempotencyKey] = i
				c.ch.IdempotencyKeys = append(c.ch.IdempotencyKeys, IdempotencyKey{InstitutionID: id, Key: req.IdempotencyKey, TicketID: t.ID, CreatedAt: now})
			}
			t.decorate(&inst, ahead)
			out[i] = BatchResult{JoinResult: JoinResult{Ticket: t}}
		}
		if len(c.ch.Inserted) == 0 {
			return Changes{}, nil, nil
		}
		s.bump(&inst, now)
		c.ch.Institution = &inst
		return c.ch, c.trans, nil
	})
	for i := range out {
		if err != nil {
			out[i] = BatchResult{Err: err}
			continue
		}
		if out[i].Replayed && out[i].Err == nil {
			// A replayed ticket is shown as it is now.
			t, derr := s.Ticket(ctx, out[i].Ticket.ID)
			if derr != nil {
				out[i].Err = derr
				continue
			}
			out[i].Ticket = t
		}
	}
	return out
}

// admit checks whether req may join inst now.
func (s *Service) admit(ctx context.Context, tx Tx, inst *Institution, req JoinRequest, phones map[string]bool) error {
	if inst.Status != StatusOpen {
		return Errorf(CodeInstitutionClosed, "%s is %s and not taking tickets", inst.Name, inst.Status)
	}
	if req.Phone != nil {
		if phones[*req.Phone] {
			return Errorf(CodeDuplicateTicket, "this phone already holds an active ticket at %s", inst.Name)
		}
		held, err := tx.PhoneActive(ctx, *req.Phone)
		if err != nil {
			return err
		}
		if held {
			return Errorf(CodeDuplicateTicket, "this phone already holds an active ticket at %s", inst.Name)
		}
	}
	if inst.Capacity != nil && inst.WaitingCount >= *inst.Capacity {
		return Errorf(CodeQueueFull, "the queue at %s is full (%d waiting)", inst.Name, inst.WaitingCount)
	}
	return nil
}

// Ticket returns a ticket with its people ahead and estimate.
func (s *Service) Ticket(ctx context.Context, id string) (Ticket, error) {
	t, err := s.store.Ticket(ctx, id)
	if err != nil {
		return t, err
	}
	inst, err := s.store.Institution(ctx, t.InstitutionID)
	if err != nil {
		return t, err
	}
	var ahead int64
	if t.Status.Waiting() {
		if ahead, err = s.store.WaitingBefore(ctx, t.InstitutionID, t.Number); err != nil {
			return t, err
		}
	}
	t.decorate(&inst, ahead)
	return t, nil
}

// Notifications lists a ticket's notifications, oldest first.
func (s *Service) Notifications(ctx context.Context, id string) ([]Notification, error) {
	if _, err := s.store.Ticket(ctx, id); err != nil {
		return nil, err
	}
	return s.store.Notifications(ctx, id)
}

// ticketOp runs fn on a ticket under its institution's lock.
func (s *Service) ticketOp(ctx context.Context, id string, meta Meta, fn func(ctx context.Context, c *changeSet, tx Tx, inst *Institution, t *Ticket) error) (Ticket, error) {
	t, err := s.store.Ticket(ctx, id)
	if err != nil {
		return t, err
	}
	var out Ticket
	var outInst Institution
	_, err = s.update(ctx, t.InstitutionID, nil, func(ctx context.Context, tx Tx) (Changes, []Transition, error) {
		inst := tx.Institution()
		t, err := tx.Ticket(ctx, id)
		if err != nil {
			return Changes{}, nil, err
		}
		c := &changeSet{s: s, now: s.clock(), meta: meta}
		if err := fn(ctx, c, tx, &inst, &t); err != nil {
			return Changes{}, nil, err
		}
		out, outInst = t, inst
		if c.ch.empty() {
			return Changes{}, nil, nil
		}
		s.bump(&inst, c.now)
		outInst = inst
		c.ch.Institution = &inst
		return c.ch, c.trans, nil
	})
	if err != nil {
		return Ticket{}, err
	}
	if out.Status.Waiting() {
		// Only a no-op on a waiting ticket gets here; its rank is read fresh.
		return s.Ticket(ctx, id)
	}
	out.decorate(&outInst, 0)
	return out, nil
}

// CheckIn records that a called citizen is at the counter. Repeating it
// changes nothing.
func (s *Service) CheckIn(ctx context.Context, id string, meta Meta) (Ticket, error) {
	return s.ticketOp(ctx, id, meta, func(ctx context.Context, c *changeSet, tx Tx, inst *Institution, t *Ticket) error {
		if t.Status != TicketServing {
			return Errorf(CodeInvalidState, "ticket %d is %s; only a called (serving) ticket can check in", t.Number, t.Status)
		}
		if t.CheckedInAt != nil {
			return nil
		}
		t.CheckedInAt = &c.now
		t.UpdatedAt = c.now
		c.ch.Updated = append(c.ch.Updated, *t)
		c.ch.Audit = append(c.ch.Audit, s.audit(c.now, AuditCheckedIn, t, c.meta, nil))
		return nil
	})
}

// Cancel cancels a ticket. Cancelling a cancelled ticket changes nothing.
func (s *Service) Cancel(ctx context.Context, id string, meta Meta) (Ticket, error) {
	return s.ticketOp(ctx, id, meta, func(ctx context.Context, c *changeSet, tx Tx, inst *Institution, t *Ticket) error {
		switch t.Status {
		case TicketCancelled:
			return nil
		case TicketServed, TicketExpired:
			return Errorf(CodeInvalidState, "ticket %d is already %s", t.Number, t.Status)
		}
		wasWaiting := t.Status.Waiting()
		var front []Ticket
		if wasWaiting {
			var err error
			if front, err = tx.Waiting(ctx, MaxThreshold+2); err != nil {
				return err
			}
		}
		t.CompletedAt = &c.now
		t.Deadline = nil
		c.move(t, TicketCancelled, AuditCancelled, NotifyCancelled, nil)
		if wasWaiting {
			inst.WaitingCount--
			rest := front[:0:0]
			for _, f := range front {
				if f.ID != t.ID {
					rest = append(rest, f)
				}
			}
			c.promote(rest)
		}
		return nil
	})
}

// Recall calls a serving ticket again: a new turn_called notification and a
// fresh grace period.
func (s *Service) Recall(ctx context.Context, id string, allowed func(institutionID int64) error, meta Meta) (Ticket, error) {
	return s.ticketOp(ctx, id, meta, func(ctx context.Context, c *changeSet, tx Tx, inst *Institution, t *Ticket) error {
		if allowed != nil {
			if err := allowed(t.InstitutionID); err != nil {
				return err
			}
		}
		if t.Status != TicketServing {
			return Errorf(CodeInvalidState, "ticket %d is %s; only a serving ticket can be recalled", t.Number, t.Status)
		}
		deadline := c.now.Add(s.grace)
		t.Deadline = &deadline
		t.UpdatedAt = c.now
		c.ch.Updated = append(c.ch.Updated, *t)
		c.ch.Audit = append(c.ch.Audit, s.audit(c.now, AuditRecalled, t, c.meta, nil))
		c.ch.Notifications = append(c.ch.Notifications, notification(c.now, t, NotifyTurnCalled))
		return nil
	})
}

// AdvanceRequest asks to call the next Count tickets at Counter.
type AdvanceRequest struct {
	Count   int
	Counter *string
}

// Validate checks an advance request and applies defaults.
func (r *AdvanceRequest) Validate() error {
	if r.Count == 0 {
		r.Count = 1
	}
	if r.Count < 1 || r.Count > 50 {
		return Errorf(CodeInvalid, "count must be an integer from 1 to 50")
	}
	if r.Counter != nil {
		if err := checkText("counter", *r.Counter, 1, 16); err != nil {
			return err
		}
		if strings.TrimSpace(*r.Counter) == "" {
			return Errorf(CodeInvalid, "counter must not be blank")
		}
	}
	return nil
}

// AdvanceResult is what an advance did.
type AdvanceResult struct {
	Institution Institution `json:"institution"`
	Called      []Ticket    `json:"called"`
	Served      []Ticket    `json:"served"`
	Expired     []Ticket    `json:"expired"`
}

// Advance serves checked-in tickets, expires serving tickets past their
// grace period and calls the next Count waiting tickets. With nothing to do
// it changes nothing.
func (s *Service) Advance(ctx context.Context, id int64, req AdvanceRequest, meta Meta) (AdvanceResult, error) {
	if err := req.Validate(); err != nil {
		return AdvanceResult{}, err
	}
	res := AdvanceResult{Called: []Ticket{}, Served: []Ticket{}, Expired: []Ticket{}}
	_, err := s.update(ctx, id, nil, func(ctx context.Context, tx Tx) (Changes, []Transition, error) {
		res = AdvanceResult{Called: []Ticket{}, Served: []Ticket{}, Expired: []Ticket{}}
		inst := tx.Institution()
		c := &changeSet{s: s, now: s.clock(), meta: meta}
		if err := s.settleServing(ctx, tx, c, true, &res); err != nil {
			return Changes{}, nil, err
		}
		front, err := tx.Waiting(ctx, req.Count+MaxThreshold+1)
		if err != nil {
			return Changes{}, nil, err
		}
		n := min(req.Count, len(front))
		for i := range front[:n] {
			t := &front[i]
			deadline := c.now.Add(s.grace)
			t.CalledAt, t.Counter, t.Deadline = &c.now, req.Counter, &deadline
			data, _ := json.Marshal(map[string]any{"counter": req.Counter})
			c.move(t, TicketServing, AuditCalled, NotifyTurnCalled, data)
			res.Called = append(res.Called, *t)
			inst.NowServing = max(inst.NowServing, t.Number)
			inst.RecentCalls = append([]Call{{Number: t.Number, Counter: req.Counter, CalledAt: c.now}}, inst.RecentCalls...)
		}
		if n > 0 {
			inst.WaitingCount -= int64(n)
			if len(inst.RecentCalls) > recentCallsKept {
				inst.RecentCalls = inst.RecentCalls[:recentCallsKept]
			}
			inst.observeCalls(n, c.now)
			c.promote(front[n:])
		}
		res.Institution = inst
		if c.ch.empty() {
			return Changes{}, nil, nil
		}
		s.bump(&inst, c.now)
		res.Institution = inst
		c.ch.Institution = &inst
		return c.ch, c.trans, nil
	})
	if err != nil {
		return AdvanceResult{}, err
	}
	res.Institution.estimate()
	for _, list := range [][]Ticket{res.Called, res.Served, res.Expired} {
		for i := range list {
			list[i].decorate(&res.Institution, 0)
		}
	}
	return res, nil
}

// settleServing expires serving tickets past their deadline and, when serve
// is set, marks checked-in serving tickets served.
func (s *Service) settleServing(ctx context.Context, tx Tx, c *changeSet, serve bool, res *AdvanceResult) error {
	serving, err := tx.Serving(ctx)
	if err != nil {
		return err
	}
	for i := range serving {
		t := &serving[i]
		switch {
		case serve && t.CheckedInAt != nil:
			t.CompletedAt, t.Deadline = &c.now, nil
			c.move(t, TicketServed, AuditServed, NotifyCompleted, nil)
			res.Served = append(res.Served, *t)
		case t.CheckedInAt == nil && t.Deadline != nil && !t.Deadline.After(c.now):
			t.CompletedAt, t.Deadline = &c.now, nil
			c.move(t, TicketExpired, AuditExpired, NotifyExpired, nil)
			res.Expired = append(res.Expired, *t)
		}
	}
	return nil
}

// ExpireDue expires every serving ticket past its grace period, in every
// institution, and returns how many it expired. Several instances may run
// it at once: the institution lock makes each expiry happen exactly once.
func (s *Service) ExpireDue(ctx context.Context) (int, error) {
	ids, err := s.store.DueExpiries(ctx, s.clock())
	if err != nil {
		return 0, err
	}
	total := 0
	var errs []error
	for _, id := range ids {
		var res AdvanceResult
		_, err := s.update(ctx, id, nil, func(ctx context.Context, tx Tx) (Changes, []Transition, error) {
			res = AdvanceResult{}
			inst := tx.Institution()
			c := &changeSet{s: s, now: s.clock(), meta: Meta{Actor: ActorSystem}}
			if err := s.settleServing(ctx, tx, c, false, &res); err != nil {
				return Changes{}, nil, err
			}
			if c.ch.empty() {
				return Changes{}, nil, nil
			}
			s.bump(&inst, c.now)
			c.ch.Institution = &inst
			return c.ch, c.trans, nil
		})
		if err != nil {
			errs = append(errs, fmt.Errorf("expire tickets of institution %d: %w", id, err))
			continue
		}
		total += len(res.Expired)
	}
	return total, errors.Join(errs...)
}

// RunSweeper expires due tickets every interval until ctx ends.
func (s *Service) RunSweeper(ctx context.Context, interval time.Duration) {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	lastPurge := time.Time{}
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if n, err := s.ExpireDue(ctx); err != nil && ctx.Err() == nil {
			s.log.WarnContext(ctx, "sweeper: expire due tickets", "error", err)
		} else if n > 0 {
			s.log.InfoContext(ctx, "sweeper: expired tickets", "count", n)
		}
		if now := s.clock(); now.Sub(lastPurge) > time.Hour {
			if err := s.store.PurgeIdempotencyKeys(ctx, now.Add(-IdempotencyWindow)); err == nil {
				lastPurge = now
			}
		}
	}
}

// Announce sends a message to everyone following institution id.
func (s *Service) Announce(ctx context.Context, id int64, message string, meta Meta) (Announcement, error) {
	message = strings.TrimSpace(message)
	n := utf8.RuneCountInString(message)
	if n == 0 || n > 280 || !utf8.ValidString(message) {
		return Announcement{}, Errorf(CodeInvalid, "message must be 1 to 280 characters")
	}
	ann := Announcement{Message: message, CreatedAt: s.clock()}
	data, _ := json.Marshal(map[string]string{"message": message})
	_, err := s.update(ctx, id, &ann, func(ctx context.Context, tx Tx) (Changes, []Transition, error) {
		return Changes{Audit: []AuditEvent{s.audit(ann.CreatedAt, AuditAnnouncement, nil, meta, data)}}, nil, nil
	})
	return ann, err
}

// StaffTickets lists an institution's tickets in the given statuses.
func (s *Service) StaffTickets(ctx context.Context, id int64, statuses []TicketStatus, after int64, limit int) ([]StaffTicket, *int64, error) {
	inst, err := s.store.Institution(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	list, err := s.store.Tickets(ctx, id, statuses, after, limit+1)
	if err != nil {
		return nil, nil, err
	}
	var next *int64
	if len(list) > limit {
		list = list[:limit]
		n := list[limit-1].Number
		next = &n
	}
	// Ranks run on consecutively only when every waiting ticket is listed.
	consecutive := slices.Contains(statuses, TicketWaiting) && slices.Contains(statuses, TicketNotified)
	ahead := int64(-1)
	out := make([]StaffTicket, len(list))
	for i := range list {
		t := &list[i]
		if t.Status.Waiting() {
			if ahead < 0 || !consecutive {
				if ahead, err = s.store.WaitingBefore(ctx, id, t.Number); err != nil {
					return nil, nil, err
				}
			}
			t.decorate(&inst, ahead)
			ahead++
		} else {
			t.decorate(&inst, 0)
		}
		out[i] = t.Staff()
	}
	return out, next, nil
}

// Events lists an institution's audit trail after id.
func (s *Service) Events(ctx context.Context, id, after int64, limit int) ([]AuditEvent, *int64, error) {
	if _, err := s.store.Institution(ctx, id); err != nil {
		return nil, nil, err
	}
	list, err := s.store.Events(ctx, id, after, limit+1)
	if err != nil {
		return nil, nil, err
	}
	var next *int64
	if len(list) > limit {
		list = list[:limit]
		n := list[limit-1].ID
		next = &n
	}
	return list, next, nil
}
