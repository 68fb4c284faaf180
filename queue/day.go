package queue

// The office day's settings on the institution (API.md v1.1, "The office
// day"): timezone, hours, closed_dates, join_cutoff_minutes, at_close and
// prequeue_minutes. They are fields of the Institution object, stored in
// its settings with the missed-turn settings, validated by NewCalendar
// (hours.go). Institution.Calendar is the one way from an institution to
// its *Calendar: every rule about its time asks it.

import (
	"encoding/json"
	"slices"
	"sync"
	"time"
)

// At-close modes.
const (
	AtCloseExpire      = "expire"
	AtCloseCarry       = "carry_over"
	ReasonOfficeClosed = "office_closed"
)

// OfficeDay are the office-day settings as the Institution object shows
// them. An institution stored before they existed reads back with an
// empty Timezone (UTC, as v1's days were) and no hours.
type OfficeDay struct {
	DaySettings
	// AtClose is what the close of the day does with the tickets still
	// waiting: expire (reason office_closed) or carry_over.
	AtClose string `json:"at_close"`
}

// defaultOfficeDay is the office day of an institution created without
// any setting: no schedule, in the server's default time zone.
func defaultOfficeDay(tz string) OfficeDay {
	if tz == "" {
		tz = "UTC"
	}
	return OfficeDay{DaySettings: DaySettings{Timezone: tz, ClosedDates: []string{}}, AtClose: AtCloseExpire}
}

// DayPatch changes some office-day settings; nil fields stay. SetHours
// with nil Hours removes the schedule.
type DayPatch struct {
	Timezone          *string
	SetHours          bool
	Hours             map[string][][]string
	ClosedDates       *[]string
	JoinCutoffMinutes *int
	AtClose           *string
	PrequeueMinutes   *int
}

func (p DayPatch) empty() bool {
	return p.Timezone == nil && !p.SetHours && p.ClosedDates == nil && p.JoinCutoffMinutes == nil &&
		p.AtClose == nil && p.PrequeueMinutes == nil
}

// Validate checks each setting the patch sets; the error names the field.
// Each setting is valid or not on its own, so the others take their
// defaults here.
func (p DayPatch) Validate() error {
	s := p.onto(OfficeDay{DaySettings: DaySettings{Timezone: "UTC"}})
	if _, err := NewCalendar(s.DaySettings, nil); err != nil {
		return err
	}
	if p.AtClose != nil && *p.AtClose != AtCloseExpire && *p.AtClose != AtCloseCarry {
		return Errorf(CodeInvalid, "at_close must be expire or carry_over")
	}
	return nil
}

// onto is d with the settings the patch sets, as given.
func (p DayPatch) onto(d OfficeDay) OfficeDay {
	if p.Timezone != nil {
		d.Timezone = *p.Timezone
	}
	if p.SetHours {
		d.Hours = p.Hours
	}
	if p.ClosedDates != nil {
		d.ClosedDates = *p.ClosedDates
	}
	if p.JoinCutoffMinutes != nil {
		d.JoinCutoffMinutes = *p.JoinCutoffMinutes
	}
	if p.PrequeueMinutes != nil {
		d.PrequeueMinutes = *p.PrequeueMinutes
	}
	if p.AtClose != nil {
		d.AtClose = *p.AtClose
	}
	return d
}

// apply sets the patched settings on d in canonical form (NewCalendar's
// Settings) and records what changed.
func (p DayPatch) apply(d *OfficeDay, changed map[string]any) {
	next := p.onto(*d)
	if cal, err := NewCalendar(next.DaySettings, time.UTC); err == nil {
		next.DaySettings = cal.Settings()
	}
	for _, f := range []struct {
		name     string
		from, to any
	}{
		{"timezone", d.Timezone, next.Timezone},
		{"hours", d.Hours, next.Hours},
		{"closed_dates", d.ClosedDates, next.ClosedDates},
		{"join_cutoff_minutes", d.JoinCutoffMinutes, next.JoinCutoffMinutes},
		{"at_close", d.AtClose, next.AtClose},
		{"prequeue_minutes", d.PrequeueMinutes, next.PrequeueMinutes},
	} {
		a, _ := json.Marshal(f.from)
		b, _ := json.Marshal(f.to)
		if string(a) != string(b) {
			changed[f.name] = map[string]any{"from": f.from, "to": f.to}
		}
	}
	*d = next
}

// dayChanged reports whether a patch's changes touch the schedule.
func dayChanged(changed map[string]any) bool {
	for _, k := range []string{"timezone", "hours", "closed_dates", "join_cutoff_minutes", "prequeue_minutes"} {
		if _, ok := changed[k]; ok {
			return true
		}
	}
	return false
}

// zones caches loaded time zones: loading one reads the embedded tz
// database, too slow for every join.
var zones sync.Map // name -> *time.Location

func zone(name string) *time.Location {
	if name == "" {
		return time.UTC
	}
	if loc, ok := zones.Load(name); ok {
		return loc.(*time.Location)
	}
	loc, err := LoadTimezone(name)
	if err != nil {
		return time.UTC // settings are validated before they are stored
	}
	zones.Store(name, loc)
	return loc
}

// Location is the institution's time zone: the place to ask for it (slips,
// stats by local hour, the fairness log's dates).
func (inst *Institution) Location() *time.Location { return zone(inst.Timezone) }

// Calendar is the institution's *Calendar (hours.go): the one way from an
// institution to what its time settings mean at any instant. Settings are
// validated before they are stored; should a stored one not parse, the
// calendar has the institution's zone and no schedule (v1's behaviour).
func (inst *Institution) Calendar() *Calendar {
	s := inst.DaySettings
	s.Timezone = inst.Location().String()
	cal, err := NewCalendar(s, time.UTC)
	if err != nil {
		return &Calendar{loc: inst.Location(), closed: map[Date]bool{}}
	}
	return cal
}

// localCalendar is the calendar that knows only the institution's zone:
// enough for LocalDate, without parsing the hours on every join.
func (inst *Institution) localCalendar() *Calendar {
	return &Calendar{loc: inst.Location()}
}

// DayState is what the day job keeps for an institution: stored with it,
// never shown as it is (GET .../draws/{date} shows the draws' public part).
type DayState struct {
	// Checked is the last instant the day job evaluated the institution's
	// schedule: boundaries in (Checked, now] are the ones still to act on.
	// Nil: not yet evaluated since the schedule was set; the first
	// evaluation sets the status the schedule says and closes no day.
	Checked *time.Time `json:"checked,omitempty"`
	// Override is when staff last set the status by hand: it holds until
	// the first boundary after it.
	Override *time.Time `json:"override,omitempty"`
	// Draws are the fair-opening draws by local date and service code.
	Draws map[string]map[string]DrawRecord `json:"draws,omitempty"`
}

// DrawRecord is one service's draw of one day: the secret seed (hex) and
// what is published. Drawn is set once the tickets have their numbers.
type DrawRecord struct {
	Seed  string `json:"seed"`
	Draw  Draw   `json:"draw"`
	Drawn bool   `json:"drawn"`
}

// drawsKept is how many days of draws an institution keeps.
const drawsKept = 31

// clone copies d deeply enough to change it.
func (d DayState) clone() DayState {
	out := DayState{Checked: d.Checked, Override: d.Override}
	if d.Draws != nil {
		out.Draws = make(map[string]map[string]DrawRecord, len(d.Draws))
		for date, m := range d.Draws {
			out.Draws[date] = make(map[string]DrawRecord, len(m))
			for k, v := range m {
				out.Draws[date][k] = v
			}
		}
	}
	return out
}

// prune drops draws older than drawsKept days before today.
func (d *DayState) prune(today Date) {
	limit := today.AddDays(-drawsKept).String()
	for date := range d.Draws {
		if date < limit {
			delete(d.Draws, date)
		}
	}
}

// PublicDraws is what GET .../draws/{date} shows: the date's draws by
// service code, without the seeds not yet revealed. ok is false before the
// date's pre-queue window opened (no commitment yet).
func (inst *Institution) PublicDraws(date string) (map[string]Draw, bool) {
	m, ok := inst.Day.Draws[date]
	if !ok || len(m) == 0 {
		return nil, false
	}
	out := make(map[string]Draw, len(m))
	codes := make([]string, 0, len(m))
	for code := range m {
		codes = append(codes, code)
	}
	slices.Sort(codes)
	for _, code := range codes {
		d := m[code].Draw
		if !m[code].Drawn {
			d.Seed = nil
		}
		out[code] = d
	}
	return out, true
}

// noteDayChanges tells the day job about a patch: a status set by hand
// holds until the next boundary; a new schedule is evaluated afresh.
func noteDayChanges(inst *Institution, changed map[string]any, now time.Time) {
	if !dayChanged(changed) {
		if _, ok := changed["status"]; ok {
			inst.Day = inst.Day.clone()
			inst.Day.Override = &now
		}
		return
	}
	inst.Day = inst.Day.clone()
	inst.Day.Checked = nil
	if _, ok := changed["status"]; ok {
		inst.Day.Override = &now
	} else {
		inst.Day.Override = nil
	}
}

// heldView is a held ticket as the contract shows it: no number, label or
// position yet, nobody ahead.
type heldView struct {
	ticketJSON
	Number   *int64  `json:"number"`
	Label    *string `json:"label"`
	Position *int64  `json:"position"`
}

type ticketJSON Ticket

// MarshalJSON writes a ticket; a held one has null number, label and
// position (API.md, "Fair opening").
func (t Ticket) MarshalJSON() ([]byte, error) {
	if t.Status != TicketHeld {
		return json.Marshal(ticketJSON(t))
	}
	t.PeopleAhead = 0
	return json.Marshal(heldView{ticketJSON: ticketJSON(t)})
}

type staffHeldView struct {
	heldView
	Phone *string `json:"phone"`
}

type staffTicketJSON struct {
	ticketJSON
	Phone *string `json:"phone"`
}

// MarshalJSON writes a ticket as staff see it, phone included.
func (t StaffTicket) MarshalJSON() ([]byte, error) {
	if t.Status != TicketHeld {
		return json.Marshal(staffTicketJSON{ticketJSON: ticketJSON(t.Ticket), Phone: t.Phone})
	}
	t.PeopleAhead = 0
	return json.Marshal(staffHeldView{heldView: heldView{ticketJSON: ticketJSON(t.Ticket)}, Phone: t.Phone})
}
