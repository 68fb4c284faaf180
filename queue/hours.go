package queue

// Institution time (API.md v1.1, "The office day"): the timezone, the weekly
// hours, closed dates, the join cutoff and the pre-queue window, and the
// questions the rest of the server asks about them.
//
// How the integration uses this file:
//   - The institution's settings (timezone, hours, closed_dates,
//     join_cutoff_minutes, prequeue_minutes) are validated by NewCalendar
//     when created or patched; its *Error names the field, for a 400.
//   - Calendar.LocalDate is THE local day: labels, daily quotas, the draw's
//     date, the fairness log's ?date= and the close of the day all use it.
//   - The day job (one River periodic job, on the leader) asks IsOpen and
//     NextBoundary to open and close institutions at each boundary, and to
//     know until when a staff override holds; PrequeueWindow and
//     FirstOpening tell it when to publish a draw's commitment and when to
//     draw; LastClosing when to expire or carry over the day's tickets.
//   - Join asks Joins(now): open, held (pre-queue), cut off or closed.
//   - Estimates use AddOpenTime to carry a wait across a closed lunch hour.
// Every function takes now; nothing here reads the clock.
//
// Daylight saving. A period's times are wall-clock times of its local date.
// A wall time that does not exist that day (the clocks jump over it) means
// the instant the clocks jump; a wall time that happens twice (the clocks
// go back) means its first occurrence. So a period spanning a switch lasts
// one hour less or more than on other days, a period inside the jumped hour
// does not happen, and an office never closes or opens twice at one wall time.

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // institutions name any IANA zone, whatever the host has installed
)

// Bounds of the office-day settings.
const (
	MaxJoinCutoffMinutes = 240
	MaxPrequeueMinutes   = 120
	MaxPeriodsPerDay     = 12
	MaxClosedDates       = 1000
)

// DayKeys are the keys of the weekly hours, indexed by time.Weekday.
var DayKeys = [7]string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}

// DaySettings are the institution's settings that this file interprets, in
// their JSON form. Hours nil means no schedule (v1: status is only what
// staff set); a day missing from Hours has no opening periods.
type DaySettings struct {
	Timezone          string                `json:"timezone"`
	Hours             map[string][][]string `json:"hours"`
	ClosedDates       []string              `json:"closed_dates"`
	JoinCutoffMinutes int                   `json:"join_cutoff_minutes"`
	PrequeueMinutes   int                   `json:"prequeue_minutes"`
}

// Period is one opening period of a day: wall-clock offsets from the local
// midnight, Open < Close <= 24h.
type Period struct {
	Open, Close time.Duration
}

// Interval is a span of real time [Start, End).
type Interval struct {
	Start, End time.Time
}

// Contains reports whether t is in [Start, End).
func (iv Interval) Contains(t time.Time) bool { return !t.Before(iv.Start) && t.Before(iv.End) }

// Calendar is an institution's time: what its settings mean for any instant.
// It is immutable and safe for concurrent use.
type Calendar struct {
	loc      *time.Location
	week     *[7][]Period // nil: no schedule
	closed   map[Date]bool
	cutoff   time.Duration
	prequeue time.Duration
}

// LoadTimezone loads an IANA time zone by name ("Asia/Manila", "UTC"). The
// server's own "Local" zone and the empty name are refused: an institution's
// day must not depend on the host it runs on.
func LoadTimezone(name string) (*time.Location, error) {
	if name == "" || name == "Local" {
		return nil, Errorf(CodeInvalid, "timezone must be an IANA time zone name such as Asia/Manila or UTC")
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, Errorf(CodeInvalid, "timezone %q is not a known IANA time zone name (such as Asia/Manila or UTC)", name)
	}
	return loc, nil
}

// NewCalendar validates s and returns its Calendar; an empty timezone means
// def (the server's DEFAULT_TIMEZONE). Errors are CodeInvalid and name the
// field, e.g. "hours.mon[1]: ...".
func NewCalendar(s DaySettings, def *time.Location) (*Calendar, error) {
	c := &Calendar{loc: def}
	if s.Timezone != "" || def == nil {
		loc, err := LoadTimezone(s.Timezone)
		if err != nil {
			return nil, err
		}
		c.loc = loc
	}
	if s.JoinCutoffMinutes < 0 || s.JoinCutoffMinutes > MaxJoinCutoffMinutes {
		return nil, Errorf(CodeInvalid, "join_cutoff_minutes must be an integer from 0 to %d", MaxJoinCutoffMinutes)
	}
	if s.PrequeueMinutes < 0 || s.PrequeueMinutes > MaxPrequeueMinutes {
		return nil, Errorf(CodeInvalid, "prequeue_minutes must be an integer from 0 to %d", MaxPrequeueMinutes)
	}
	c.cutoff = time.Duration(s.JoinCutoffMinutes) * time.Minute
	c.prequeue = time.Duration(s.PrequeueMinutes) * time.Minute
	if len(s.ClosedDates) > MaxClosedDates {
		return nil, Errorf(CodeInvalid, "closed_dates may list at most %d dates", MaxClosedDates)
	}
	c.closed = make(map[Date]bool, len(s.ClosedDates))
	for i, raw := range s.ClosedDates {
		d, err := ParseDate(raw)
		if err != nil {
			return nil, Errorf(CodeInvalid, "closed_dates[%d]: %q is not a date written YYYY-MM-DD", i, raw)
		}
		c.closed[d] = true
	}
	if s.Hours != nil {
		week, err := parseWeek(s.Hours)
		if err != nil {
			return nil, err
		}
		c.week = week
	}
	return c, nil
}

func parseWeek(hours map[string][][]string) (*[7][]Period, error) {
	var week [7][]Period
	// In a fixed order (unknown keys first, then sun..sat), so that of
	// several mistakes the same one is reported every time.
	keys := make([]string, 0, len(hours))
	for key := range hours {
		keys = append(keys, key)
	}
	slices.SortFunc(keys, func(a, b string) int {
		if c := slices.Index(DayKeys[:], a) - slices.Index(DayKeys[:], b); c != 0 {
			return c
		}
		return strings.Compare(a, b)
	})
	for _, key := range keys {
		periods := hours[key]
		day := slices.Index(DayKeys[:], key)
		if day < 0 {
			return nil, Errorf(CodeInvalid, "hours: %q is not a day; use mon, tue, wed, thu, fri, sat, sun", key)
		}
		if len(periods) > MaxPeriodsPerDay {
			return nil, Errorf(CodeInvalid, "hours.%s: at most %d periods a day", key, MaxPeriodsPerDay)
		}
		for i, p := range periods {
			field := fmt.Sprintf("hours.%s[%d]", key, i)
			if len(p) != 2 {
				return nil, Errorf(CodeInvalid, `%s must be a pair ["HH:MM", "HH:MM"]: opening and closing`, field)
			}
			open, err := parseClock(p[0], false)
			if err != nil {
				return nil, Errorf(CodeInvalid, "%s: opening %v", field, err)
			}
			closing, err := parseClock(p[1], true)
			if err != nil {
				return nil, Errorf(CodeInvalid, "%s: closing %v", field, err)
			}
			if closing <= open {
				return nil, Errorf(CodeInvalid, "%s: closing %s must be after opening %s", field, p[1], p[0])
			}
			if i > 0 && open <= week[day][i-1].Close {
				return nil, Errorf(CodeInvalid, "%s: opening %s must be after the previous period's closing %s (periods in order, not overlapping or touching)",
					field, p[0], periods[i-1][1])
			}
			week[day] = append(week[day], Period{Open: open, Close: closing})
		}
	}
	return &week, nil
}

// parseClock parses "HH:MM" or "HH:MM:SS" (24-hour, two digits each);
// "24:00" and "24:00:00" are allowed as a closing time: the end of the day.
func parseClock(s string, closing bool) (time.Duration, error) {
	bad := fmt.Errorf("%q must be a time HH:MM or HH:MM:SS from 00:00 to 23:59:59", s)
	if closing {
		bad = fmt.Errorf("%q must be a time HH:MM or HH:MM:SS from 00:00:01 to 24:00", s)
	}
	parts := strings.Split(s, ":")
	if len(parts) != 2 && len(parts) != 3 {
		return 0, bad
	}
	var v [3]int
	for i, p := range parts {
		if len(p) != 2 || p[0] < '0' || p[0] > '9' || p[1] < '0' || p[1] > '9' {
			return 0, bad
		}
		v[i], _ = strconv.Atoi(p)
	}
	if v[1] > 59 || v[2] > 59 || v[0] > 24 || (v[0] == 24 && (!closing || v[1] != 0 || v[2] != 0)) {
		return 0, bad
	}
	return time.Duration(v[0])*time.Hour + time.Duration(v[1])*time.Minute + time.Duration(v[2])*time.Second, nil
}

func formatClock(d time.Duration) string {
	h, m, s := int(d/time.Hour), int(d/time.Minute)%60, int(d/time.Second)%60
	if s != 0 {
		return fmt.Sprintf("%02d:%02d:%02d", h, m, s)
	}
	return fmt.Sprintf("%02d:%02d", h, m)
}

// Settings returns the calendar's settings in canonical JSON form: every day
// present, times as HH:MM (HH:MM:SS when seconds are set), dates sorted.
func (c *Calendar) Settings() DaySettings {
	s := DaySettings{
		Timezone:          c.loc.String(),
		ClosedDates:       []string{},
		JoinCutoffMinutes: int(c.cutoff / time.Minute),
		PrequeueMinutes:   int(c.prequeue / time.Minute),
	}
	for d := range c.closed {
		s.ClosedDates = append(s.ClosedDates, d.String())
	}
	sort.Strings(s.ClosedDates)
	if c.week != nil {
		s.Hours = make(map[string][][]string, 7)
		for day, periods := range c.week {
			out := [][]string{}
			for _, p := range periods {
				out = append(out, []string{formatClock(p.Open), formatClock(p.Close)})
			}
			s.Hours[DayKeys[day]] = out
		}
	}
	return s
}

// Location is the institution's time zone.
func (c *Calendar) Location() *time.Location { return c.loc }

// HasHours reports whether the institution has a weekly schedule. Without
// one it opens and closes only by hand, as in v1, and the schedule
// questions below answer "never open, no boundary".
func (c *Calendar) HasHours() bool { return c.week != nil }

// LocalDate is the date of t in the institution's time zone: the one
// definition of "the local day".
func (c *Calendar) LocalDate(t time.Time) Date { return DateOf(t.In(c.loc)) }

// DayStart is the first instant of local date d (its midnight, or the
// instant the clocks jump over it).
func (c *Calendar) DayStart(d Date) time.Time { return c.at(d, 0) }

// DayBounds is local date d as an interval of real time: 23, 24 or 25 hours.
func (c *Calendar) DayBounds(d Date) Interval {
	return Interval{Start: c.DayStart(d), End: c.DayStart(d.AddDays(1))}
}

// at is the instant when the wall clock of local date d reads w (0 <= w <=
// 24h), by the daylight-saving rule in the file comment.
func (c *Calendar) at(d Date, w time.Duration) time.Time {
	if w >= 24*time.Hour {
		d, w = d.AddDays(1), w-24*time.Hour
	}
	wall := time.Date(d.Year, d.Month, d.Day, 0, 0, 0, 0, time.UTC).Add(w)
	var best, lo, hi time.Time
	found := false
	// Zone offsets are within ±14 h, so probes 30 h either side see the
	// offsets in force before and after any switch near this wall time.
	for k, probe := range [...]time.Duration{-30 * time.Hour, 0, 30 * time.Hour} {
		_, off := wall.Add(probe).In(c.loc).Zone()
		t := wall.Add(-time.Duration(off) * time.Second)
		if k == 0 || t.Before(lo) {
			lo = t
		}
		if k == 0 || t.After(hi) {
			hi = t
		}
		if c.wallOf(t).Equal(wall) && (!found || t.Before(best)) {
			best, found = t, true
		}
	}
	if found {
		return best
	}
	// The clocks jump over w: the answer is the jump, the first instant
	// whose wall clock has passed w. Zone offsets are whole seconds.
	n := int(hi.Sub(lo) / time.Second)
	k := sort.Search(n+1, func(k int) bool { return !c.wallOf(lo.Add(time.Duration(k) * time.Second)).Before(wall) })
	return lo.Add(time.Duration(k) * time.Second)
}

// wallOf is the local wall clock at t, written as a UTC time.
func (c *Calendar) wallOf(t time.Time) time.Time {
	_, off := t.In(c.loc).Zone()
	return t.UTC().Add(time.Duration(off) * time.Second)
}

// Closed reports whether d is one of the closed dates.
func (c *Calendar) Closed(d Date) bool { return c.closed[d] }

// Periods are the opening periods of local date d as real time, in order:
// none without a schedule, on a closed date or a day without hours; a
// period that daylight saving empties is left out.
func (c *Calendar) Periods(d Date) []Interval {
	if c.week == nil || c.closed[d] {
		return nil
	}
	var out []Interval
	for _, p := range c.week[d.Weekday()] {
		iv := Interval{Start: c.at(d, p.Open), End: c.at(d, p.Close)}
		if iv.End.After(iv.Start) {
			out = append(out, iv)
		}
	}
	return out
}

// spans are the open intervals of the dates from..to, merged where one ends
// as the next starts (a period closing at 24:00 followed by one opening at
// 00:00, or two periods that a daylight-saving jump makes touch).
func (c *Calendar) spans(from, to Date) []Interval {
	var out []Interval
	for d := from; d.Compare(to) <= 0; d = d.AddDays(1) {
		for _, iv := range c.Periods(d) {
			if n := len(out); n > 0 && !iv.Start.After(out[n-1].End) {
				if iv.End.After(out[n-1].End) {
					out[n-1].End = iv.End
				}
				continue
			}
			out = append(out, iv)
		}
	}
	return out
}

// horizon is how many days ahead a search must look to find the next
// boundary of a schedule that has one: a week, plus every closed date.
func (c *Calendar) horizon() int { return len(c.closed) + 8 }

// IsOpen reports whether now is inside an opening period.
func (c *Calendar) IsOpen(now time.Time) bool {
	_, ok := c.openSpan(now)
	return ok
}

// openSpan is the merged open interval containing now. Its End may lie
// beyond the dates searched only for an office open around the clock.
func (c *Calendar) openSpan(now time.Time) (Interval, bool) {
	if c.week == nil {
		return Interval{}, false
	}
	d := c.LocalDate(now)
	for _, iv := range c.spans(d.AddDays(-1), d.AddDays(c.horizon())) {
		if iv.Contains(now) {
			return iv, true
		}
	}
	return Interval{}, false
}

// NextBoundary is the first instant after now at which the schedule opens
// or closes the institution, and whether it opens then. ok is false without
// a schedule or when the schedule never changes state (no hours at all, or
// open around the clock).
func (c *Calendar) NextBoundary(now time.Time) (at time.Time, opens bool, ok bool) {
	if c.week == nil {
		return time.Time{}, false, false
	}
	d := c.LocalDate(now)
	last := d.AddDays(c.horizon())
	limit := c.DayStart(last) // a span reaching this far may go on: not a known boundary
	for _, iv := range c.spans(d.AddDays(-1), last) {
		if iv.Start.After(now) && iv.Start.Before(limit) {
			return iv.Start, true, true
		}
		if iv.End.After(now) && iv.End.Before(limit) {
			return iv.End, false, true
		}
	}
	return time.Time{}, false, false
}

// FirstOpening is when the institution first opens on local date d: the
// start of the first open interval beginning that day. ok is false when it
// does not open that day (closed, or still open from the day before all day).
func (c *Calendar) FirstOpening(d Date) (time.Time, bool) {
	for _, iv := range c.spans(d.AddDays(-1), d.AddDays(1)) {
		if c.LocalDate(iv.Start) == d {
			return iv.Start, true
		}
	}
	return time.Time{}, false
}

// LastClosing is when local date d's last opening period ends. ok is false
// when d has no periods, or when its last period runs on into the next
// day's (open through midnight): that day has no close.
func (c *Calendar) LastClosing(d Date) (time.Time, bool) {
	periods := c.Periods(d)
	if len(periods) == 0 {
		return time.Time{}, false
	}
	end := periods[len(periods)-1].End
	for _, iv := range c.spans(d, d.AddDays(1)) {
		if iv.Contains(end.Add(-time.Nanosecond)) && iv.End.After(end) {
			return time.Time{}, false
		}
	}
	return end, true
}

// PrequeueWindow is the pre-queue window of local date d: the last
// prequeue_minutes before the day's first opening, cut short by an earlier
// closing. ok is false when the pre-queue is off or the day does not open.
// Its End is the opening: the moment of the draw.
func (c *Calendar) PrequeueWindow(d Date) (Interval, bool) {
	if c.prequeue == 0 {
		return Interval{}, false
	}
	open, ok := c.FirstOpening(d)
	if !ok {
		return Interval{}, false
	}
	start := open.Add(-c.prequeue)
	for _, iv := range c.spans(d.AddDays(-1), d) {
		if iv.End.After(start) && !iv.End.After(open) {
			start = iv.End
		}
	}
	if !start.Before(open) {
		return Interval{}, false
	}
	return Interval{Start: start, End: open}, true
}

// InPrequeue reports whether now is in a pre-queue window, and the local
// date of the opening it leads to (the draw's date).
func (c *Calendar) InPrequeue(now time.Time) (Date, bool) {
	d := c.LocalDate(now)
	for _, day := range []Date{d, d.AddDays(1)} {
		if w, ok := c.PrequeueWindow(day); ok && w.Contains(now) {
			return day, true
		}
	}
	return Date{}, false
}

// JoinWindow is what the schedule says about a join at some instant.
type JoinWindow int

// The join windows.
const (
	// JoinsUnscheduled: no hours; the status staff set decides (v1).
	JoinsUnscheduled JoinWindow = iota
	// JoinsOpen: open, and more than join_cutoff_minutes before closing.
	JoinsOpen
	// JoinsHeld: in the pre-queue window; a join becomes a held ticket.
	JoinsHeld
	// JoinsCutOff: open, but within join_cutoff_minutes of closing.
	JoinsCutOff
	// JoinsClosed: outside the hours and outside any pre-queue window.
	JoinsClosed
)

func (w JoinWindow) String() string {
	return [...]string{"unscheduled", "open", "held", "cut_off", "closed"}[w]
}

// Joins says whether the schedule takes a join at now. A staff override of
// the status (until the next boundary) is the caller's to apply on top.
func (c *Calendar) Joins(now time.Time) JoinWindow {
	if c.week == nil {
		return JoinsUnscheduled
	}
	if iv, ok := c.openSpan(now); ok {
		if !now.Before(iv.End.Add(-c.cutoff)) {
			return JoinsCutOff
		}
		return JoinsOpen
	}
	if _, ok := c.InPrequeue(now); ok {
		return JoinsHeld
	}
	return JoinsClosed
}

// AddOpenTime is the instant at which d of open time will have passed from
// `from`, skipping the time the schedule is closed (a lunch hour, the
// night). Without a schedule, or when the schedule has no more opening
// within reach, closed time is not skipped.
func (c *Calendar) AddOpenTime(from time.Time, d time.Duration) time.Time {
	if c.week == nil || d <= 0 {
		return from.Add(d)
	}
	cur, left := from, d
	first := c.LocalDate(from)
	for _, iv := range c.spans(first.AddDays(-1), first.AddDays(c.horizon())) {
		if !iv.End.After(cur) {
			continue
		}
		if iv.Start.After(cur) {
			cur = iv.Start
		}
		room := iv.End.Sub(cur)
		if room >= left {
			return cur.Add(left)
		}
		left -= room
		cur = iv.End
	}
	return cur.Add(left)
}

// Date is a civil date: a local day.
type Date struct {
	Year  int
	Month time.Month
	Day   int
}

// DateOf is the date of t in t's own location.
func DateOf(t time.Time) Date {
	y, m, d := t.Date()
	return Date{y, m, d}
}

// ParseDate parses YYYY-MM-DD, refusing dates that do not exist.
func ParseDate(s string) (Date, error) {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil || t.Format(time.DateOnly) != s {
		return Date{}, fmt.Errorf("parse date %q: want an existing date written YYYY-MM-DD", s)
	}
	return DateOf(t), nil
}

func (d Date) utc() time.Time { return time.Date(d.Year, d.Month, d.Day, 0, 0, 0, 0, time.UTC) }

// String is d as YYYY-MM-DD.
func (d Date) String() string { return d.utc().Format(time.DateOnly) }

// AddDays is the date n days after d (before, for negative n).
func (d Date) AddDays(n int) Date { return DateOf(d.utc().AddDate(0, 0, n)) }

// Weekday is d's day of the week.
func (d Date) Weekday() time.Weekday { return d.utc().Weekday() }

// Compare is -1, 0 or +1 as d is before, equal to or after e.
func (d Date) Compare(e Date) int { return d.utc().Compare(e.utc()) }

// MarshalText writes d as YYYY-MM-DD.
func (d Date) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText reads YYYY-MM-DD.
func (d *Date) UnmarshalText(b []byte) error {
	v, err := ParseDate(string(b))
	if err != nil {
		return err
	}
	*d = v
	return nil
}
