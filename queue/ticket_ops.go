package queue

import (
	"context"
	"encoding/json"
	"strings"
)

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
		inst.ensureLines()
		t, err := tx.Ticket(ctx, id)
		if err != nil {
			return Changes{}, nil, err
		}
		c := &changeSet{s: s, now: s.clock(), meta: meta, inst: &inst}
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
		var o *Order
		if wasWaiting {
			front, err := tx.Front(ctx, []string{t.Service}, MaxThreshold+2)
			if err != nil {
				return err
			}
			o = NewOrder(inst, front)
		}
		t.CompletedAt = &c.now
		t.Deadline = nil
		inst.unhold(t) // a held ticket leaves its draw (day_join.go)
		c.move(t, TicketCancelled, AuditCancelled, NotifyCancelled, nil)
		if wasWaiting {
			o.Remove(t)
			c.promoteLine(o, t.Service)
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
		data, _ := json.Marshal(map[string]any{"counter": t.Counter, "service": t.Service, "label": t.Label, "reason": ReasonRecall})
		c.ch.Audit = append(c.ch.Audit, s.audit(c.now, AuditRecalled, t, c.meta, data))
		c.ch.Notifications = append(c.ch.Notifications, notification(c.now, t, NotifyTurnCalled))
		c.ch.Calls = append(c.ch.Calls, CallRecord{Number: t.Number, Label: t.Label, Service: t.Service,
			Counter: t.Counter, CalledAt: c.now, Reason: ReasonRecall})
		return nil
	})
}

// CallRequest asks to call one particular waiting ticket, out of the
// calling order, at Counter, for Reason (shown in the fairness log).
type CallRequest struct {
	Counter *string
	Reason  string
}

// Validate checks a particular call.
func (r *CallRequest) Validate() error {
	if r.Counter != nil {
		if err := (&AdvanceRequest{Count: 1, Counter: r.Counter}).Validate(); err != nil {
			return err
		}
	}
	r.Reason = strings.TrimSpace(r.Reason)
	return checkText("reason", r.Reason, 1, 80)
}

// CallTicket calls one particular waiting or notified ticket. It leaves
// the priority streak of its line as it was: a particular call is outside
// the calling order.
func (s *Service) CallTicket(ctx context.Context, id string, req CallRequest, allowed func(institutionID int64) error, meta Meta) (Ticket, error) {
	if err := req.Validate(); err != nil {
		return Ticket{}, err
	}
	return s.ticketOp(ctx, id, meta, func(ctx context.Context, c *changeSet, tx Tx, inst *Institution, t *Ticket) error {
		if allowed != nil {
			if err := allowed(t.InstitutionID); err != nil {
				return err
			}
		}
		if !t.Status.Waiting() {
			return Errorf(CodeInvalidState, "ticket %s is %s; only a waiting or notified ticket can be called", t.Label, t.Status)
		}
		front, err := tx.Front(ctx, []string{t.Service}, MaxThreshold+2)
		if err != nil {
			return err
		}
		o := NewOrder(inst, front)
		o.Remove(t)
		c.call(t, req.Counter, req.Reason, map[string]any{"particular": true})
		inst.observeCalls(1, c.now)
		c.promoteLine(o, t.Service)
		return nil
	})
}

// SetPriority sets (or, with nil, clears) a waiting ticket's priority; the
// audit trail records it. Setting what is already set changes nothing.
func (s *Service) SetPriority(ctx context.Context, id string, p *Priority, allowed func(institutionID int64) error, meta Meta) (Ticket, error) {
	if p != nil {
		if _, err := ParsePriority(string(*p)); err != nil {
			return Ticket{}, err
		}
	}
	return s.ticketOp(ctx, id, meta, func(ctx context.Context, c *changeSet, tx Tx, inst *Institution, t *Ticket) error {
		if allowed != nil {
			if err := allowed(t.InstitutionID); err != nil {
				return err
			}
		}
		if equalPtr(p, t.Priority) {
			return nil
		}
		if p != nil && inst.PriorityRun == 0 {
			return Errorf(CodeInvalid, "priority: %s has no priority lane (priority_run is 0)", inst.Name)
		}
		if !t.Status.Waiting() {
			return Errorf(CodeInvalidState, "ticket %s is %s; only a waiting or notified ticket's priority can change", t.Label, t.Status)
		}
		front, err := tx.Front(ctx, []string{t.Service}, MaxThreshold+2)
		if err != nil {
			return err
		}
		o := NewOrder(inst, front)
		o.Remove(t)
		if l := inst.line(t.Service); l != nil {
			switch {
			case t.Priority == nil:
				l.WaitingPriority++
			case p == nil:
				l.WaitingPriority--
			}
		}
		data, _ := json.Marshal(map[string]any{"from": t.Priority, "to": p})
		t.Priority = p
		t.UpdatedAt = c.now
		o.Add(*t)
		c.ch.Updated = append(c.ch.Updated, *t)
		c.ch.Audit = append(c.ch.Audit, s.audit(c.now, AuditPriority, t, c.meta, data))
		c.promoteLine(o, t.Service)
		return nil
	})
}
