package queue

import "context"

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
