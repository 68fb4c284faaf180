package queue

import (
	"math/rand/v2"
	"testing"
	"time"
)

// TestDayJobPropertyAgainstSchedule: random schedules in random zones,
// evaluated at random moments (gaps from a second to three days, so runs
// that miss boundaries, days and DST switches): after every run the status
// is what the schedule says at that moment, and the days closed are
// exactly the days whose last closing fell between the first run and the
// last, counted apart by walking the local dates.
func TestDayJobPropertyAgainstSchedule(t *testing.T) {
	t.Parallel()
	zones := []string{"UTC", "Asia/Manila", "America/New_York", "Europe/London", "Australia/Lord_Howe"}
	for seed := range uint64(40) {
		r := rand.New(rand.NewPCG(seed, 12))
		clock := &fakeClock{now: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(r.IntN(300*24)) * time.Hour)}
		svc := NewService(NewMemoryStore(), Config{Now: clock.Now})
		tz := zones[r.IntN(len(zones))]
		hours := map[string][][]string{}
		for _, d := range DayKeys {
			var periods [][]string
			at := time.Duration(r.IntN(10)) * time.Hour
			for n := r.IntN(3); n > 0; n-- {
				open := at + time.Duration(r.IntN(120))*time.Minute
				closing := open + time.Duration(1+r.IntN(300))*time.Minute
				if closing > 24*time.Hour {
					break
				}
				periods = append(periods, []string{formatClock(open), formatClock(closing)})
				at = closing + time.Minute
			}
			hours[d] = periods
		}
		p := DayPatch{Timezone: &tz, SetHours: true, Hours: hours}
		inst, err := svc.CreateInstitution(t.Context(), Fields{Name: "P", Kind: "other", Settings: SettingsPatch{Day: p}}, Meta{})
		if err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		cal := inst.Calendar()
		first := clock.Now()
		closed := 0
		for range 60 {
			rep, err := svc.RunDay(t.Context(), clock.Now())
			if err != nil {
				t.Fatal(err)
			}
			closed += rep.DaysClosed
			want := StatusClosed
			if cal.IsOpen(clock.Now()) {
				want = StatusOpen
			}
			if got, _ := svc.Institution(t.Context(), inst.ID); got.Status != want {
				t.Fatalf("seed %d (%s %v) at %s: status %s, the schedule says %s", seed, tz, hours, clock.Now().In(cal.Location()), got.Status, want)
			}
			gaps := []time.Duration{time.Second, time.Minute, 17 * time.Minute, 3 * time.Hour, 26 * time.Hour, 71 * time.Hour}
			clock.Advance(gaps[r.IntN(len(gaps))] + time.Duration(r.IntN(1000))*time.Millisecond)
		}
		last := clock.Now()
		// The reference: walk the local dates, count last closings in (first, last-step].
		want := 0
		end := last
		for d := cal.LocalDate(first).AddDays(-1); d.Compare(cal.LocalDate(end)) <= 0; d = d.AddDays(1) {
			if lc, ok := cal.LastClosing(d); ok && lc.After(first) && !lc.After(lastRun(svc, inst.ID, t)) {
				want++
			}
		}
		if closed != want {
			t.Fatalf("seed %d (%s): %d days closed, want %d", seed, tz, closed, want)
		}
	}
}

// lastRun is the last instant the day job evaluated institution id.
func lastRun(svc *Service, id int64, t *testing.T) time.Time {
	inst, err := svc.store.Institution(t.Context(), id)
	if err != nil || inst.Day.Checked == nil {
		t.Fatalf("no evaluation recorded: %v", err)
	}
	return *inst.Day.Checked
}
