package queue

import (
	"context"
	"slices"
)

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
		if ahead, err = s.peopleAhead(ctx, &inst, &t); err != nil {
			return t, err
		}
	}
	t.decorate(&inst, ahead)
	return t, nil
}

// peopleAhead is how many tickets will be called before waiting ticket t,
// by the calling order (order.go): its rank in its lane, read from the
// store, turned into people ahead with its line's lanes and streak.
func (s *Service) peopleAhead(ctx context.Context, inst *Institution, t *Ticket) (int64, error) {
	inst.ensureLines()
	rank, err := s.store.LaneRank(ctx, *t, inst.PriorityRun > 0)
	if err != nil {
		return 0, err
	}
	return lineAhead(inst, t, rank), nil
}

// simpleOrder reports whether inst's calling order is v1's number order:
// one line and no priority ticket waiting.
func simpleOrder(inst *Institution) bool {
	inst.ensureLines()
	return len(inst.Services) == 1 && inst.Services[0].WaitingPriority == 0
}

// Notifications lists a ticket's notifications, oldest first.
func (s *Service) Notifications(ctx context.Context, id string) ([]Notification, error) {
	if _, err := s.store.Ticket(ctx, id); err != nil {
		return nil, err
	}
	return s.store.Notifications(ctx, id)
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
	// Ranks run on consecutively only when every waiting ticket is listed
	// and the calling order is the number order.
	simple := simpleOrder(&inst)
	consecutive := simple && slices.Contains(statuses, TicketWaiting) && slices.Contains(statuses, TicketNotified)
	ahead := int64(-1)
	out := make([]StaffTicket, len(list))
	for i := range list {
		t := &list[i]
		if t.Status.Waiting() {
			switch {
			case !simple:
				if ahead, err = s.peopleAhead(ctx, &inst, t); err != nil {
					return nil, nil, err
				}
			case ahead < 0 || !consecutive:
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
