package queue

// The day job's core (API.md v1.1, "The office day", "Fair opening"): what
// happens to an institution as its schedule's boundaries pass. RunDay is
// called by one River periodic job on River's leader (internal/app); it
// takes now as an argument, so tests drive it with their own clock. Each
// institution's work happens inside its Store.Update, under the row lock,
// and is decided from the stored state (DayState.Checked: the boundaries in
// (Checked, now] are the ones still to act on; draws by date), so a second
// run at the same moment, on any instance, finds nothing left to do.
//
//   - Status: at each boundary the institution opens or closes as the
//     schedule says (actor system, audited). A status staff set by hand
//     holds until the first boundary after it.
//   - Close of the day: when a local day's last closing passes, its waiting
//     and notified tickets expire with reason office_closed (at_close
//     expire), or stay, in order, ahead of the next day's joins
//     (carry_over: their places are older than any later join's).
//   - Fair opening: when a pre-queue window opens, each service's draw
//     publishes its commitment; at the opening the held tickets are drawn
//     (draw.go), here or in the first join after the opening, whichever
//     takes the lock first. Staff who open by hand during the window open
//     the office: the draw is made then, in their change
//     (drawOnHandOpening), and later joins come after the drawn tickets.

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"
)

// Audit kinds and notification events of the office day.
const (
	AuditDayClosed = "institution.day_closed"
	AuditDrawn     = "ticket.drawn"
	AuditDraw      = "institution.draw"
	NotifyDrawn    = "drawn"
)

// DayReport says what one RunDay did, for logs and tests.
type DayReport struct {
	Evaluated   int // institutions whose schedule was evaluated under lock
	StatusSet   int // automatic status changes
	DaysClosed  int
	Expired     int // tickets expired at a close of day
	CarriedOver int
	Committed   int // draws whose commitment was published
	Drawn       int // tickets drawn
}

func (r *DayReport) add(o DayReport) {
	r.Evaluated += o.Evaluated
	r.StatusSet += o.StatusSet
	r.DaysClosed += o.DaysClosed
	r.Expired += o.Expired
	r.CarriedOver += o.CarriedOver
	r.Committed += o.Committed
	r.Drawn += o.Drawn
}

// RunDay does, for every institution, what its schedule asks for at now.
// Institutions with nothing due are skipped without taking their lock.
func (s *Service) RunDay(ctx context.Context, now time.Time) (DayReport, error) {
	now = now.UTC().Truncate(time.Microsecond)
	list, err := s.store.Institutions(ctx)
	if err != nil {
		return DayReport{}, err
	}
	var total DayReport
	var errs []error
	for i := range list {
		if !dayDue(&list[i], list[i].Calendar(), now) {
			continue
		}
		rep, err := s.DayTick(ctx, list[i].ID, now)
		if err != nil {
			errs = append(errs, fmt.Errorf("office day of institution %d: %w", list[i].ID, err))
			continue
		}
		total.add(rep)
	}
	return total, errors.Join(errs...)
}

// dayDue reports, without the lock, whether inst may have something to do
// at now: a schedule not yet evaluated, a boundary or a pre-queue window
// since it last was, or a draw waiting for its opening.
func dayDue(inst *Institution, cal *Calendar, now time.Time) bool {
	for _, m := range inst.Day.Draws {
		for _, rec := range m {
			if !rec.Drawn {
				return true
			}
		}
	}
	if !cal.HasHours() {
		return false
	}
	if inst.Day.Checked == nil {
		return true
	}
	from := *inst.Day.Checked
	if !now.After(from) {
		return false
	}
	if at, _, ok := cal.NextBoundary(from); ok && !at.After(now) {
		return true
	}
	if d, ok := cal.InPrequeue(now); ok && inst.Day.Draws[d.String()] == nil {
		return true
	}
	return false
}

// DayTick does institution id's office-day work due at now, under its lock.
func (s *Service) DayTick(ctx context.Context, id int64, now time.Time) (DayReport, error) {
	now = now.UTC().Truncate(time.Microsecond)
	var rep DayReport
	_, err := s.update(ctx, id, nil, func(ctx context.Context, tx Tx) (Changes, []Transition, error) {
		rep = DayReport{Evaluated: 1}
		inst := tx.Institution()
		inst.ensureLines()
		inst.Day = inst.Day.clone()
		before := inst.Day.clone()
		cal := inst.Calendar()
		c := &changeSet{s: s, now: now, meta: Meta{Actor: ActorSystem}, inst: &inst}
		visible := false
		if cal.HasHours() {
			v, err := c.dayBoundaries(ctx, tx, cal, &rep)
			if err != nil {
				return Changes{}, nil, err
			}
			visible = v
			if n := c.commit(cal); n > 0 {
				rep.Committed += n
			}
			c.inst.Day.Checked = &now
		}
		n, err := c.drawDue(ctx, tx, cal)
		if err != nil {
			return Changes{}, nil, err
		}
		rep.Drawn += n
		visible = visible || n > 0
		c.inst.Day.prune(cal.LocalDate(now))
		if visible || !c.ch.empty() {
			s.bump(&inst, now)
			c.ch.Institution = &inst
			return c.ch, c.trans, nil
		}
		if dayStateEqual(before, inst.Day) {
			return Changes{}, nil, nil
		}
		st := inst.Day
		return Changes{DayState: &st}, nil, nil
	})
	return rep, err
}

func dayStateEqual(a, b DayState) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

// dayBoundaries applies the boundaries passed since the last evaluation:
// the status the schedule says, and the close of each day whose last
// closing passed. It reports whether the institution's visible state
// changed.
func (c *changeSet) dayBoundaries(ctx context.Context, tx Tx, cal *Calendar, rep *DayReport) (bool, error) {
	inst, now := c.inst, c.now
	changed := false
	// Closes of day first: their tickets leave before the status changes.
	if inst.Day.Checked != nil {
		from := *inst.Day.Checked
		for d := cal.LocalDate(from).AddDays(-1); d.Compare(cal.LocalDate(now)) <= 0; d = d.AddDays(1) {
			lc, ok := cal.LastClosing(d)
			if !ok || !lc.After(from) || lc.After(now) {
				continue
			}
			if err := c.closeDay(ctx, tx, d, rep); err != nil {
				return false, err
			}
			changed = true
		}
	}
	// The status: at the first evaluation of a schedule, or when a
	// boundary passed since the last one and since staff last set it.
	from := inst.Day.Checked
	if o := inst.Day.Override; o != nil && (from == nil || o.After(*from)) {
		from = o
	}
	follow := from == nil
	if from != nil {
		if at, _, ok := cal.NextBoundary(*from); ok && !at.After(now) {
			follow = true
		}
	}
	if follow {
		inst.Day.Override = nil
		want := StatusClosed
		if cal.IsOpen(now) {
			want = StatusOpen
		}
		if inst.Status != want {
			data, _ := json.Marshal(map[string]any{"status": map[string]Status{"from": inst.Status, "to": want}, "reason": "hours"})
			inst.Status = want
			c.ch.Audit = append(c.ch.Audit, c.s.audit(now, AuditUpdated, nil, c.meta, data))
			rep.StatusSet++
			changed = true
		}
	}
	return changed, nil
}

// closeDay is the close of local date d: waiting and notified tickets
// expire (reason office_closed) or are carried over, as at_close says.
func (c *changeSet) closeDay(ctx context.Context, tx Tx, d Date, rep *DayReport) error {
	inst := c.inst
	waiting, err := tx.Waiting(ctx, int(inst.WaitingCount)+1)
	if err != nil {
		return err
	}
	mode := inst.AtClose
	if mode == "" {
		mode = AtCloseExpire
	}
	rep.DaysClosed++
	if mode == AtCloseCarry {
		rep.CarriedOver += len(waiting)
	} else {
		data, _ := json.Marshal(map[string]string{"reason": ReasonOfficeClosed, "date": d.String()})
		for i := range waiting {
			t := &waiting[i]
			t.CompletedAt = &c.now
			t.Deadline = nil
			c.move(t, TicketExpired, AuditExpired, "", data)
			c.ch.Notifications = append(c.ch.Notifications, Notification{TicketID: t.ID, Event: NotifyExpired,
				Message:   fmt.Sprintf("Ticket %s expired: the office closed for the day before your turn. Please come again.", displayName(t)),
				CreatedAt: c.now})
		}
		rep.Expired += len(waiting)
	}
	data, _ := json.Marshal(map[string]any{"date": d.String(), "at_close": mode, "tickets": len(waiting)})
	c.ch.Audit = append(c.ch.Audit, c.s.audit(c.now, AuditDayClosed, nil, c.meta, data))
	return nil
}

// commit publishes the commitments of the pre-queue window now is in: one
// draw per service, its seed kept secret until the draw. It returns how
// many it published; none outside a window or when already published.
func (c *changeSet) commit(cal *Calendar) int {
	d, ok := cal.InPrequeue(c.now)
	if !ok {
		return 0
	}
	date := d.String()
	inst := c.inst
	if inst.Day.Draws == nil {
		inst.Day.Draws = map[string]map[string]DrawRecord{}
	}
	m := inst.Day.Draws[date]
	if m == nil {
		m = map[string]DrawRecord{}
		inst.Day.Draws[date] = m
	}
	n := 0
	for _, l := range inst.Services {
		if _, ok := m[l.Code]; ok {
			continue
		}
		seed, err := NewDrawSeed()
		if err != nil {
			c.s.log.Error("draw seed", "error", err.Error())
			continue
		}
		m[l.Code] = DrawRecord{Seed: hex.EncodeToString(seed), Draw: NewDraw(seed)}
		n++
	}
	return n
}

// drawDue performs every draw whose opening has come: the held tickets of
// each service get their numbers and labels in drawn order, places before
// any join after the opening, and a drawn notification. It returns how
// many tickets it drew.
func (c *changeSet) drawDue(ctx context.Context, tx Tx, cal *Calendar) (int, error) {
	inst, now := c.inst, c.now
	var dates []string
	for date, m := range inst.Day.Draws {
		for _, rec := range m {
			if !rec.Drawn {
				dates = append(dates, date)
				break
			}
		}
	}
	if len(dates) == 0 {
		return 0, nil
	}
	slices.Sort(dates)
	var held []Ticket
	loaded := false
	total := 0
	for _, date := range dates {
		d, _ := ParseDate(date)
		open, ok := cal.FirstOpening(d)
		switch {
		case !ok:
			open = now // the schedule changed: the held tickets are drawn now
		case now.Before(open) && inst.Status == StatusOpen:
			// Staff opened the office by hand before its opening: that is
			// the opening. The held tickets are drawn now, before any join
			// the open office takes, so every later join comes after them.
			open = now
		case now.Before(open):
			continue // not yet
		}
		if !loaded {
			var err error
			if held, err = tx.Held(ctx); err != nil {
				return total, err
			}
			loaded = true
		}
		inst.Day = inst.Day.clone()
		m := inst.Day.Draws[date]
		codes := make([]string, 0, len(m))
		for code := range m {
			codes = append(codes, code)
		}
		slices.Sort(codes)
		for _, code := range codes {
			rec := m[code]
			if rec.Drawn {
				continue
			}
			n, err := c.drawLine(ctx, tx, code, &rec, held, open)
			if err != nil {
				return total, err
			}
			total += n
			m[code] = rec
		}
	}
	return total, nil
}

// drawOnHandOpening is the fair opening when staff open the office by
// hand during a pre-queue window (changed is the patch's changes): the
// draw is made in the same transaction, before the office takes any join.
func (c *changeSet) drawOnHandOpening(ctx context.Context, tx Tx, changed map[string]any) error {
	if _, ok := changed["status"]; !ok || c.inst.Status != StatusOpen || len(c.inst.Day.Draws) == 0 {
		return nil
	}
	c.inst.ensureLines()
	c.inst.Day = c.inst.Day.clone()
	_, err := c.drawDue(ctx, tx, c.inst.Calendar())
	return err
}

// drawLine draws the held tickets of line code with rec's seed.
func (c *changeSet) drawLine(ctx context.Context, tx Tx, code string, rec *DrawRecord, held []Ticket, open time.Time) (int, error) {
	inst, now := c.inst, c.now
	seed, err := hex.DecodeString(rec.Seed)
	if err != nil {
		return 0, fmt.Errorf("draw %s: stored seed: %w", code, err)
	}
	byID := map[string]Ticket{}
	var ids []string
	for _, t := range held {
		if t.Service == code {
			byID[t.ID] = t
			ids = append(ids, t.ID)
		}
	}
	order, pub, err := DrawTickets(seed, ids)
	if err != nil {
		return 0, err
	}
	rec.Draw, rec.Drawn = pub, true
	line := inst.line(code)
	data, _ := json.Marshal(map[string]any{"service": code, "commitment": pub.Commitment, "seed": pub.Seed, "tickets": len(order)})
	c.ch.Audit = append(c.ch.Audit, c.s.audit(now, AuditDraw, nil, c.meta, data))
	if len(order) == 0 {
		return 0, nil
	}
	if line == nil {
		// The service was removed while tickets were held for it: they
		// cannot be served; they are cancelled rather than stranded.
		for _, id := range order {
			t := byID[id]
			t.CompletedAt = &now
			c.move(&t, TicketCancelled, AuditCancelled, NotifyCancelled, nil)
		}
		return 0, nil
	}
	front, err := tx.Front(ctx, []string{code}, MaxThreshold+2)
	if err != nil {
		return 0, err
	}
	o := NewOrder(inst, front)
	day := LocalDay(inst, now)
	n := len(order)
	for k, id := range order {
		t := byID[id]
		inst.LastIssued++
		t.Number = inst.LastIssued
		t.Label = line.nextLabel(day)
		// Just before the opening, in drawn order: after every ticket
		// carried over, before every join after the opening.
		t.Place = open.Add(-time.Duration(n-k) * time.Microsecond)
		t.Moved = ReasonDrawn
		d, _ := json.Marshal(map[string]any{"service": code, "label": t.Label, "drawn_position": k + 1})
		c.move(&t, TicketWaiting, AuditDrawn, "", d)
		c.ch.Notifications = append(c.ch.Notifications, Notification{TicketID: t.ID, Event: NotifyDrawn,
			Message: fmt.Sprintf("The draw at opening gave you ticket %s (drawn %d of %d).", t.Label, k+1, n), CreatedAt: now})
		o.Add(t)
	}
	c.promoteLine(o, code)
	return n, nil
}

// Draws are the fair-opening draws of institution id on local date date
// (YYYY-MM-DD), by service code; 404 before that date's pre-queue window
// opened.
func (s *Service) Draws(ctx context.Context, id int64, date string) (map[string]Draw, error) {
	inst, err := s.store.Institution(ctx, id)
	if err != nil {
		return nil, err
	}
	draws, ok := inst.PublicDraws(date)
	if !ok {
		return nil, Errorf(CodeNotFound, "%s has no draw on %s (none before its pre-queue window opens)", inst.Name, date)
	}
	return draws, nil
}
