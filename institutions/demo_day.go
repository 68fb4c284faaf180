package institutions

// The demo's office day (embedded mode only; `queueless seed` keeps to
// Demo()): two more offices that keep a schedule in Manila. One keeps real
// office hours; the other, DrawDemoName, opens a few minutes after
// start-up with a pre-queue window, so that a newcomer can join while it
// is held and watch the draw at the opening (README, "The office day").
// The four classic demo offices keep no schedule: open as staff set them.

import (
	"time"

	"github.com/queueless/queueless/queue"
)

// The demo offices with hours.
const (
	DrawDemoName  = "Quezon City Hall – Business Permits"
	HoursDemoName = "BIR Revenue District Office 39"
)

const demoZone = "Asia/Manila"

// The draw demo's pre-queue window opens DrawDemoPrequeue minutes before
// its opening, which comes at least DrawDemoLead after start-up.
const (
	DrawDemoPrequeue = 2
	DrawDemoLead     = 3 * time.Minute
)

// DayDemo are the demo offices with a schedule, for a start-up at now.
func DayDemo(now time.Time) []queue.Fields {
	tz, carry, cutoff := demoZone, queue.AtCloseCarry, 30
	weekday := [][]string{{"08:00", "12:00"}, {"13:00", "17:00"}}
	hours := queue.Fields{Name: HoursDemoName, Kind: "government", Address: "Quezon Avenue, Quezon City",
		Settings: queue.SettingsPatch{Day: queue.DayPatch{Timezone: &tz, SetHours: true, AtClose: &carry, JoinCutoffMinutes: &cutoff,
			Hours: map[string][][]string{"mon": weekday, "tue": weekday, "wed": weekday, "thu": weekday, "fri": weekday,
				"sat": {{"08:00", "12:00"}}, "sun": {}},
			ClosedDates: &[]string{"2026-12-25", "2026-12-30", "2027-01-01"}}}}
	return []queue.Fields{hours, drawDemo(now)}
}

func everyDay(periods [][]string) map[string][][]string {
	h := map[string][][]string{}
	for _, d := range queue.DayKeys {
		h[d] = periods
	}
	return h
}

// drawDemo is the office that opens shortly after now: every day from
// that time, four hours, a break of an hour, four more (cut at midnight),
// with a pre-queue window before the opening.
func drawDemo(now time.Time) queue.Fields {
	loc, err := queue.LoadTimezone(demoZone)
	if err != nil {
		loc = time.UTC
	}
	local := now.In(loc)
	midnight := time.Date(local.Year(), local.Month(), local.Day(), 0, 0, 0, 0, loc)
	open := local.Add(DrawDemoLead).Truncate(time.Minute).Add(time.Minute).Sub(midnight)
	if open > 23*time.Hour+30*time.Minute || open < DrawDemoLead {
		open = 5 * time.Minute // too close to midnight: just after it
	}
	clock := func(d time.Duration) string {
		if d >= 24*time.Hour {
			return "24:00"
		}
		return time.Time{}.Add(d).Format("15:04")
	}
	periods := [][]string{{clock(open), clock(min(open+4*time.Hour, 24*time.Hour))}}
	if second := open + 5*time.Hour; second < 24*time.Hour-time.Minute {
		periods = append(periods, []string{clock(second), clock(min(second+4*time.Hour, 24*time.Hour))})
	}
	tz, pre := demoZone, DrawDemoPrequeue
	return queue.Fields{Name: DrawDemoName, Kind: "government", Address: "Elliptical Road, Quezon City",
		Settings: queue.SettingsPatch{Day: queue.DayPatch{Timezone: &tz, SetHours: true, Hours: everyDay(periods), PrequeueMinutes: &pre}}}
}
