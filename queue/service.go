package queue

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
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
	// Calls are the calls the change made, in call order.
	Calls []CallRecord `json:"calls,omitempty"`
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
	// DefaultTimezone is the time zone of an institution created without
	// one (the server's DEFAULT_TIMEZONE); empty: UTC.
	DefaultTimezone string
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
	tz        string
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
	s := &Service{store: store, grace: cfg.GracePeriod, now: cfg.Now, log: cfg.Logger, tz: cfg.DefaultTimezone}
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
	// Each call has its audit event, in the same order.
	j := 0
	for _, a := range ch.Audit {
		if (a.Kind == AuditCalled || a.Kind == AuditRecalled) && j < len(ch.Calls) {
			ch.Calls[j].EventID = a.ID
			j++
		}
	}
	if ch.Institution == nil && ann == nil {
		return ch, nil
	}
	ev := Event{Transitions: trans, Notifications: ch.Notifications, Announcement: ann, Calls: ch.Calls}
	if ch.Institution != nil {
		ev.Institution = *ch.Institution
	} else {
		inst, err := s.store.Institution(ctx, id)
		if err != nil {
			return ch, err
		}
		ev.Institution = inst
	}
	ev.Institution.estimate(s.clock())
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
		list[i].estimate(s.clock())
	}
	return list, nil
}

// Institution returns one institution.
func (s *Service) Institution(ctx context.Context, id int64) (Institution, error) {
	inst, err := s.store.Institution(ctx, id)
	if err != nil {
		return inst, err
	}
	inst.estimate(s.clock())
	return inst, nil
}

// CreateInstitution creates an institution.
func (s *Service) CreateInstitution(ctx context.Context, f Fields, meta Meta) (Institution, error) {
	statusSet := f.Status != ""
	if err := f.Validate(); err != nil {
		return Institution{}, err
	}
	now := s.clock()
	inst := Institution{Name: f.Name, Kind: f.Kind, Address: f.Address, Status: f.Status,
		Capacity: f.Capacity, Version: 1, UpdatedAt: now, CreatedAt: now, RecentCalls: []Call{},
		Services: defaultLines(), Counters: []Counter{}, PriorityRun: *f.PriorityRun, Settings: DefaultSettings()}
	inst.OfficeDay = defaultOfficeDay(s.tz)
	f.Settings.apply(&inst.Settings, map[string]any{})
	if statusSet {
		inst.Day.Override = &now // the status given holds until the first boundary
	}
	inst.Thresholds = f.Thresholds.withDefaults()
	data, _ := json.Marshal(map[string]any{"name": f.Name, "kind": f.Kind, "address": f.Address, "status": f.Status, "capacity": f.Capacity, "priority_run": f.PriorityRun,
		"settings": inst.Settings, "thresholds": inst.Thresholds})
	inst, err := s.store.CreateInstitution(ctx, inst, s.audit(now, AuditCreated, nil, meta, data))
	if err != nil {
		return inst, err
	}
	inst.estimate(s.clock())
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
		noteDayChanges(&inst, changed, now)
		data, _ := json.Marshal(changed)
		c := &changeSet{s: s, now: now, meta: Meta{Actor: ActorSystem}, inst: &inst}
		c.ch.Audit = []AuditEvent{s.audit(now, AuditUpdated, nil, meta, data)}
		if err := c.drawOnHandOpening(ctx, tx, changed); err != nil {
			return Changes{}, nil, err
		}
		s.bump(&inst, now)
		out = inst
		c.ch.Institution = &inst
		return c.ch, c.trans, nil
	})
	out.estimate(s.clock())
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
	case NotifyRequeued:
		msg = fmt.Sprintf("Ticket %s is back in the queue. Please stay close this time.", displayName(t))
	case NotifyTransferred:
		msg = fmt.Sprintf("Ticket %s now waits for service %s.", displayName(t), t.Service)
	}
	return Notification{TicketID: t.ID, Event: event, Message: msg, CreatedAt: now}
}

// displayName is how a message names a ticket: its label, or its number.
func displayName(t *Ticket) string {
	if t.Label != "" {
		return t.Label
	}
	return fmt.Sprint(t.Number)
}

// changeSet accumulates one transaction's writes. inst is the locked
// institution's new state: move keeps its waiting counts.
type changeSet struct {
	s     *Service
	now   time.Time
	meta  Meta
	inst  *Institution
	ch    Changes
	trans []Transition
}

func (c *changeSet) move(t *Ticket, to TicketStatus, auditKind, notify string, data json.RawMessage) {
	from := t.Status
	if from.Waiting() && !to.Waiting() {
		c.inst.leave(t)
	} else if !from.Waiting() && to.Waiting() {
		c.inst.enter(t) // a requeue, a transfer
	}
	t.Status = to
	t.UpdatedAt = c.now
	c.ch.Updated = append(c.ch.Updated, *t)
	c.trans = append(c.trans, Transition{Ticket: *t, From: from})
	c.ch.Audit = append(c.ch.Audit, c.s.audit(c.now, auditKind, t, c.meta, data))
	if notify != "" {
		c.ch.Notifications = append(c.ch.Notifications, notification(c.now, t, notify))
	}
}

// call calls a waiting ticket at counter: it becomes serving, the board
// hears of it (reason: in_order, priority or the staff's words), and the
// institution and its line show it.
func (c *changeSet) call(t *Ticket, counter *string, reason string, extra map[string]any) {
	if reason == ReasonInOrder && t.Moved != "" {
		reason = t.Moved // its place came from that rule
	}
	deadline := c.now.Add(c.s.grace)
	t.CalledAt, t.Counter, t.Deadline = &c.now, counter, &deadline
	data := map[string]any{"counter": counter, "service": t.Service, "label": t.Label, "reason": reason}
	for k, v := range extra {
		data[k] = v
	}
	raw, _ := json.Marshal(data)
	c.move(t, TicketServing, AuditCalled, NotifyTurnCalled, raw)
	inst := c.inst
	inst.NowServing = max(inst.NowServing, t.Number)
	inst.RecentCalls = append([]Call{{Number: t.Number, Label: t.Label, Service: t.Service, Counter: counter, CalledAt: c.now}}, inst.RecentCalls...)
	if len(inst.RecentCalls) > recentCallsKept {
		inst.RecentCalls = inst.RecentCalls[:recentCallsKept]
	}
	if l := inst.line(t.Service); l != nil && t.Label != "" {
		label := t.Label
		l.NowServingLabel, l.CalledDay = &label, LocalDay(inst, c.now)
	}
	if l := inst.line(t.Service); l != nil {
		l.notePaceCall(LocalDay(inst, c.now), c.now, counter)
	}
	c.ch.Calls = append(c.ch.Calls, CallRecord{Number: t.Number, Label: t.Label, Service: t.Service,
		Counter: counter, CalledAt: c.now, Reason: reason})
}

// leave counts a ticket that stops waiting out of its institution's and
// its line's waiting counts.
func (inst *Institution) leave(t *Ticket) {
	inst.WaitingCount--
	if l := inst.line(t.Service); l != nil {
		l.WaitingCount--
		if t.Priority != nil {
			l.WaitingPriority--
		}
	}
}

// promoteLine marks notified every waiting ticket of line code within its
// threshold, as order says who comes first.
func (c *changeSet) promoteLine(o *Order, code string) {
	c.promote(o.Front(code, MaxThreshold+1))
}

// promote marks notified every waiting ticket within its threshold, given
// the waiting tickets of one line in calling order from its front.
func (c *changeSet) promote(front []Ticket) {
	for i := range front {
		t := &front[i]
		if t.Status == TicketWaiting && int64(i) <= int64(t.NearTurnThreshold) {
			c.move(t, TicketNotified, AuditNotified, NotifyNearTurn, nil)
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
