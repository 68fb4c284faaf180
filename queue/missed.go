package queue

import (
	"context"
	"encoding/json"
	"time"
)

// Missed turns, defer and transfer: the rules that give a ticket a place
// other than its issue time. Each one computes the place through the
// calling order (order.go, Order.PlaceFor) under the institution's lock,
// so people_ahead stays exact for everyone in the line.

// Settings are an institution's office-day settings; each is a field of
// the Institution object, writable by admin.
type Settings struct {
	// RejoinWindowSeconds is how long after its expiry a citizen may put
	// a missed ticket back in the queue.
	RejoinWindowSeconds int `json:"rejoin_window_seconds"`
	// RequeueAfter is how many tickets of its service a requeued ticket
	// has ahead of it (fewer if fewer wait).
	RequeueAfter int `json:"requeue_after"`
	// MaxRequeues is how often a citizen may requeue one ticket.
	MaxRequeues int `json:"max_requeues"`
	// OfficeDay: timezone, hours, closed dates, cutoff, at_close,
	// pre-queue (day.go).
	OfficeDay
}

// Settings bounds and defaults.
const (
	MaxRejoinWindowSeconds     = 3600
	DefaultRejoinWindowSeconds = 600
	MaxRequeueAfter            = 50
	DefaultRequeueAfter        = 3
	MaxMaxRequeues             = 5
	DefaultMaxRequeues         = 1
	MaxDeferPlaces             = 10
	MaxDefers                  = 2
)

// DefaultSettings are the settings of a new institution.
func DefaultSettings() Settings {
	return Settings{RejoinWindowSeconds: DefaultRejoinWindowSeconds, RequeueAfter: DefaultRequeueAfter, MaxRequeues: DefaultMaxRequeues}
}

// SettingsPatch changes some settings; nil fields stay.
type SettingsPatch struct {
	RejoinWindowSeconds *int
	RequeueAfter        *int
	MaxRequeues         *int
	// Day changes the office-day settings (day.go).
	Day DayPatch
}

func (p SettingsPatch) empty() bool {
	return p.RejoinWindowSeconds == nil && p.RequeueAfter == nil && p.MaxRequeues == nil && p.Day.empty()
}

// Validate checks the settings a patch sets, naming the field.
func (p SettingsPatch) Validate() error {
	for _, f := range []struct {
		name     string
		v        *int
		min, max int
	}{
		{"rejoin_window_seconds", p.RejoinWindowSeconds, 0, MaxRejoinWindowSeconds},
		{"requeue_after", p.RequeueAfter, 0, MaxRequeueAfter},
		{"max_requeues", p.MaxRequeues, 0, MaxMaxRequeues},
	} {
		if f.v != nil && (*f.v < f.min || *f.v > f.max) {
			return Errorf(CodeInvalid, "%s must be an integer from %d to %d", f.name, f.min, f.max)
		}
	}
	return p.Day.Validate()
}

func (p SettingsPatch) apply(st *Settings, changed map[string]any) {
	for _, f := range []struct {
		name string
		v    *int
		to   *int
	}{
		{"rejoin_window_seconds", p.RejoinWindowSeconds, &st.RejoinWindowSeconds},
		{"requeue_after", p.RequeueAfter, &st.RequeueAfter},
		{"max_requeues", p.MaxRequeues, &st.MaxRequeues},
	} {
		if f.v != nil && *f.v != *f.to {
			changed[f.name] = map[string]int{"from": *f.to, "to": *f.v}
			*f.to = *f.v
		}
	}
	p.Day.apply(&st.OfficeDay, changed)
}

// Audit kinds and notification events of the rules here.
const (
	AuditRequeued    = "ticket.requeued"
	AuditDeferred    = "ticket.deferred"
	AuditTransferred = "ticket.transferred"

	NotifyRequeued    = "requeued"
	NotifyTransferred = "transferred"
)

// Moves and call reasons: a ticket called in order after one of these
// rules placed it is called for that reason in the fairness log.
const (
	ReasonRequeued    = "requeued"
	ReasonDeferred    = "deferred"
	ReasonTransferred = "transferred"
	ReasonDrawn       = "drawn"
)

// Transfer placements.
const (
	PlaceFront    = "front"
	PlaceBack     = "back"
	PlaceOriginal = "original"
)

// enter counts a ticket that starts waiting into its institution's and its
// line's waiting counts (the reverse of leave).
func (inst *Institution) enter(t *Ticket) {
	inst.WaitingCount++
	if l := inst.line(t.Service); l != nil {
		l.WaitingCount++
		if t.Priority != nil {
			l.WaitingPriority++
		}
	}
}

// backPlace is the place of a ticket that goes last now: a microsecond
// after a join's, so that it also comes after the tickets that joined in
// the same instant with higher numbers.
func backPlace(inst *Institution, now time.Time) time.Time {
	return maxTime(now, inst.UpdatedAt).Add(time.Microsecond)
}

// laneRead is how many tickets per lane to read so that PlaceFor sees the
// lane up to ahead+1 tickets.
func laneRead(ahead int64) int { return int(min(ahead, 1<<20)) + MaxThreshold + 2 }

// Requeue puts an expired ticket back in its line with RequeueAfter
// tickets ahead. staff is nil for the citizen (within the rejoin window,
// at most MaxRequeues times); for staff it checks the token and allows any
// expired ticket of the local day.
func (s *Service) Requeue(ctx context.Context, id string, staff func(institutionID int64) error, meta Meta) (Ticket, error) {
	return s.ticketOp(ctx, id, meta, func(ctx context.Context, c *changeSet, tx Tx, inst *Institution, t *Ticket) error {
		if staff != nil {
			if err := staff(t.InstitutionID); err != nil {
				return err
			}
		}
		if t.Status != TicketExpired || t.CompletedAt == nil {
			return Errorf(CodeInvalidState, "ticket %s is %s; only an expired ticket can be put back in the queue", t.Label, t.Status)
		}
		if inst.line(t.Service) == nil {
			return Errorf(CodeInvalidState, "ticket %s's service %s no longer exists", t.Label, t.Service)
		}
		if staff != nil {
			if LocalDay(inst, *t.CompletedAt) != LocalDay(inst, c.now) {
				return Errorf(CodeInvalidState, "ticket %s expired on an earlier day", t.Label)
			}
		} else {
			if t.Requeues >= inst.MaxRequeues {
				return Errorf(CodeInvalidState, "ticket %s was already put back %d time(s), the most allowed here", t.Label, t.Requeues)
			}
			if c.now.Sub(*t.CompletedAt) > time.Duration(inst.RejoinWindowSeconds)*time.Second {
				return Errorf(CodeInvalidState, "ticket %s expired more than %d seconds ago; ask the staff", t.Label, inst.RejoinWindowSeconds)
			}
		}
		k := int64(inst.RequeueAfter)
		front, err := tx.Front(ctx, []string{t.Service}, laneRead(k))
		if err != nil {
			return err
		}
		o := NewOrder(inst, front)
		place, ahead := o.PlaceFor(t, k, backPlace(inst, c.now))
		t.Place, t.Moved = place, ReasonRequeued
		t.Requeues++
		t.CalledAt, t.Counter, t.CheckedInAt, t.CompletedAt, t.Deadline = nil, nil, nil, nil, nil
		data, _ := json.Marshal(map[string]any{"service": t.Service, "label": t.Label, "people_ahead": ahead, "requeues": t.Requeues})
		c.move(t, TicketWaiting, AuditRequeued, NotifyRequeued, data)
		o.Add(*t)
		c.promoteLine(o, t.Service)
		return nil
	})
}

// Defer moves a waiting ticket places places back in its line (to the
// back if fewer are behind), at most MaxDefers times. A ticket that cannot
// move back (last in its lane) is left as it was. A notified ticket
// that ends up beyond its threshold waits again and will be notified
// again when its turn nears.
func (s *Service) Defer(ctx context.Context, id string, places int, meta Meta) (Ticket, error) {
	if places < 1 || places > MaxDeferPlaces {
		return Ticket{}, Errorf(CodeInvalid, "places must be an integer from 1 to %d", MaxDeferPlaces)
	}
	return s.ticketOp(ctx, id, meta, func(ctx context.Context, c *changeSet, tx Tx, inst *Institution, t *Ticket) error {
		if !t.Status.Waiting() {
			return Errorf(CodeInvalidState, "ticket %s is %s; only a waiting ticket can let people go ahead", t.Label, t.Status)
		}
		if t.Defers >= MaxDefers {
			return Errorf(CodeInvalidState, "ticket %s has already let people go ahead %d times, the most allowed", t.Label, t.Defers)
		}
		t.Place = placeOf(t)
		idx, err := tx.LaneRank(ctx, *t, inst.PriorityRun > 0)
		if err != nil {
			return err
		}
		front, err := tx.Front(ctx, []string{t.Service}, laneRead(idx+int64(places)*int64(MaxPriorityRun+1)))
		if err != nil {
			return err
		}
		o := NewOrder(inst, front)
		o.Remove(t)
		l := o.lines[t.Service]
		before := o.aheadAt(l, t, idx)
		if behind := o.waiting(t.Service) - before; behind <= 0 {
			return nil // already last: nobody to let go ahead
		}
		place, ahead := o.PlaceFor(t, before+int64(places), backPlace(inst, c.now))
		if ahead <= before {
			// A priority run made the next step longer than places.
			place, ahead = o.PlaceFor(t, o.aheadAt(l, t, idx+1), backPlace(inst, c.now))
		}
		if ahead <= before {
			// Last of its lane: those behind it in the line are in the
			// other lane, which the priority run interleaves; it cannot
			// move back.
			return nil
		}
		t.Place, t.Moved = place, ReasonDeferred
		t.Defers++
		data, _ := json.Marshal(map[string]any{"places": places, "from_people_ahead": before, "people_ahead": ahead})
		if t.Status == TicketNotified && ahead > int64(t.NearTurnThreshold) {
			c.move(t, TicketWaiting, AuditDeferred, "", data)
		} else {
			t.UpdatedAt = c.now
			c.ch.Updated = append(c.ch.Updated, *t)
			c.ch.Audit = append(c.ch.Audit, s.audit(c.now, AuditDeferred, t, c.meta, data))
		}
		o.Add(*t)
		c.promoteLine(o, t.Service)
		return nil
	})
}

// TransferRequest sends a ticket to another service.
type TransferRequest struct {
	Service   string
	Placement string
}

// Transfer makes a serving or waiting ticket wait in another service (or
// its own), placed first, last, or by its issue time. Staff only: allowed
// checks the token.
func (s *Service) Transfer(ctx context.Context, id string, req TransferRequest, allowed func(institutionID int64) error, meta Meta) (Ticket, error) {
	switch req.Placement {
	case PlaceFront, PlaceBack, PlaceOriginal:
	default:
		return Ticket{}, Errorf(CodeInvalid, "placement must be one of front, back, original")
	}
	if !codePattern.MatchString(req.Service) {
		return Ticket{}, Errorf(CodeInvalid, "service must be a service code (1 to 3 capital letters)")
	}
	return s.ticketOp(ctx, id, meta, func(ctx context.Context, c *changeSet, tx Tx, inst *Institution, t *Ticket) error {
		if err := allowed(t.InstitutionID); err != nil {
			return err
		}
		if inst.line(req.Service) == nil {
			return Errorf(CodeNotFound, "institution %d has no service %s", t.InstitutionID, req.Service)
		}
		if t.Status != TicketServing && !t.Status.Waiting() {
			return Errorf(CodeInvalidState, "ticket %s is %s; only a serving or waiting ticket can be transferred", t.Label, t.Status)
		}
		from := t.Service
		codes := []string{from}
		if req.Service != from {
			codes = append(codes, req.Service)
		}
		front, err := tx.Front(ctx, codes, laneRead(0))
		if err != nil {
			return err
		}
		o := NewOrder(inst, front)
		wasWaiting := t.Status.Waiting()
		if wasWaiting {
			t.Place = placeOf(t)
			o.Remove(t)
			inst.leave(t)
		}
		t.Service = req.Service
		switch req.Placement {
		case PlaceFront:
			t.Place, _ = o.PlaceFor(t, 0, backPlace(inst, c.now))
		case PlaceBack:
			t.Place = backPlace(inst, c.now)
		case PlaceOriginal:
			t.Place = t.IssuedAt
		}
		t.Moved = ReasonTransferred
		data, _ := json.Marshal(map[string]any{"from": from, "to": req.Service, "placement": req.Placement})
		if wasWaiting {
			inst.enter(t)
			t.UpdatedAt = c.now
			if t.Status == TicketNotified {
				// Its new line decides afresh whether its turn is near.
				c.move(t, TicketWaiting, AuditTransferred, NotifyTransferred, data)
			} else {
				c.ch.Updated = append(c.ch.Updated, *t)
				c.ch.Audit = append(c.ch.Audit, s.audit(c.now, AuditTransferred, t, c.meta, data))
				c.ch.Notifications = append(c.ch.Notifications, notification(c.now, t, NotifyTransferred))
			}
		} else {
			t.CalledAt, t.Counter, t.CheckedInAt, t.Deadline = nil, nil, nil, nil
			c.move(t, TicketWaiting, AuditTransferred, NotifyTransferred, data)
		}
		o.Add(*t)
		for _, code := range codes {
			c.promoteLine(o, code)
		}
		return nil
	})
}

// waiting is how many tickets wait in line code.
func (o *Order) waiting(code string) int64 {
	if l := o.lines[code]; l != nil {
		return l.nReg + l.nPri
	}
	return 0
}
