package institutions_test

import (
	"testing"
	"time"

	"github.com/queueless/queueless/institutions"
	"github.com/queueless/queueless/queue"
)

// TestDrawDemoOpensSoonAfterStart: whenever the demo starts, its draw
// office's pre-queue window opens within two minutes and the draw comes
// within five (except in the half hour before midnight in Manila, when it
// waits for just after midnight), and every demo schedule is valid.
func TestDrawDemoOpensSoonAfterStart(t *testing.T) {
	t.Parallel()
	manila, _ := time.LoadLocation("Asia/Manila")
	start := time.Date(2026, 11, 23, 0, 0, 0, 0, manila)
	for m := 0; m < 24*60; m += 7 {
		now := start.Add(time.Duration(m)*time.Minute + 17*time.Second)
		var draw queue.Fields
		for _, f := range institutions.DayDemo(now) {
			if err := (queue.SettingsPatch{Day: f.Settings.Day}).Validate(); err != nil {
				t.Fatalf("start %s: %s: %v", now.Format("15:04:05"), f.Name, err)
			}
			if f.Name == institutions.DrawDemoName {
				draw = f
			}
		}
		cal, err := queue.NewCalendar(queue.DaySettings{Timezone: *draw.Settings.Day.Timezone, Hours: draw.Settings.Day.Hours,
			PrequeueMinutes: *draw.Settings.Day.PrequeueMinutes}, nil)
		if err != nil {
			t.Fatal(err)
		}
		at, opens, ok := cal.NextBoundary(now)
		lead := 5 * time.Minute
		if now.Hour() == 23 && now.Minute() >= 26 {
			lead = 40 * time.Minute
		}
		if !ok || !opens || at.Sub(now) > lead || at.Sub(now) < 2*time.Minute {
			t.Fatalf("start %s: next boundary %s (opens %v), want an opening 2..%s later", now.Format("15:04:05"), at.In(manila).Format("15:04:05"), opens, lead)
		}
		if _, held := cal.InPrequeue(at.Add(-time.Minute)); !held {
			t.Fatalf("start %s: no pre-queue window the minute before the opening", now.Format("15:04:05"))
		}
	}
}
