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
	inst.estimate(s.clock())
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
	inst.estimate(s.clock())
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
	// In v1's number order (one line, no priority ticket waiting) the page's
	// ranks take at most two reads whatever its size; otherwise one read of
	// the waiting set, ranked in memory by the calling order.
	var ranks []int64
	if simpleOrder(&inst) {
		ranks, err = s.ranks(ctx, id, statuses, list)
	} else {
		ranks, err = s.orderRanks(ctx, &inst, list)
	}
	if err != nil {
		return nil, nil, err
	}
	out := make([]StaffTicket, len(list))
	for i := range list {
		t := &list[i]
		t.decorate(&inst, ranks[i])
		out[i] = t.Staff()
	}
	return out, next, nil
}

// ranks returns the people ahead of each listed ticket (0 for those not
// waiting or notified) in at most two reads, whatever the page's size: a
// count of the active tickets before the first listed one, and, when the
// list shows only one of waiting and notified, the tickets of the other
// status among the listed ones, which take places too.
func (s *Service) ranks(ctx context.Context, id int64, statuses []TicketStatus, list []Ticket) ([]int64, error) {
	out := make([]int64, len(list))
	var first, last int64 = -1, -1
	for _, t := range list {
		if t.Status.Waiting() {
			if first < 0 {
				first = t.Number
			}
			last = t.Number
		}
	}
	if first < 0 {
		return out, nil
	}
	ahead, err := s.store.WaitingBefore(ctx, id, first)
	if err != nil {
		return nil, err
	}
	var others []int64 // active numbers in [first, last] the list leaves out
	var other TicketStatus
	switch hasW, hasN := slices.Contains(statuses, TicketWaiting), slices.Contains(statuses, TicketNotified); {
	case hasW && !hasN:
		other = TicketNotified
	case hasN && !hasW:
		other = TicketWaiting
	}
	if other != "" {
		// Bounded by the page: at most as many as the numbers between the
		// first and the last listed.
		span := int(min(last-first, 1<<20))
		more, err := s.store.Tickets(ctx, id, []TicketStatus{other}, first, max(span, 1))
		if err != nil {
			return nil, err
		}
		for _, t := range more {
			if t.Number < last {
				others = append(others, t.Number)
			}
		}
	}
	for i, t := range list {
		if !t.Status.Waiting() {
			continue
		}
		for len(others) > 0 && others[0] < t.Number {
			others = others[1:]
			ahead++
		}
		out[i] = ahead
		ahead++
	}
	return out, nil
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
