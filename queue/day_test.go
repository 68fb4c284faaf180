package queue

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// The office day on both stores: settings, the day job at boundaries,
// staff overrides, the close of the day, a DST day, the fair opening.
// Time is the harness's clock; RunDay takes it as an argument.

func weekHours(periods ...[]string) map[string][][]string {
	h := map[string][][]string{}
	for _, d := range DayKeys {
		h[d] = periods
	}
	return h
}

// dayInst creates an institution with hours and no explicit status, so
// that the schedule decides it.
func (h *harness) dayInst(tz string, hours map[string][][]string, tweak func(p *DayPatch)) Institution {
	h.t.Helper()
	p := DayPatch{Timezone: &tz, SetHours: true, Hours: hours}
	if tweak != nil {
		tweak(&p)
	}
	inst, err := h.svc.CreateInstitution(h.ctx, Fields{Name: "Day Office", Kind: "government", Settings: SettingsPatch{Day: p}}, Meta{Actor: "token:admin"})
	if err != nil {
		h.t.Fatalf("create institution with hours: %v", err)
	}
	return inst
}

// runDay runs the day job at the harness's clock.
func (h *harness) runDay() DayReport {
	h.t.Helper()
	rep, err := h.svc.RunDay(h.ctx, h.clock.Now())
	if err != nil {
		h.t.Fatalf("run day at %s: %v", h.clock.Now(), err)
	}
	return rep
}

// dayTick evaluates one institution at the harness's clock under its
// lock, whether or not RunDay would find it due.
func (h *harness) dayTick(id int64) DayReport {
	h.t.Helper()
	rep, err := h.svc.DayTick(h.ctx, id, h.clock.Now())
	if err != nil {
		h.t.Fatalf("day tick at %s: %v", h.clock.Now(), err)
	}
	return rep
}

func (h *harness) setClock(t time.Time) {
	h.clock.mu.Lock()
	h.clock.now = t
	h.clock.mu.Unlock()
}

// statusAt runs the day job at `at` (and evaluates institution id under
// its lock too, when tick) and fails unless id then has status want.
func (h *harness) statusAt(id int64, at time.Time, tick bool, want Status, why string) DayReport {
	h.t.Helper()
	h.setClock(at)
	rep := h.runDay()
	if tick {
		h.dayTick(id) // evaluated under the lock, not only skipped as not due
	}
	if got := h.inst(id).Status; got != want {
		h.t.Fatalf("%s (%s): status %s, want %s (day job: %+v)", why, at, got, want, rep)
	}
	return rep
}

// setStatus is staff setting institution id's status by hand.
func (h *harness) setStatus(id int64, st Status) Institution {
	h.t.Helper()
	inst, err := h.svc.UpdateInstitution(h.ctx, id, Patch{Status: ptr(st)}, Meta{Actor: "token:7"})
	if err != nil {
		h.t.Fatalf("staff set status %s: %v", st, err)
	}
	return inst
}

// auditCount counts institution id's audit events of kind whose data
// contains dataPart.
func (h *harness) auditCount(id int64, kind, dataPart string) int {
	h.t.Helper()
	evs, _, err := h.svc.Events(h.ctx, id, 0, 500)
	if err != nil {
		h.t.Fatal(err)
	}
	n := 0
	for _, e := range evs {
		if e.Kind == kind && strings.Contains(string(e.Data), dataPart) {
			n++
		}
	}
	return n
}

func TestDaySettingsStoredAndValidated(t *testing.T) {
	eachStore(t, func(t *testing.T, h *harness) {
		plain := h.institution(Fields{})
		if plain.Timezone != "UTC" || plain.Hours != nil || plain.AtClose != AtCloseExpire || plain.JoinCutoffMinutes != 0 || plain.PrequeueMinutes != 0 {
			t.Fatalf("defaults: %+v", plain.OfficeDay)
		}
		if plain.Calendar().HasHours() {
			t.Fatal("an institution without hours has a schedule")
		}
		// Without hours the day job leaves it alone, as v1.
		h.clock.Advance(20 * time.Hour)
		if rep := h.runDay(); rep.Evaluated != 0 || h.inst(plain.ID).Status != StatusOpen || h.inst(plain.ID).Version != plain.Version {
			t.Fatalf("day job touched an institution without hours: %+v", rep)
		}

		// Bad input: an error naming the field, nothing stored.
		bad := []struct {
			p    DayPatch
			want string
		}{
			{DayPatch{Timezone: ptr("Mars/Olympus")}, "timezone"},
			{DayPatch{SetHours: true, Hours: map[string][][]string{"mon": {{"8:00", "12:00"}}}}, "hours.mon[0]"},
			{DayPatch{SetHours: true, Hours: map[string][][]string{"mon": {{"12:00", "08:00"}}}}, "hours.mon[0]"},
			{DayPatch{SetHours: true, Hours: map[string][][]string{"funday": {}}}, "hours"},
			{DayPatch{ClosedDates: &[]string{"2026-02-30"}}, "closed_dates[0]"},
			{DayPatch{JoinCutoffMinutes: ptr(241)}, "join_cutoff_minutes"},
			{DayPatch{PrequeueMinutes: ptr(-1)}, "prequeue_minutes"},
			{DayPatch{AtClose: ptr("keep")}, "at_close"},
		}
		for _, b := range bad {
			_, err := h.svc.UpdateInstitution(h.ctx, plain.ID, Patch{Settings: SettingsPatch{Day: b.p}}, Meta{Actor: "token:admin"})
			wantCode(t, err, CodeInvalid)
			if !strings.Contains(err.Error(), b.want) {
				t.Errorf("error %q does not name %s", err, b.want)
			}
		}
		if got := h.inst(plain.ID); got.Version != plain.Version {
			t.Fatalf("a refused patch changed the institution: version %d -> %d", plain.Version, got.Version)
		}

		hours := map[string][][]string{"mon": {{"08:00", "12:00"}, {"13:00", "17:00:30"}}}
		inst := h.dayInst("Asia/Manila", hours, func(p *DayPatch) {
			p.ClosedDates = &[]string{"2026-12-30", "2026-12-25"}
			p.JoinCutoffMinutes, p.PrequeueMinutes, p.AtClose = ptr(30), ptr(15), ptr(AtCloseCarry)
		})
		got := h.inst(inst.ID)
		if got.Timezone != "Asia/Manila" || got.JoinCutoffMinutes != 30 || got.PrequeueMinutes != 15 || got.AtClose != AtCloseCarry ||
			!slices.Equal(got.ClosedDates, []string{"2026-12-25", "2026-12-30"}) ||
			len(got.Hours) != 7 || !slices.EqualFunc(got.Hours["mon"], hours["mon"], slices.Equal) || len(got.Hours["sun"]) != 0 {
			t.Fatalf("stored settings: %+v", got.OfficeDay)
		}
		body, _ := json.Marshal(got)
		for _, field := range []string{`"timezone":"Asia/Manila"`, `"hours":{`, `"closed_dates":["2026-12-25","2026-12-30"]`,
			`"join_cutoff_minutes":30`, `"at_close":"carry_over"`, `"prequeue_minutes":15`} {
			if !strings.Contains(string(body), field) {
				t.Errorf("institution JSON lacks %s: %s", field, body)
			}
		}
		if strings.Contains(string(body), "checked") || strings.Contains(string(body), "draws") {
			t.Errorf("the day job's state leaks into the institution JSON: %s", body)
		}
		if loc := got.Calendar().Location().String(); loc != "Asia/Manila" {
			t.Fatalf("calendar zone %s", loc)
		}
		// hours null removes the schedule.
		after, err := h.svc.UpdateInstitution(h.ctx, inst.ID, Patch{Settings: SettingsPatch{Day: DayPatch{SetHours: true}}}, Meta{Actor: "token:admin"})
		if err != nil || after.Hours != nil || after.Calendar().HasHours() {
			t.Fatalf("hours null: %v %+v", err, after.OfficeDay)
		}
	})
}

func TestDayDefaultTimezoneAndLocalLabels(t *testing.T) {
	eachStore(t, func(t *testing.T, h *harness) {
		h.svc.tz = "Asia/Manila" // the server's DEFAULT_TIMEZONE
		inst := h.institution(Fields{})
		if inst.Timezone != "Asia/Manila" {
			t.Fatalf("timezone %q, want the server default", inst.Timezone)
		}
		// 2026-11-23 15:59 UTC is 23:59 in Manila; 16:00 UTC is the next local day.
		h.setClock(time.Date(2026, 11, 23, 15, 59, 0, 0, time.UTC))
		a := h.join(inst.ID, JoinRequest{})
		b := h.join(inst.ID, JoinRequest{})
		h.setClock(time.Date(2026, 11, 23, 16, 0, 0, 0, time.UTC))
		c := h.join(inst.ID, JoinRequest{})
		if a.Label != "A-001" || b.Label != "A-002" || c.Label != "A-001" || c.Number != 3 {
			t.Fatalf("labels %s %s %s (number %d): want A-001 A-002, then A-001 on the new local day", a.Label, b.Label, c.Label, c.Number)
		}
	})
}

func TestDayJobOpensClosesAndHonoursOverrides(t *testing.T) {
	eachStore(t, func(t *testing.T, h *harness) {
		// Monday 2026-11-23 in Manila (UTC+8): 09-12 and 13-17.
		local := func(hh, mm, ss int) time.Time {
			return time.Date(2026, 11, 23, hh-8, mm, ss, 0, time.UTC)
		}
		inst := h.dayInst("Asia/Manila", weekHours([]string{"09:00", "12:00"}, []string{"13:00", "17:00"}), nil)
		id := inst.ID

		h.statusAt(id, local(8, 30, 0), false, StatusClosed, "before opening")
		_, err := h.svc.Join(h.ctx, id, JoinRequest{}, Meta{Actor: ActorCitizen})
		wantCode(t, err, CodeInstitutionClosed)

		if rep := h.statusAt(id, local(9, 0, 1), false, StatusOpen, "at opening"); rep.StatusSet != 1 {
			t.Fatalf("at 09:00:01: %+v", rep)
		}
		v := h.inst(id).Version
		// The same moment again, and a moment later: nothing to do.
		if rep := h.runDay(); rep.StatusSet != 0 || h.inst(id).Version != v {
			t.Fatalf("second run at the same moment changed something: %+v", rep)
		}
		h.clock.Advance(5 * time.Second)
		if rep := h.runDay(); rep.Evaluated != 0 {
			t.Fatalf("no boundary passed, yet the institution was locked: %+v", rep)
		}
		// The automatic change is audited with actor system.
		evs, _, err := h.svc.Events(h.ctx, id, 0, 100)
		if err != nil {
			t.Fatal(err)
		}
		last := evs[len(evs)-1]
		if last.Kind != AuditUpdated || last.Actor != ActorSystem || !strings.Contains(string(last.Data), `"to":"open"`) {
			t.Fatalf("last event %+v %s", last, last.Data)
		}

		// Staff pause at 10:00: it holds until the next boundary (12:00).
		h.setClock(local(10, 0, 0))
		h.setStatus(id, StatusPaused)
		h.statusAt(id, local(11, 59, 59), true, StatusPaused, "the staff pause holds until the next boundary")
		h.statusAt(id, local(12, 0, 0), false, StatusClosed, "lunch")
		h.statusAt(id, local(13, 0, 2), false, StatusOpen, "after lunch")
		// Staff open by hand after hours: it holds, and joins are taken.
		h.statusAt(id, local(17, 30, 0), false, StatusClosed, "after hours")
		h.setStatus(id, StatusOpen)
		h.statusAt(id, local(18, 0, 0), true, StatusOpen, "staff opening after hours holds")
		h.join(id, JoinRequest{})
		// Until the next boundary: Tuesday 09:00 opens, as the schedule says.
		h.statusAt(id, local(9+24, 0, 1), false, StatusOpen, "tuesday's opening")
		h.statusAt(id, local(12+24, 0, 1), false, StatusClosed, "tuesday's lunch")
	})
}

func TestDayJoinCutoffAndClosedDates(t *testing.T) {
	eachStore(t, func(t *testing.T, h *harness) {
		inst := h.dayInst("UTC", weekHours([]string{"09:00", "17:00"}), func(p *DayPatch) {
			p.JoinCutoffMinutes = ptr(30)
			p.ClosedDates = &[]string{"2026-11-24"}
		})
		h.setClock(time.Date(2026, 11, 23, 16, 29, 0, 0, time.UTC))
		h.runDay()
		h.join(inst.ID, JoinRequest{})
		h.setClock(time.Date(2026, 11, 23, 16, 30, 0, 0, time.UTC))
		_, err := h.svc.Join(h.ctx, inst.ID, JoinRequest{}, Meta{Actor: ActorCitizen})
		wantCode(t, err, CodeInstitutionClosed)
		// The closed date: no opening on Tuesday; Wednesday opens.
		h.statusAt(inst.ID, time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC), false, StatusClosed, "a closed date")
		h.statusAt(inst.ID, time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC), false, StatusOpen, "wednesday")
	})
}

func TestDayCloseExpiresWaitingTickets(t *testing.T) {
	eachStore(t, func(t *testing.T, h *harness) {
		inst := h.dayInst("UTC", weekHours([]string{"09:00", "17:00"}), nil)
		id := inst.ID
		h.setClock(time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC))
		h.runDay()
		tks := []Ticket{h.join(id, JoinRequest{}), h.join(id, JoinRequest{}), h.join(id, JoinRequest{})}
		h.setClock(time.Date(2026, 11, 23, 16, 58, 0, 0, time.UTC))
		h.advance(id, 1, "1") // the first is serving: the grace period decides it
		h.setClock(time.Date(2026, 11, 23, 16, 59, 59, 0, time.UTC))
		if rep := h.runDay(); rep.DaysClosed != 0 {
			t.Fatalf("closed the day early: %+v", rep)
		}
		h.setClock(time.Date(2026, 11, 23, 17, 0, 1, 0, time.UTC))
		rep := h.runDay()
		if rep.DaysClosed != 1 || rep.Expired != 2 || h.inst(id).Status != StatusClosed || h.inst(id).WaitingCount != 0 {
			t.Fatalf("close of day: %+v, %+v", rep, h.inst(id))
		}
		if s := h.ticket(tks[0].ID).Status; s != TicketServing {
			t.Fatalf("the serving ticket became %s", s)
		}
		for _, tk := range tks[1:] {
			got := h.ticket(tk.ID)
			evs := h.events(tk.ID)
			if got.Status != TicketExpired || evs[len(evs)-1] != NotifyExpired {
				t.Fatalf("ticket %s: %s, notifications %v", tk.Label, got.Status, evs)
			}
		}
		if n := h.auditCount(id, AuditExpired, `"reason":"office_closed"`); n != 2 {
			t.Fatalf("%d expiries with reason office_closed, want 2", n)
		}
		// Idempotent by date: later runs close nothing more.
		h.clock.Advance(time.Hour)
		if rep := h.runDay(); rep.DaysClosed != 0 {
			t.Fatalf("closed the day twice: %+v", rep)
		}
	})
}

func TestDayCloseCarriesOver(t *testing.T) {
	eachStore(t, func(t *testing.T, h *harness) {
		inst := h.dayInst("UTC", weekHours([]string{"09:00", "17:00"}), func(p *DayPatch) { p.AtClose = ptr(AtCloseCarry) })
		id := inst.ID
		h.setClock(time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC))
		h.runDay()
		carried := []Ticket{h.join(id, JoinRequest{}), h.join(id, JoinRequest{}), h.join(id, JoinRequest{})}
		h.setClock(time.Date(2026, 11, 23, 17, 0, 0, 0, time.UTC))
		if rep := h.runDay(); rep.DaysClosed != 1 || rep.CarriedOver != 3 || rep.Expired != 0 {
			t.Fatalf("close of day: %+v", rep)
		}
		h.setClock(time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC))
		h.runDay()
		next := h.join(id, JoinRequest{Threshold: 1})
		if next.Label != "A-001" || next.PeopleAhead != 3 {
			t.Fatalf("tomorrow's first join: %s with %d ahead, want A-001 behind the 3 carried over", next.Label, next.PeopleAhead)
		}
		for i, tk := range carried {
			if got := h.ticket(tk.ID); !got.Status.Waiting() || got.PeopleAhead != int64(i) {
				t.Fatalf("carried ticket %d: %s, %d ahead", i, got.Status, got.PeopleAhead)
			}
		}
		res := h.advance(id, 3, "1")
		for i, c := range res.Called {
			if c.ID != carried[i].ID {
				t.Fatalf("call %d was %s, want the carried-over tickets first, in order", i, c.Label)
			}
		}
	})
}

func TestDayJobOnDaylightSavingDay(t *testing.T) {
	eachStore(t, func(t *testing.T, h *harness) {
		// New York springs forward on Sunday 2026-03-08: 08:00 is 12:00 UTC
		// that day (EDT), 13:00 UTC the Sunday before (EST).
		inst := h.dayInst("America/New_York", map[string][][]string{"sun": {{"08:00", "17:00"}}}, nil)
		h.statusAt(inst.ID, time.Date(2026, 3, 8, 11, 59, 58, 0, time.UTC), false, StatusClosed, "07:59:58 EDT")
		h.statusAt(inst.ID, time.Date(2026, 3, 8, 12, 0, 1, 0, time.UTC), false, StatusOpen, "08:00:01 EDT")
		h.join(inst.ID, JoinRequest{})
		if rep := h.statusAt(inst.ID, time.Date(2026, 3, 8, 20, 59, 59, 0, time.UTC), false, StatusOpen, "16:59:59 EDT"); rep.DaysClosed != 0 {
			t.Fatalf("16:59:59 EDT: %+v", rep)
		}
		if rep := h.statusAt(inst.ID, time.Date(2026, 3, 8, 21, 0, 0, 0, time.UTC), false, StatusClosed, "17:00 EDT"); rep.DaysClosed != 1 || rep.Expired != 1 {
			t.Fatalf("17:00 EDT: %+v", rep)
		}
	})
}

// otherInstance is a second service over the same data, as another
// server instance would have (a second pool on the same schema).
func (h *harness) otherInstance(t *testing.T) *Service {
	if pg, ok := h.svc.store.(*PostgresStore); ok {
		return NewService(newTestPostgresStoreOn(t, pg), Config{Now: h.clock.Now})
	}
	return NewService(h.svc.store, Config{Now: h.clock.Now})
}

// onTwoInstances runs fn(i, svc) for every i < n at once, svc this
// instance for even i and another over the same data for odd i.
func (h *harness) onTwoInstances(t *testing.T, n int, fn func(i int, svc *Service)) {
	other := h.otherInstance(t)
	var wg sync.WaitGroup
	for i := range n {
		svc := h.svc
		if i%2 == 1 {
			svc = other
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			fn(i, svc)
		}()
	}
	wg.Wait()
}

// TestDayJobRunsOnceAtOnce: evaluators on two instances at the same
// moment close the day once.
func TestDayJobRunsOnceAtOnce(t *testing.T) {
	eachStore(t, func(t *testing.T, h *harness) {
		inst := h.dayInst("UTC", weekHours([]string{"09:00", "17:00"}), nil)
		h.setClock(time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC))
		h.runDay()
		for range 20 {
			h.join(inst.ID, JoinRequest{})
		}
		at := time.Date(2026, 11, 23, 17, 0, 2, 0, time.UTC)
		reps := make([]DayReport, 4)
		errs := make([]error, 4)
		h.onTwoInstances(t, len(reps), func(i int, svc *Service) { reps[i], errs[i] = svc.RunDay(h.ctx, at) })
		var sum DayReport
		for i := range reps {
			if errs[i] != nil {
				t.Fatal(errs[i])
			}
			sum.add(reps[i])
		}
		if sum.DaysClosed != 1 || sum.Expired != 20 || sum.StatusSet != 1 {
			t.Fatalf("four evaluators at once: %+v, want one close of day of 20 tickets and one status change", sum)
		}
	})
}

// ownDrawOrder recomputes a draw from its published data alone (refOrder
// in draw_test.go is the test's own Fisher-Yates over its own HMAC).
func ownDrawOrder(t *testing.T, d Draw) []string {
	t.Helper()
	if d.Seed == nil {
		t.Fatal("no seed published after the draw")
	}
	seed, err := hex.DecodeString(*d.Seed)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(seed)
	if hex.EncodeToString(sum[:]) != d.Commitment {
		t.Fatalf("sha256(seed) %x is not the commitment %s", sum, d.Commitment)
	}
	order, err := refOrder(*d.Seed, d.Held)
	if err != nil {
		t.Fatal(err)
	}
	return order
}

func digest(id string) string {
	sum := sha256.Sum256([]byte(id))
	return hex.EncodeToString(sum[:])
}

func TestDayFairOpening(t *testing.T) {
	eachStore(t, func(t *testing.T, h *harness) {
		inst := h.dayInst("UTC", weekHours([]string{"09:00", "17:00"}), func(p *DayPatch) {
			p.PrequeueMinutes, p.AtClose = ptr(30), ptr(AtCloseCarry)
		})
		id := inst.ID
		// Yesterday's carried-over ticket comes before every drawn one.
		h.setClock(time.Date(2026, 11, 22, 16, 0, 0, 0, time.UTC))
		h.runDay()
		carried := h.join(id, JoinRequest{})
		h.setClock(time.Date(2026, 11, 22, 17, 0, 0, 0, time.UTC))
		h.runDay()

		h.setClock(time.Date(2026, 11, 23, 8, 29, 59, 0, time.UTC))
		h.runDay()
		_, err := h.svc.Join(h.ctx, id, JoinRequest{}, Meta{Actor: ActorCitizen})
		wantCode(t, err, CodeInstitutionClosed)
		_, err = h.svc.Draws(h.ctx, id, "2026-11-23")
		wantCode(t, err, CodeNotFound)
		h.setClock(time.Date(2026, 11, 23, 8, 30, 0, 0, time.UTC))
		if rep := h.runDay(); rep.Committed != 1 {
			t.Fatalf("window opening: %+v", rep)
		}
		before, err := h.svc.Draws(h.ctx, id, "2026-11-23")
		if err != nil || before["A"].Commitment == "" || before["A"].Seed != nil || len(before["A"].Held) != 0 {
			t.Fatalf("before the draw: %v %+v", err, before)
		}
		var held []Ticket
		for i := range 7 {
			h.clock.Advance(time.Second)
			phone := "0917000000" + string(rune('0'+i))
			tk := h.join(id, JoinRequest{Phone: &phone})
			if tk.Status != TicketHeld || tk.Number != 0 || tk.PeopleAhead != 0 || tk.Position != nil {
				t.Fatalf("pre-queue join: %+v", tk)
			}
			body, _ := json.Marshal(tk)
			for _, f := range []string{`"number":null`, `"label":null`, `"position":null`, `"status":"held"`, `"people_ahead":0`} {
				if !strings.Contains(string(body), f) {
					t.Fatalf("held ticket JSON lacks %s: %s", f, body)
				}
			}
			held = append(held, tk)
		}
		// The same phone cannot hold two tickets.
		dup := "09170000000"
		_, err = h.svc.Join(h.ctx, id, JoinRequest{Phone: &dup}, Meta{Actor: ActorCitizen})
		wantCode(t, err, CodeDuplicateTicket)
		if h.inst(id).LastIssued != 1 {
			t.Fatalf("held tickets took numbers: last_issued %d", h.inst(id).LastIssued)
		}
		// A held ticket cancelled leaves the draw; the others are listed
		// before the draw, so a citizen finds their entry.
		gone := h.join(id, JoinRequest{})
		if _, err := h.svc.Cancel(h.ctx, gone.ID, Meta{Actor: ActorCitizen}); err != nil {
			t.Fatal(err)
		}
		listed := []string{}
		for _, tk := range held {
			listed = append(listed, digest(tk.ID))
		}
		slices.Sort(listed)
		if pending, _ := h.svc.Draws(h.ctx, id, "2026-11-23"); !slices.Equal(pending["A"].Held, listed) || pending["A"].Seed != nil || len(pending["A"].Order) != 0 {
			t.Fatalf("the draw before the opening: %+v, want the 7 held digests, no seed, no order", pending["A"])
		}

		// The opening: the job draws.
		var events []Event
		var mu sync.Mutex
		h.svc.OnEvent(func(ev Event) { mu.Lock(); events = append(events, ev); mu.Unlock() })
		h.setClock(time.Date(2026, 11, 23, 9, 0, 1, 0, time.UTC))
		if rep := h.runDay(); rep.Drawn != 7 {
			t.Fatalf("opening: %+v", rep)
		}
		after, err := h.svc.Draws(h.ctx, id, "2026-11-23")
		if err != nil {
			t.Fatal(err)
		}
		d := after["A"]
		if d.Commitment != before["A"].Commitment {
			t.Fatal("the commitment changed at the draw")
		}
		wantHeld := []string{}
		for _, tk := range held {
			wantHeld = append(wantHeld, digest(tk.ID))
		}
		slices.Sort(wantHeld)
		if !slices.Equal(d.Held, wantHeld) {
			t.Fatalf("published held %v, want the sorted digests of the held tickets", d.Held)
		}
		order := ownDrawOrder(t, d)
		if !slices.Equal(order, d.Order) {
			t.Fatalf("published order %v, recomputed %v", d.Order, order)
		}
		// Numbers and labels follow the drawn order, gap-free after the
		// carried-over ticket; each drawn ticket was told.
		byDigest := map[string]Ticket{}
		for _, tk := range held {
			byDigest[digest(tk.ID)] = h.ticket(tk.ID)
		}
		for k, dg := range order {
			tk := byDigest[dg]
			if tk.Number != int64(k+2) || tk.Label != FormatLabel("A", int64(k+1)) || !tk.Status.Waiting() || tk.PeopleAhead != int64(k+1) {
				t.Fatalf("drawn %d: number %d label %s status %s ahead %d", k, tk.Number, tk.Label, tk.Status, tk.PeopleAhead)
			}
			if evs := h.events(tk.ID); evs[0] != NotifyDrawn {
				t.Fatalf("drawn ticket notifications %v", evs)
			}
		}
		mu.Lock()
		if len(events) != 1 || len(events[0].Transitions) < 7 || len(events[0].Notifications) < 7 {
			t.Fatalf("the draw's live event: %d events", len(events))
		}
		mu.Unlock()
		if got := h.ticket(carried.ID); got.PeopleAhead != 0 {
			t.Fatalf("the carried-over ticket has %d ahead", got.PeopleAhead)
		}
		// A join after the opening comes after every drawn ticket.
		late := h.join(id, JoinRequest{})
		if late.Number != 9 || late.PeopleAhead != 8 || late.Label != "A-008" {
			t.Fatalf("join after the draw: number %d, %d ahead, %s", late.Number, late.PeopleAhead, late.Label)
		}
		// Calls follow the order.
		res := h.advance(id, 3, "1")
		if res.Called[0].ID != carried.ID || res.Called[1].ID != byDigest[order[0]].ID || res.Called[2].ID != byDigest[order[1]].ID {
			t.Fatal("calls do not follow carried-over, then drawn order")
		}
		if res.Called[1].Moved != ReasonDrawn {
			t.Fatalf("drawn ticket's reason %q", res.Called[1].Moved)
		}
		if rep := h.runDay(); rep.Drawn != 0 {
			t.Fatalf("drew again: %+v", rep)
		}
	})
}

// TestDayDrawBeforeFirstJoinAfterOpening: staff who open by hand at the
// opening, before the job runs, draw first (drawOnHandOpening; a join
// taking the lock first would draw too, joinDay); the join comes after.
func TestDayDrawBeforeFirstJoinAfterOpening(t *testing.T) {
	eachStore(t, func(t *testing.T, h *harness) {
		inst := h.dayInst("UTC", weekHours([]string{"09:00", "17:00"}), func(p *DayPatch) { p.PrequeueMinutes = ptr(10) })
		h.setClock(time.Date(2026, 11, 23, 8, 55, 0, 0, time.UTC))
		var held []Ticket
		for range 3 {
			held = append(held, h.join(inst.ID, JoinRequest{})) // the join publishes the commitment itself
		}
		h.setClock(time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC))
		// Staff open by hand at the opening before the job runs.
		h.setStatus(inst.ID, StatusOpen)
		late := h.join(inst.ID, JoinRequest{})
		if late.Number != 4 || late.PeopleAhead != 3 {
			t.Fatalf("first join after the opening: number %d, %d ahead", late.Number, late.PeopleAhead)
		}
		nums := []int64{}
		for _, tk := range held {
			nums = append(nums, h.ticket(tk.ID).Number)
		}
		slices.Sort(nums)
		if !slices.Equal(nums, []int64{1, 2, 3}) {
			t.Fatalf("drawn numbers %v", nums)
		}
	})
}

// TestDayDrawOnceAcrossInstances: evaluators and joins on two instances
// at the opening draw once: gap-free numbers, one published order.
func TestDayDrawOnceAcrossInstances(t *testing.T) {
	eachStore(t, func(t *testing.T, h *harness) {
		inst := h.dayInst("UTC", weekHours([]string{"09:00", "17:00"}), func(p *DayPatch) { p.PrequeueMinutes = ptr(30) })
		h.setClock(time.Date(2026, 11, 23, 8, 40, 0, 0, time.UTC))
		h.runDay()
		for range 30 {
			h.join(inst.ID, JoinRequest{})
		}
		at := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
		h.setClock(at)
		h.onTwoInstances(t, 6, func(i int, svc *Service) {
			if i < 2 {
				if _, err := svc.RunDay(h.ctx, at); err != nil {
					t.Error(err)
				}
				return
			}
			if _, err := svc.Join(h.ctx, inst.ID, JoinRequest{}, Meta{Actor: ActorCitizen}); err != nil {
				wantCode(t, err, CodeInstitutionClosed) // before the job opened it
			}
		})
		got := h.inst(inst.ID)
		tickets, _, err := h.svc.StaffTickets(h.ctx, inst.ID, []TicketStatus{TicketWaiting, TicketNotified}, 0, 500)
		if err != nil {
			t.Fatal(err)
		}
		if int64(len(tickets)) != got.LastIssued || got.LastIssued < 30 {
			t.Fatalf("%d waiting, last issued %d", len(tickets), got.LastIssued)
		}
		for i, tk := range tickets {
			if tk.Number != int64(i+1) {
				t.Fatalf("numbers not gap-free: position %d has %d", i, tk.Number)
			}
		}
		d, err := h.svc.Draws(h.ctx, inst.ID, "2026-11-23")
		if err != nil || len(d["A"].Order) != 30 {
			t.Fatalf("draw: %v, %d drawn", err, len(d["A"].Order))
		}
		if order := ownDrawOrder(t, d["A"]); !slices.Equal(order, d["A"].Order) {
			t.Fatal("published order does not recompute")
		}
		if draws := h.auditCount(inst.ID, AuditDraw, ""); draws != 1 {
			t.Fatalf("%d draws recorded, want 1", draws)
		}
	})
}

// TestDayRealClock: the day job with the real clock and second-precision
// hours: open two seconds from now for three seconds; the close of the
// day then expires what still waits.
func TestDayRealClock(t *testing.T) {
	t.Parallel()
	svc := NewService(NewMemoryStore(), Config{})
	ctx := t.Context()
	now := time.Now().UTC()
	if end := now.Add(9 * time.Second); end.Day() != now.Day() {
		time.Sleep(time.Until(end)) // the period must not cross midnight
		now = time.Now().UTC()
	}
	midnight := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	clock := func(t time.Time) string { return time.Time{}.Add(t.Sub(midnight)).Format("15:04:05") }
	open, closing := now.Add(2*time.Second).Truncate(time.Second), now.Add(5*time.Second).Truncate(time.Second)
	tz := "UTC"
	hours := map[string][][]string{DayKeys[now.Weekday()]: {{clock(open), clock(closing)}}}
	inst, err := svc.CreateInstitution(ctx, Fields{Name: "Seconds", Kind: "other", Settings: SettingsPatch{Day: DayPatch{Timezone: &tz, SetHours: true, Hours: hours}}}, Meta{})
	if err != nil {
		t.Fatal(err)
	}
	var seen []Status
	var tk Ticket
	deadline := closing.Add(3 * time.Second)
	for time.Now().Before(deadline) {
		if _, err := svc.RunDay(ctx, time.Now()); err != nil {
			t.Fatal(err)
		}
		got, _ := svc.Institution(ctx, inst.ID)
		if len(seen) == 0 || seen[len(seen)-1] != got.Status {
			seen = append(seen, got.Status)
			if got.Status == StatusOpen {
				res, err := svc.Join(ctx, inst.ID, JoinRequest{}, Meta{Actor: ActorCitizen})
				if err != nil {
					t.Fatal(err)
				}
				tk = res.Ticket
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	if !slices.Equal(seen, []Status{StatusClosed, StatusOpen, StatusClosed}) {
		t.Fatalf("statuses %v, want closed, open, closed", seen)
	}
	got, err := svc.Ticket(ctx, tk.ID)
	if err != nil || got.Status != TicketExpired {
		t.Fatalf("ticket after the close of day: %v %s", err, got.Status)
	}
}

// TestDayHeldJoinsCountTowardQuota: a service's daily quota counts the
// tickets held for the draw, so the draw never issues more than the quota;
// after the draw the quota is still full.
func TestDayHeldJoinsCountTowardQuota(t *testing.T) {
	eachStore(t, func(t *testing.T, h *harness) {
		inst := h.dayInst("UTC", weekHours([]string{"09:00", "17:00"}), func(p *DayPatch) { p.PrequeueMinutes = ptr(10) })
		quota := int64(2)
		if _, err := h.svc.UpdateService(h.ctx, inst.ID, "A", LinePatch{SetQuota: true, DailyQuota: &quota}, Meta{Actor: "token:admin"}); err != nil {
			t.Fatal(err)
		}
		h.setClock(time.Date(2026, 11, 23, 8, 55, 0, 0, time.UTC))
		for range 2 {
			if tk := h.join(inst.ID, JoinRequest{}); tk.Status != TicketHeld {
				t.Fatalf("join in the pre-queue window: %s, want held", tk.Status)
			}
		}
		_, err := h.svc.Join(h.ctx, inst.ID, JoinRequest{}, Meta{Actor: ActorCitizen})
		wantCode(t, err, CodeQueueFull) // the third held join, with a quota of 2
		h.setClock(time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC))
		h.runDay() // opens and draws the two held tickets
		_, err = h.svc.Join(h.ctx, inst.ID, JoinRequest{}, Meta{Actor: ActorCitizen})
		wantCode(t, err, CodeQueueFull) // after the draw issued the quota
	})
}

// TestDayStaffOpenDuringPrequeueDrawsFirst: staff who open the office by
// hand during the pre-queue window open it: the held tickets are drawn
// then, in drawn order, and every later join comes after them. Closed
// again before the opening, the office holds no more tickets (their draw
// is made) and the opening draws nothing twice.
func TestDayStaffOpenDuringPrequeueDrawsFirst(t *testing.T) {
	eachStore(t, func(t *testing.T, h *harness) {
		inst := h.dayInst("UTC", weekHours([]string{"09:00", "17:00"}), func(p *DayPatch) { p.PrequeueMinutes = ptr(30) })
		id := inst.ID
		h.setClock(time.Date(2026, 11, 23, 8, 40, 0, 0, time.UTC))
		h.runDay()
		byDigest := map[string]string{}
		for range 5 {
			h.clock.Advance(time.Second)
			tk := h.join(id, JoinRequest{})
			if tk.Status != TicketHeld {
				t.Fatalf("pre-queue join: %s, want held", tk.Status)
			}
			byDigest[digest(tk.ID)] = tk.ID
		}

		var events []Event
		var mu sync.Mutex
		h.svc.OnEvent(func(ev Event) { mu.Lock(); events = append(events, ev); mu.Unlock() })
		h.setClock(time.Date(2026, 11, 23, 8, 45, 0, 0, time.UTC))
		if opened := h.setStatus(id, StatusOpen); opened.LastIssued != 5 || opened.WaitingCount != 5 {
			t.Fatalf("opened by hand: last issued %d, %d waiting; want the 5 held tickets drawn", opened.LastIssued, opened.WaitingCount)
		}
		d, err := h.svc.Draws(h.ctx, id, "2026-11-23")
		if err != nil {
			t.Fatal(err)
		}
		order := ownDrawOrder(t, d["A"])
		if !slices.Equal(order, d["A"].Order) || len(order) != 5 {
			t.Fatalf("published order %v, recomputed %v", d["A"].Order, order)
		}
		drawn := []string{}
		for k, dg := range order {
			tk := h.ticket(byDigest[dg])
			if tk.Number != int64(k+1) || tk.Label != FormatLabel("A", int64(k+1)) || !tk.Status.Waiting() || tk.PeopleAhead != int64(k) {
				t.Fatalf("drawn %d: number %d label %s status %s ahead %d", k, tk.Number, tk.Label, tk.Status, tk.PeopleAhead)
			}
			if evs := h.events(tk.ID); len(evs) == 0 || evs[0] != NotifyDrawn {
				t.Fatalf("drawn ticket notifications %v", evs)
			}
			drawn = append(drawn, tk.ID)
		}
		// Live clients hear the opening and the draw as one change.
		mu.Lock()
		if len(events) != 1 || len(events[0].Transitions) < 5 || len(events[0].Notifications) < 5 || events[0].Institution.Status != StatusOpen {
			t.Fatalf("the opening by hand's live events: %d, want one with the 5 drawn tickets", len(events))
		}
		mu.Unlock()

		// Joins while open by hand come after every drawn ticket.
		h.clock.Advance(time.Minute)
		late := h.join(id, JoinRequest{})
		if late.Number != 6 || late.Label != "A-006" || late.PeopleAhead != 5 {
			t.Fatalf("join after the opening by hand: number %d, %s, %d ahead; want 6, A-006, 5 ahead", late.Number, late.Label, late.PeopleAhead)
		}
		// Closed again before the opening: no held ticket that no draw would take.
		h.clock.Advance(time.Minute)
		h.setStatus(id, StatusClosed)
		_, err = h.svc.Join(h.ctx, id, JoinRequest{}, Meta{Actor: ActorCitizen})
		wantCode(t, err, CodeInstitutionClosed)

		if rep := h.statusAt(id, time.Date(2026, 11, 23, 9, 0, 1, 0, time.UTC), false, StatusOpen, "the opening after a draw by hand"); rep.Drawn != 0 {
			t.Fatalf("the opening drew again after the draw by hand: %+v", rep)
		}
		res := h.advance(id, 6, "1")
		want := append(drawn, late.ID)
		for i, c := range res.Called {
			if c.ID != want[i] {
				t.Fatalf("call %d was %s, want the drawn tickets in drawn order, then the later join", i, c.Label)
			}
		}
		if draws := h.auditCount(id, AuditDraw, ""); draws != 1 {
			t.Fatalf("%d draws recorded, want 1", draws)
		}
	})
}
