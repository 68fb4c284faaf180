package queue

// Joins and the office day (API.md v1.1, "The office day", "Fair
// opening"): with hours, a join asks the schedule (Calendar.Joins) as well
// as the status. In the pre-queue window, while the institution is closed,
// a join is held: no number until the draw at opening. Within the join
// cutoff joins are refused. Outside the hours the status decides, as in v1
// (closed by the day job, or opened by hand until the next boundary).

import (
	"context"
	"encoding/json"
	"slices"
	"time"

	"github.com/google/uuid"
)

// officeDayJoin is what the schedule says about one batch of joins.
type officeDayJoin struct {
	window JoinWindow
	drawn  int    // tickets drawn before the batch
	date   string // the draw's date, in the pre-queue window
}

// joinDay reads the schedule for a batch of joins under the lock: a draw
// whose opening has come is done first, and a pre-queue window gets its
// commitments if the day job has not published them yet.
func (c *changeSet) joinDay(ctx context.Context, tx Tx) (officeDayJoin, error) {
	inst := c.inst
	if inst.Hours == nil && len(inst.Day.Draws) == 0 {
		return officeDayJoin{window: JoinsUnscheduled}, nil // v1: the status alone
	}
	inst.Day = inst.Day.clone()
	cal := inst.Calendar()
	n, err := c.drawDue(ctx, tx, cal)
	if err != nil {
		return officeDayJoin{}, err
	}
	od := officeDayJoin{window: cal.Joins(c.now), drawn: n}
	if od.closedForDraw(inst) {
		c.commit(cal)
		d, _ := cal.InPrequeue(c.now)
		od.date = d.String()
	}
	return od, nil
}

// holds reports whether req becomes a held ticket: in the pre-queue
// window of a closed institution, while its service's draw is still to
// come (staff who open by hand draw at once and take joins as usual; a
// ticket held after its draw would never be drawn).
func (od officeDayJoin) holds(inst *Institution, req JoinRequest) bool {
	if !od.closedForDraw(inst) {
		return false
	}
	line := inst.joinLine(req)
	if line == nil {
		return true // admit answers the unknown service
	}
	return !inst.Day.Draws[od.date][line.Code].Drawn
}

// closedForDraw: the pre-queue window of a closed institution.
func (od officeDayJoin) closedForDraw(inst *Institution) bool {
	return od.window == JoinsHeld && inst.Status == StatusClosed
}

// admit is admit (issue.go) under the schedule.
func (od officeDayJoin) admit(inst *Institution, req JoinRequest, held map[string]bool, now time.Time) error {
	if od.holds(inst, req) {
		// A held join passes the same checks as a join when open.
		open := *inst
		open.Status = StatusOpen
		if err := admit(&open, req, held, now); err != nil {
			return err
		}
		return od.quotaWithHeld(inst, req, now)
	}
	if od.closedForDraw(inst) {
		// Staff opened by hand, the draw was made, then they closed again.
		return Errorf(CodeInstitutionClosed, "%s is closed: today's draw has been made, so numbers are given again when it opens", inst.Name)
	}
	if inst.Status == StatusOpen && od.window == JoinsCutOff {
		return Errorf(CodeInstitutionClosed, "%s takes no more tickets today: joins close %d minutes before closing", inst.Name, inst.JoinCutoffMinutes)
	}
	return admit(inst, req, held, now)
}

// quotaWithHeld refuses a held join that would take a service past its
// daily quota once drawn: the tickets already held for the draw count, as
// the numbers the draw will issue that day.
func (od officeDayJoin) quotaWithHeld(inst *Institution, req JoinRequest, now time.Time) error {
	line := inst.joinLine(req)
	q := line.DailyQuota
	if q == nil {
		return nil
	}
	if n := line.issuedToday(LocalDay(inst, now)) + int64(len(inst.Day.Draws[od.date][line.Code].Draw.Held)); n >= *q {
		return Errorf(CodeQueueFull, "service %s at %s has its %d tickets for today, those held for the draw at opening included", line.Code, inst.Name, *q)
	}
	return nil
}

// hold issues a held ticket: no number, no label, no place in the queue
// until the draw.
func (c *changeSet) hold(id int64, req JoinRequest, place time.Time, date string) Ticket {
	line := c.inst.joinLine(req)
	now := c.now
	t := Ticket{ID: uuid.NewString(), InstitutionID: id, Status: TicketHeld, NearTurnThreshold: req.Threshold,
		Phone: req.Phone, IssuedAt: now, UpdatedAt: now, Service: line.Code, Priority: req.Priority,
		Source: req.Source, Place: place}
	data, _ := json.Marshal(map[string]any{"service": t.Service, "held": true})
	c.ch.Audit = append(c.ch.Audit, c.s.audit(now, AuditJoined, &t, c.meta, data))
	c.trans = append(c.trans, Transition{Ticket: t})
	c.ch.Inserted = append(c.ch.Inserted, t)
	// The draw lists the held tickets' digests from the start: a citizen
	// finds their entry before the draw.
	if rec, ok := c.inst.Day.Draws[date][t.Service]; ok && !rec.Drawn {
		dg := HeldDigest(t.ID)
		i, _ := slices.BinarySearch(rec.Draw.Held, dg)
		rec.Draw.Held = slices.Insert(slices.Clone(rec.Draw.Held), i, dg)
		c.inst.Day.Draws[date][t.Service] = rec
	}
	if req.IdempotencyKey != "" {
		c.ch.IdempotencyKeys = append(c.ch.IdempotencyKeys, IdempotencyKey{InstitutionID: id, Key: req.IdempotencyKey, TicketID: t.ID, CreatedAt: now})
	}
	t.decorate(c.inst, 0)
	return t
}

// unhold takes a held ticket that leaves (cancelled) out of its draw's
// published list.
func (inst *Institution) unhold(t *Ticket) {
	if t.Status != TicketHeld {
		return
	}
	dg := HeldDigest(t.ID)
	inst.Day = inst.Day.clone()
	for _, m := range inst.Day.Draws {
		if rec, ok := m[t.Service]; ok && !rec.Drawn {
			rec.Draw.Held = slices.DeleteFunc(slices.Clone(rec.Draw.Held), func(x string) bool { return x == dg })
			m[t.Service] = rec
		}
	}
}
