package queue

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

func mustCalendar(t testing.TB, s DaySettings) *Calendar {
	t.Helper()
	c, err := NewCalendar(s, time.UTC)
	if err != nil {
		t.Fatalf("NewCalendar(%+v): %v", s, err)
	}
	return c
}

func mustLoc(t testing.TB, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func weekdays(periods ...[]string) map[string][][]string {
	h := map[string][][]string{}
	for _, d := range []string{"mon", "tue", "wed", "thu", "fri"} {
		h[d] = periods
	}
	return h
}

func TestHoursValidation(t *testing.T) {
	t.Parallel()
	ok := [][]string{{"08:00", "12:00"}, {"13:00", "17:00"}}
	tests := []struct {
		name string
		s    DaySettings
		want string // a part of the message; "" = valid
	}{
		{"v1 defaults", DaySettings{}, ""},
		{"two periods", DaySettings{Timezone: "Asia/Manila", Hours: weekdays(ok...)}, ""},
		{"seconds and 24:00", DaySettings{Hours: map[string][][]string{"sat": {{"00:00:30", "11:59:59"}, {"20:00", "24:00"}}}}, ""},
		{"empty day", DaySettings{Hours: map[string][][]string{"sun": {}}}, ""},
		{"limits", DaySettings{JoinCutoffMinutes: 240, PrequeueMinutes: 120, ClosedDates: []string{"2026-12-25", "2028-02-29"}}, ""},
		{"unknown zone", DaySettings{Timezone: "Mars/Olympus"}, "timezone"},
		{"host zone", DaySettings{Timezone: "Local"}, "timezone"},
		{"unknown day", DaySettings{Hours: map[string][][]string{"monday": ok}}, `hours: "monday"`},
		{"not a pair", DaySettings{Hours: map[string][][]string{"mon": {{"08:00"}}}}, "hours.mon[0]"},
		{"one digit hour", DaySettings{Hours: map[string][][]string{"tue": {{"8:00", "12:00"}}}}, "hours.tue[0]: opening"},
		{"minute 60", DaySettings{Hours: map[string][][]string{"tue": {{"08:00", "12:60"}}}}, "hours.tue[0]: closing"},
		{"hour 25", DaySettings{Hours: map[string][][]string{"tue": {{"08:00", "25:00"}}}}, "hours.tue[0]: closing"},
		{"opening at 24:00", DaySettings{Hours: map[string][][]string{"tue": {{"24:00", "24:00"}}}}, "hours.tue[0]: opening"},
		{"24:30", DaySettings{Hours: map[string][][]string{"tue": {{"08:00", "24:30"}}}}, "hours.tue[0]: closing"},
		{"letters", DaySettings{Hours: map[string][][]string{"tue": {{"ab:cd", "12:00"}}}}, "hours.tue[0]: opening"},
		{"closing first", DaySettings{Hours: map[string][][]string{"wed": {{"12:00", "08:00"}}}}, "hours.wed[0]: closing 08:00 must be after opening 12:00"},
		{"empty period", DaySettings{Hours: map[string][][]string{"wed": {{"08:00", "08:00"}}}}, "hours.wed[0]"},
		{"overlapping", DaySettings{Hours: map[string][][]string{"thu": {{"08:00", "12:00"}, {"11:00", "17:00"}}}}, "hours.thu[1]"},
		{"unsorted", DaySettings{Hours: map[string][][]string{"fri": {{"13:00", "17:00"}, {"08:00", "12:00"}}}}, "hours.fri[1]"},
		{"touching", DaySettings{Hours: map[string][][]string{"fri": {{"08:00", "12:00"}, {"12:00", "17:00"}}}}, "hours.fri[1]"},
		{"too many periods", DaySettings{Hours: map[string][][]string{"mon": func() [][]string {
			var p [][]string
			for h := 0; h < 13; h++ {
				p = append(p, []string{fmt.Sprintf("%02d:00", h), fmt.Sprintf("%02d:30", h)})
			}
			return p
		}()}}, "hours.mon"},
		{"cutoff high", DaySettings{JoinCutoffMinutes: 241}, "join_cutoff_minutes"},
		{"cutoff negative", DaySettings{JoinCutoffMinutes: -1}, "join_cutoff_minutes"},
		{"prequeue high", DaySettings{PrequeueMinutes: 121}, "prequeue_minutes"},
		{"no such date", DaySettings{ClosedDates: []string{"2026-01-01", "2026-02-30"}}, "closed_dates[1]"},
		{"date format", DaySettings{ClosedDates: []string{"25/12/2026"}}, "closed_dates[0]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := NewCalendar(tt.s, time.UTC)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("err = %v, want valid", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("accepted, want an error naming %q", tt.want)
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("err = %v, want an invalid_request error", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %q, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestHoursSettingsRoundTrip(t *testing.T) {
	t.Parallel()
	in := DaySettings{Timezone: "Europe/Berlin", Hours: map[string][][]string{"mon": {{"08:00", "12:00:30"}, {"13:00", "24:00"}}},
		ClosedDates: []string{"2026-12-26", "2026-12-25", "2026-12-25"}, JoinCutoffMinutes: 15, PrequeueMinutes: 30}
	out := mustCalendar(t, in).Settings()
	if got, want := fmt.Sprint(out.Hours["mon"]), "[[08:00 12:00:30] [13:00 24:00]]"; got != want {
		t.Errorf("mon = %s, want %s", got, want)
	}
	if got := len(out.Hours); got != 7 {
		t.Errorf("%d days in the canonical hours, want 7", got)
	}
	if got, want := strings.Join(out.ClosedDates, ","), "2026-12-25,2026-12-26"; got != want {
		t.Errorf("closed_dates = %s, want %s", got, want)
	}
	if out.Timezone != "Europe/Berlin" || out.JoinCutoffMinutes != 15 || out.PrequeueMinutes != 30 {
		t.Errorf("settings = %+v", out)
	}
	again := mustCalendar(t, out).Settings()
	if fmt.Sprint(again) != fmt.Sprint(out) {
		t.Errorf("not stable: %+v then %+v", out, again)
	}
	def := mustLoc(t, "Asia/Manila")
	c, err := NewCalendar(DaySettings{}, def)
	if err != nil || c.Location() != def || c.HasHours() {
		t.Errorf("empty settings: %v, %v, hours %v; want the default zone and no schedule", err, c.Location(), c.HasHours())
	}
}

// manila is a weekday office in a zone without daylight saving (UTC+8):
// 08:00-12:00 and 13:00-17:00, Christmas closed, joins close 30 minutes
// before each closing, a 60-minute pre-queue.
func manila(t testing.TB) (*Calendar, func(string) time.Time) {
	loc := mustLoc(t, "Asia/Manila")
	c := mustCalendar(t, DaySettings{Timezone: "Asia/Manila", Hours: weekdays([]string{"08:00", "12:00"}, []string{"13:00", "17:00"}),
		ClosedDates: []string{"2026-12-25"}, JoinCutoffMinutes: 30, PrequeueMinutes: 60})
	at := func(s string) time.Time {
		v, err := time.ParseInLocation("2006-01-02 15:04:05", s, loc)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	return c, at
}

func TestHoursOfficeDay(t *testing.T) {
	t.Parallel()
	c, at := manila(t)
	// 2026-12-21 is a Monday.
	tests := []struct {
		now      string
		open     bool
		joins    JoinWindow
		next     string
		nextOpen bool
	}{
		{"2026-12-21 06:59:59", false, JoinsClosed, "2026-12-21 08:00:00", true},
		{"2026-12-21 07:00:00", false, JoinsHeld, "2026-12-21 08:00:00", true},
		{"2026-12-21 07:59:59", false, JoinsHeld, "2026-12-21 08:00:00", true},
		{"2026-12-21 08:00:00", true, JoinsOpen, "2026-12-21 12:00:00", false},
		{"2026-12-21 11:29:59", true, JoinsOpen, "2026-12-21 12:00:00", false},
		{"2026-12-21 11:30:00", true, JoinsCutOff, "2026-12-21 12:00:00", false},
		{"2026-12-21 12:00:00", false, JoinsClosed, "2026-12-21 13:00:00", true}, // no pre-queue before the afternoon
		{"2026-12-21 12:30:00", false, JoinsClosed, "2026-12-21 13:00:00", true},
		{"2026-12-21 13:00:00", true, JoinsOpen, "2026-12-21 17:00:00", false},
		{"2026-12-21 16:45:00", true, JoinsCutOff, "2026-12-21 17:00:00", false},
		{"2026-12-21 17:00:00", false, JoinsClosed, "2026-12-22 08:00:00", true},
		{"2026-12-24 17:00:00", false, JoinsClosed, "2026-12-28 08:00:00", true}, // Christmas, then the weekend
		{"2026-12-25 07:30:00", false, JoinsClosed, "2026-12-28 08:00:00", true}, // no pre-queue on a closed date
		{"2026-12-26 10:00:00", false, JoinsClosed, "2026-12-28 08:00:00", true}, // Saturday: no hours
		{"2026-12-28 07:15:00", false, JoinsHeld, "2026-12-28 08:00:00", true},
	}
	for _, tt := range tests {
		now := at(tt.now)
		if got := c.IsOpen(now); got != tt.open {
			t.Errorf("%s: IsOpen = %v, want %v", tt.now, got, tt.open)
		}
		if got := c.Joins(now); got != tt.joins {
			t.Errorf("%s: Joins = %v, want %v", tt.now, got, tt.joins)
		}
		next, opens, ok := c.NextBoundary(now)
		if !ok || !next.Equal(at(tt.next)) || opens != tt.nextOpen {
			t.Errorf("%s: NextBoundary = %v opens %v ok %v, want %s opens %v", tt.now, next.In(c.Location()), opens, ok, tt.next, tt.nextOpen)
		}
	}

	// The local day is Manila's, not UTC's: 16:30 UTC on the 20th is 00:30 on the 21st.
	if got, want := c.LocalDate(time.Date(2026, 12, 20, 16, 30, 0, 0, time.UTC)), (Date{2026, 12, 21}); got != want {
		t.Errorf("LocalDate = %v, want %v", got, want)
	}
	if got, want := c.DayBounds(Date{2026, 12, 21}), (Interval{at("2026-12-21 00:00:00"), at("2026-12-22 00:00:00")}); !got.Start.Equal(want.Start) || !got.End.Equal(want.End) {
		t.Errorf("DayBounds = %v, want %v", got, want)
	}
	if d, ok := c.InPrequeue(at("2026-12-21 07:10:00")); !ok || d != (Date{2026, 12, 21}) {
		t.Errorf("InPrequeue = %v %v, want the 21st", d, ok)
	}
	if w, ok := c.PrequeueWindow(Date{2026, 12, 21}); !ok || !w.Start.Equal(at("2026-12-21 07:00:00")) || !w.End.Equal(at("2026-12-21 08:00:00")) {
		t.Errorf("PrequeueWindow = %v %v", w, ok)
	}
	if end, ok := c.LastClosing(Date{2026, 12, 21}); !ok || !end.Equal(at("2026-12-21 17:00:00")) {
		t.Errorf("LastClosing = %v %v, want 17:00", end, ok)
	}
	for _, d := range []Date{{2026, 12, 25}, {2026, 12, 26}} {
		if _, ok := c.LastClosing(d); ok {
			t.Errorf("LastClosing(%v) found a closing on a day without hours", d)
		}
		if _, ok := c.FirstOpening(d); ok {
			t.Errorf("FirstOpening(%v) found an opening on a day without hours", d)
		}
	}
	if !c.Closed(Date{2026, 12, 25}) || c.Closed(Date{2026, 12, 24}) {
		t.Error("Closed does not match closed_dates")
	}
}

func TestHoursAddOpenTime(t *testing.T) {
	t.Parallel()
	c, at := manila(t)
	tests := []struct {
		from string
		d    time.Duration
		want string
	}{
		{"2026-12-21 09:00:00", 30 * time.Minute, "2026-12-21 09:30:00"},
		{"2026-12-21 11:40:00", 30 * time.Minute, "2026-12-21 13:10:00"}, // across lunch
		{"2026-12-21 12:20:00", 10 * time.Minute, "2026-12-21 13:10:00"}, // from inside lunch
		{"2026-12-21 16:50:00", 20 * time.Minute, "2026-12-22 08:10:00"}, // across the night
		{"2026-12-24 16:00:00", 2 * time.Hour, "2026-12-28 09:00:00"},    // across Christmas and the weekend
		{"2026-12-21 07:30:00", time.Minute, "2026-12-21 08:01:00"},      // before opening
	}
	for _, tt := range tests {
		if got := c.AddOpenTime(at(tt.from), tt.d); !got.Equal(at(tt.want)) {
			t.Errorf("AddOpenTime(%s, %v) = %v, want %s", tt.from, tt.d, got.In(c.Location()), tt.want)
		}
	}
	none := mustCalendar(t, DaySettings{})
	if got, from := none.AddOpenTime(at("2026-12-21 12:20:00"), time.Hour), at("2026-12-21 13:20:00"); !got.Equal(from) {
		t.Errorf("without hours AddOpenTime = %v, want plain addition %v", got, from)
	}
}

func TestHoursWithoutSchedule(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 6, 1, 10, 0, 0, 0, time.UTC)
	none := mustCalendar(t, DaySettings{PrequeueMinutes: 30})
	if none.IsOpen(now) || none.Joins(now) != JoinsUnscheduled {
		t.Errorf("no hours: IsOpen %v, Joins %v; want false, unscheduled", none.IsOpen(now), none.Joins(now))
	}
	if _, _, ok := none.NextBoundary(now); ok {
		t.Error("no hours: a boundary was found")
	}
	never := mustCalendar(t, DaySettings{Hours: map[string][][]string{"mon": {}}})
	if never.IsOpen(now) || never.Joins(now) != JoinsClosed {
		t.Errorf("empty hours: IsOpen %v, Joins %v; want false, closed", never.IsOpen(now), never.Joins(now))
	}
	if _, _, ok := never.NextBoundary(now); ok {
		t.Error("empty hours: a boundary was found")
	}
	always := mustCalendar(t, DaySettings{Timezone: "Europe/Berlin", Hours: map[string][][]string{
		"mon": {{"00:00", "24:00"}}, "tue": {{"00:00", "24:00"}}, "wed": {{"00:00", "24:00"}}, "thu": {{"00:00", "24:00"}},
		"fri": {{"00:00", "24:00"}}, "sat": {{"00:00", "24:00"}}, "sun": {{"00:00", "24:00"}}}})
	if !always.IsOpen(now) || always.Joins(now) != JoinsOpen {
		t.Errorf("open around the clock: IsOpen %v, Joins %v", always.IsOpen(now), always.Joins(now))
	}
	if b, _, ok := always.NextBoundary(now); ok {
		t.Errorf("open around the clock: boundary %v", b)
	}
	if _, ok := always.LastClosing(Date{2026, 6, 1}); ok {
		t.Error("open around the clock: the day has a last closing")
	}
}

func TestHoursThroughMidnight(t *testing.T) {
	t.Parallel()
	// A night office: Monday 20:00-24:00 runs on into Tuesday 00:00-02:00.
	c := mustCalendar(t, DaySettings{Timezone: "UTC", Hours: map[string][][]string{"mon": {{"20:00", "24:00"}}, "tue": {{"00:00", "02:00"}}},
		JoinCutoffMinutes: 60})
	mon := time.Date(2026, 6, 1, 21, 0, 0, 0, time.UTC)
	if next, opens, ok := c.NextBoundary(mon); !ok || opens || !next.Equal(time.Date(2026, 6, 2, 2, 0, 0, 0, time.UTC)) {
		t.Errorf("NextBoundary = %v %v %v, want Tuesday 02:00 closing (midnight is no boundary)", next, opens, ok)
	}
	if got := c.Joins(time.Date(2026, 6, 1, 23, 30, 0, 0, time.UTC)); got != JoinsOpen {
		t.Errorf("Joins at 23:30 = %v, want open: the cutoff counts from the real closing at 02:00", got)
	}
	if got := c.Joins(time.Date(2026, 6, 2, 1, 0, 0, 0, time.UTC)); got != JoinsCutOff {
		t.Errorf("Joins at 01:00 = %v, want cut_off", got)
	}
	if _, ok := c.LastClosing(Date{2026, 6, 1}); ok {
		t.Error("Monday has a last closing, but it runs on into Tuesday")
	}
	if end, ok := c.LastClosing(Date{2026, 6, 2}); !ok || !end.Equal(time.Date(2026, 6, 2, 2, 0, 0, 0, time.UTC)) {
		t.Errorf("LastClosing(Tuesday) = %v %v, want 02:00", end, ok)
	}
	if _, ok := c.FirstOpening(Date{2026, 6, 2}); ok {
		t.Error("Tuesday has a first opening, but it is open from Monday")
	}
}

func TestHoursManyClosedDates(t *testing.T) {
	t.Parallel()
	var closed []string
	for d := (Date{2026, 7, 1}); d.Compare(Date{2026, 9, 30}) <= 0; d = d.AddDays(1) {
		closed = append(closed, d.String())
	}
	c := mustCalendar(t, DaySettings{Hours: weekdays([]string{"09:00", "10:00"}), ClosedDates: closed})
	next, opens, ok := c.NextBoundary(time.Date(2026, 6, 30, 12, 0, 0, 0, time.UTC))
	if want := time.Date(2026, 10, 1, 9, 0, 0, 0, time.UTC); !ok || !opens || !next.Equal(want) {
		t.Errorf("NextBoundary over a closed summer = %v %v %v, want %v", next, opens, ok, want)
	}
}

// TestHoursDaylightSaving covers the switches of 2026 in New York (spring:
// Sunday 8 March, 02:00 EST -> 03:00 EDT; autumn: Sunday 1 November, 02:00
// EDT -> 01:00 EST) and Berlin (29 March 02:00 CET -> 03:00 CEST; 25
// October 03:00 CEST -> 02:00 CET).
func TestHoursDaylightSaving(t *testing.T) {
	t.Parallel()
	utc := func(y int, m time.Month, d, h, min int) time.Time { return time.Date(y, m, d, h, min, 0, 0, time.UTC) }
	tests := []struct {
		name      string
		zone, day string
		periods   [][]string
		date      Date
		want      []Interval // the day's periods in real time
		dayLength time.Duration
	}{
		{"spanning the spring switch is an hour shorter", "America/New_York", "sun", [][]string{{"01:00", "04:00"}}, Date{2026, 3, 8},
			[]Interval{{utc(2026, 3, 8, 6, 0), utc(2026, 3, 8, 8, 0)}}, 23 * time.Hour},
		{"a time the clocks jump over is the jump", "America/New_York", "sun", [][]string{{"02:30", "05:00"}}, Date{2026, 3, 8},
			[]Interval{{utc(2026, 3, 8, 7, 0), utc(2026, 3, 8, 9, 0)}}, 23 * time.Hour},
		{"a period inside the jump does not happen", "America/New_York", "sun", [][]string{{"00:00", "01:00"}, {"02:10", "02:50"}, {"09:00", "10:00"}}, Date{2026, 3, 8},
			[]Interval{{utc(2026, 3, 8, 5, 0), utc(2026, 3, 8, 6, 0)}, {utc(2026, 3, 8, 13, 0), utc(2026, 3, 8, 14, 0)}}, 23 * time.Hour},
		{"spanning the autumn switch is an hour longer", "America/New_York", "sun", [][]string{{"01:00", "04:00"}}, Date{2026, 11, 1},
			[]Interval{{utc(2026, 11, 1, 5, 0), utc(2026, 11, 1, 9, 0)}}, 25 * time.Hour},
		{"a twice-happening time is its first occurrence", "America/New_York", "sun", [][]string{{"00:00", "01:30"}, {"01:45", "03:00"}}, Date{2026, 11, 1},
			[]Interval{{utc(2026, 11, 1, 4, 0), utc(2026, 11, 1, 5, 30)}, {utc(2026, 11, 1, 5, 45), utc(2026, 11, 1, 8, 0)}}, 25 * time.Hour},
		{"an ordinary day after", "America/New_York", "mon", [][]string{{"08:00", "17:00"}}, Date{2026, 11, 2},
			[]Interval{{utc(2026, 11, 2, 13, 0), utc(2026, 11, 2, 22, 0)}}, 24 * time.Hour},
		{"Berlin spring", "Europe/Berlin", "sun", [][]string{{"01:30", "02:30"}, {"03:30", "12:00"}}, Date{2026, 3, 29},
			[]Interval{{utc(2026, 3, 29, 0, 30), utc(2026, 3, 29, 1, 0)}, {utc(2026, 3, 29, 1, 30), utc(2026, 3, 29, 10, 0)}}, 23 * time.Hour},
		{"Berlin autumn", "Europe/Berlin", "sun", [][]string{{"02:30", "08:00"}}, Date{2026, 10, 25},
			[]Interval{{utc(2026, 10, 25, 0, 30), utc(2026, 10, 25, 7, 0)}}, 25 * time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := mustCalendar(t, DaySettings{Timezone: tt.zone, Hours: map[string][][]string{tt.day: tt.periods}})
			got := c.Periods(tt.date)
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Fatalf("Periods(%v) = %v, want %v", tt.date, got, tt.want)
			}
			b := c.DayBounds(tt.date)
			if l := b.End.Sub(b.Start); l != tt.dayLength {
				t.Errorf("the local day lasts %v, want %v", l, tt.dayLength)
			}
			// Walk the day minute by minute: open exactly inside the
			// periods, and each boundary announced beforehand.
			for now := b.Start.Add(-time.Hour); now.Before(b.End.Add(time.Hour)); now = now.Add(time.Minute) {
				in := false
				for _, iv := range got {
					in = in || iv.Contains(now)
				}
				if c.IsOpen(now) != in {
					t.Fatalf("IsOpen(%v) = %v, want %v", now, !in, in)
				}
			}
		})
	}

	// Between the two 01:xx hours of the New York autumn day the office
	// of "00:00-01:30" stays closed: it closed at the first 01:30.
	c := mustCalendar(t, DaySettings{Timezone: "America/New_York", Hours: map[string][][]string{"sun": {{"00:00", "01:30"}}}})
	if c.IsOpen(utc(2026, 11, 1, 6, 15)) { // 01:15 EST, the second time round
		t.Error("the office reopened when the clocks went back")
	}
	if got, want := c.LocalDate(utc(2026, 11, 1, 4, 59)), (Date{2026, 11, 1}); got != want {
		t.Errorf("LocalDate = %v, want %v", got, want)
	}
}

// TestHoursRealClock uses the real clock once: a period given to the second
// opens and closes the office when the wall clock says so.
func TestHoursRealClock(t *testing.T) {
	t.Parallel()
	// A fixed-offset zone in which it is about noon now, so the test period
	// never crosses midnight. Etc/GMT-N is UTC+N.
	offset := 12 - time.Now().UTC().Hour()
	zone := fmt.Sprintf("Etc/GMT%+d", -offset)
	if offset == 0 {
		zone = "Etc/GMT"
	}
	loc := mustLoc(t, zone)
	start := time.Now().In(loc).Add(2 * time.Second).Truncate(time.Second)
	end := start.Add(2 * time.Second)
	clock := func(t time.Time) string { return t.Format("15:04:05") }
	day := DayKeys[start.Weekday()]
	c := mustCalendar(t, DaySettings{Timezone: zone, Hours: map[string][][]string{day: {{clock(start), clock(end)}}}})
	if c.IsOpen(time.Now()) {
		t.Fatal("open before the period")
	}
	next, opens, ok := c.NextBoundary(time.Now())
	if !ok || !opens || !next.Equal(start) {
		t.Fatalf("NextBoundary = %v %v %v, want the opening %v", next, opens, ok, start)
	}
	time.Sleep(time.Until(next) + 100*time.Millisecond)
	if !c.IsOpen(time.Now()) {
		t.Fatalf("closed at %v, after the opening %v", time.Now(), start)
	}
	next, opens, _ = c.NextBoundary(time.Now())
	if opens || !next.Equal(end) {
		t.Fatalf("NextBoundary = %v %v, want the closing %v", next, opens, end)
	}
	time.Sleep(time.Until(next) + 100*time.Millisecond)
	if c.IsOpen(time.Now()) {
		t.Fatalf("open at %v, after the closing %v", time.Now(), end)
	}
}

// refSchedule is a reference model of the schedule rules, written apart from
// Calendar: a time of day on a local date means the first instant, scanned
// minute by minute, whose local date is that date and whose wall clock has
// reached it (the clock may jump past it; it may pass it twice).
type refSchedule struct {
	loc    *time.Location
	week   [7][][2]int // minutes from midnight
	closed map[string]bool
	cache  map[string]time.Time
}

func (r refSchedule) instant(y int, m time.Month, d, minutes int) time.Time {
	key := fmt.Sprintf("%04d-%02d-%02d/%d", y, m, d, minutes)
	if t, ok := r.cache[key]; ok {
		return t
	}
	// Offsets are within -12 h..+14 h, so nothing 15 hours before the wall
	// time read as UTC can satisfy it: scan from there.
	date := time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
	for t := date.Add(time.Duration(minutes)*time.Minute - 15*time.Hour); ; t = t.Add(time.Minute) {
		l := t.In(r.loc)
		ly, lm, ld := l.Date()
		after := time.Date(ly, lm, ld, 0, 0, 0, 0, time.UTC).Compare(date)
		if after > 0 || (after == 0 && l.Hour()*60+l.Minute() >= minutes) {
			r.cache[key] = t
			return t
		}
	}
}

// next answers for now: open or not, and the next state change, from the
// open intervals of the local dates from the day before now's onwards
// (touching ones joined), looking as far as 12 days.
func (r refSchedule) next(now time.Time) (open bool, next time.Time) {
	var ivs [][2]time.Time
	// Count days on a UTC noon: local midnights may not exist (Santiago).
	ly, lm, ld := now.In(r.loc).Date()
	day := time.Date(ly, lm, ld-1, 12, 0, 0, 0, time.UTC)
	for k := 0; k < 12; k++ {
		y, m, d := day.AddDate(0, 0, k).Date()
		if r.closed[fmt.Sprintf("%04d-%02d-%02d", y, m, d)] {
			continue
		}
		wd := time.Date(y, m, d, 12, 0, 0, 0, time.UTC).Weekday()
		for _, p := range r.week[wd] {
			s, e := r.instant(y, m, d, p[0]), r.instant(y, m, d, p[1])
			if !e.After(s) {
				continue
			}
			if n := len(ivs); n > 0 && !s.After(ivs[n-1][1]) {
				if e.After(ivs[n-1][1]) {
					ivs[n-1][1] = e
				}
				continue
			}
			ivs = append(ivs, [2]time.Time{s, e})
		}
		// A boundary is settled once a later day has been added after it.
		for i, iv := range ivs {
			if !now.Before(iv[0]) && now.Before(iv[1]) {
				open = true
			}
			for _, b := range iv {
				if b.After(now) && (i < len(ivs)-1 || b == iv[0]) && next.IsZero() {
					next = b
				}
			}
		}
		if !next.IsZero() {
			return open, next
		}
		open = false
	}
	return open, next
}

// randomSchedule draws a schedule in a zone with daylight saving, periods
// on whole minutes that often sit on the switch hours, and closed dates.
func randomSchedule(r *rand.Rand) (DaySettings, refSchedule) {
	zones := []string{"America/New_York", "Europe/Berlin", "Australia/Sydney", "America/Santiago", "Asia/Manila"}
	s := DaySettings{Timezone: zones[r.IntN(len(zones))], Hours: map[string][][]string{}}
	ref := refSchedule{closed: map[string]bool{}, cache: map[string]time.Time{}}
	ref.loc, _ = time.LoadLocation(s.Timezone)
	for day := range 7 {
		if r.IntN(5) == 0 {
			continue // no hours that day
		}
		t := 0
		var ps [][]string
		for len(ps) < 4 {
			open := t + r.IntN(180)
			if r.IntN(3) == 0 {
				open = t + 60*(r.IntN(4)) + 30*r.IntN(2) // near 00:00..04:00, where switches happen
			}
			if open == t && t > 0 {
				open++
			}
			closing := open + 1 + r.IntN(300)
			if closing > 24*60 || open >= 24*60 {
				break
			}
			if r.IntN(8) == 0 {
				closing = 24 * 60
			}
			ps = append(ps, []string{fmt.Sprintf("%02d:%02d", open/60, open%60), fmt.Sprintf("%02d:%02d", closing/60, closing%60)})
			ref.week[day] = append(ref.week[day], [2]int{open, closing})
			t = closing + 1
			if closing == 24*60 {
				break
			}
		}
		s.Hours[DayKeys[day]] = ps
	}
	for range r.IntN(4) {
		d := Date{2026, time.Month(1 + r.IntN(12)), 1 + r.IntN(28)}
		s.ClosedDates = append(s.ClosedDates, d.String())
		ref.closed[d.String()] = true
	}
	return s, ref
}

// switchDays are the 2026 daylight-saving days of the zones above, where
// the random instants concentrate.
var switchDays = []time.Time{
	time.Date(2026, 3, 8, 12, 0, 0, 0, time.UTC), time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC), // New York
	time.Date(2026, 3, 29, 6, 0, 0, 0, time.UTC), time.Date(2026, 10, 25, 6, 0, 0, 0, time.UTC), // Berlin
	time.Date(2026, 4, 4, 12, 0, 0, 0, time.UTC), time.Date(2026, 10, 3, 12, 0, 0, 0, time.UTC), // Sydney
	time.Date(2026, 4, 5, 0, 0, 0, 0, time.UTC), time.Date(2026, 9, 6, 0, 0, 0, 0, time.UTC), // Santiago
}

// checkBoundary checks one instant against the reference: IsOpen agrees,
// and NextBoundary is the reference's next state change, with IsOpen
// constant up to it and flipped at it.
func checkBoundary(t *testing.T, c *Calendar, ref refSchedule, now time.Time) {
	t.Helper()
	refOpen, refNext := ref.next(now)
	if got := c.IsOpen(now); got != refOpen {
		t.Fatalf("%v (%v): IsOpen = %v, reference %v", now, now.In(c.Location()), got, refOpen)
	}
	next, opens, ok := c.NextBoundary(now)
	if !ok {
		if !refNext.IsZero() && refNext.Before(now.Add(7*24*time.Hour)) {
			t.Fatalf("%v: no boundary, reference has %v", now, refNext)
		}
		return
	}
	if !refNext.IsZero() && !next.Equal(refNext) {
		t.Fatalf("%v (%v): NextBoundary = %v, reference %v", now, now.In(c.Location()), next.In(c.Location()), refNext.In(c.Location()))
	}
	if opens == refOpen || c.IsOpen(next) != opens || c.IsOpen(next.Add(-time.Second)) != refOpen {
		t.Fatalf("%v: boundary %v opens=%v but IsOpen is %v before and %v at it", now, next, opens, c.IsOpen(next.Add(-time.Second)), c.IsOpen(next))
	}
	for k := 1; k <= 8; k++ {
		x := now.Add(next.Sub(now) * time.Duration(k) / 9)
		if c.IsOpen(x) != refOpen {
			t.Fatalf("%v: IsOpen changes at %v, before the announced boundary %v", now, x, next)
		}
	}
}

func TestHoursNextBoundaryProperty(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(2026, 11))
	for range 60 {
		s, ref := randomSchedule(r)
		c := mustCalendar(t, s)
		for range 5 {
			base := switchDays[r.IntN(len(switchDays))]
			if r.IntN(3) == 0 {
				base = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(r.IntN(365*24)) * time.Hour)
			}
			checkBoundary(t, c, ref, base.Add(time.Duration(r.IntN(48*60)-24*60)*time.Minute))
		}
	}
}

func FuzzHoursNextBoundary(f *testing.F) {
	f.Add(uint64(1), int64(0))
	f.Add(uint64(7), int64(3*3600))
	f.Add(uint64(2026), int64(-20*3600))
	f.Fuzz(func(t *testing.T, seed uint64, shift int64) {
		r := rand.New(rand.NewPCG(seed, 0))
		s, ref := randomSchedule(r)
		c := mustCalendar(t, s)
		now := switchDays[r.IntN(len(switchDays))].Add(time.Duration(shift%(36*3600)) * time.Second)
		checkBoundary(t, c, ref, now)
	})
}

func TestHoursDate(t *testing.T) {
	t.Parallel()
	d, err := ParseDate("2028-02-29")
	if err != nil || d != (Date{2028, 2, 29}) || d.String() != "2028-02-29" {
		t.Fatalf("ParseDate = %v, %v", d, err)
	}
	if got, want := d.AddDays(1), (Date{2028, 3, 1}); got != want {
		t.Errorf("AddDays(1) = %v, want %v", got, want)
	}
	if got := d.Weekday(); got != time.Tuesday {
		t.Errorf("Weekday = %v, want Tuesday", got)
	}
	if d.Compare(d.AddDays(-1)) != 1 || d.Compare(d) != 0 {
		t.Error("Compare")
	}
	for _, bad := range []string{"2027-02-29", "2026-1-01", "", "2026-01-01T00:00:00Z"} {
		if _, err := ParseDate(bad); err == nil {
			t.Errorf("ParseDate(%q) accepted", bad)
		}
	}
	var back Date
	if b, _ := d.MarshalText(); back.UnmarshalText(b) != nil || back != d {
		t.Errorf("text round trip gave %v", back)
	}
}

func TestHoursValidationIsDeterministic(t *testing.T) {
	t.Parallel()
	s := DaySettings{Hours: map[string][][]string{
		"tue": {{"12:00", "08:00"}}, "mon": {{"9", "10:00"}}, "fri": {{"08:00", "12:00"}, {"09:00", "10:00"}}, "xyz": {}}}
	first := ""
	for range 20 {
		_, err := NewCalendar(s, time.UTC)
		if err == nil {
			t.Fatal("accepted")
		}
		if first == "" {
			first = err.Error()
		}
		if err.Error() != first {
			t.Fatalf("error %q, then %q", first, err)
		}
	}
	if !strings.Contains(first, `"xyz"`) {
		t.Errorf("error %q, want the unknown day reported first", first)
	}
}
