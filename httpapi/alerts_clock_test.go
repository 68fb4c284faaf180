package httpapi_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/queueless/queueless/internal/app"
	"github.com/queueless/queueless/internal/testapp"
)

// TestAlertsRealClock runs a whole alert lifecycle on the real clock,
// evaluated only by the River periodic job (every second), with each
// threshold "minute" a second (alerts.Thresholds.Unit, the test seam):
// raised, escalated to p0, and resolved when a call clears the stall, each
// change one webhook.
func TestAlertsRealClock(t *testing.T) {
	t.Parallel()
	for _, mode := range testapp.Modes {
		t.Run(string(mode), func(t *testing.T) {
			t.Parallel()
			s := testapp.Start(t, mode, func(c *app.Config) { c.Alerts.Unit, c.Alerts.Interval = time.Second, time.Second })
			recv := newHookReceiver(t)
			createHook(t, s, recv.srv.URL+"/all", nil)
			id := s.CreateInstitution(map[string]any{"stall_minutes": 2, "escalation_minutes": []int{2, 3, 4}})
			staff := s.StaffToken(id)
			var tk struct {
				IssuedAt time.Time `json:"issued_at"`
			}
			s.Do(testapp.Request{Method: "POST", Path: testapp.Path("/api/v1/institutions/%d/tickets", id), Body: map[string]any{}}).JSON(t, &tk)
			joined := tk.IssuedAt // the server's time of the join, not when its answer came
			deadline := joined.Add(60 * time.Second)
			var level string
			for time.Now().Before(deadline) && level != "p0" {
				time.Sleep(100 * time.Millisecond)
				if got := listAlerts(t, s, staff, "?status=open"); len(got) == 1 {
					level = got[0].Level
				} else if len(got) > 1 {
					t.Fatalf("two open alerts: %+v", got)
				}
			}
			if level != "p0" {
				t.Fatalf("no p0 alert within 60 s of the join (last level %q)", level)
			}
			// Stalled 2 s, then p0 4 s after the raise: never sooner than 6 s
			// after the join.
			if took := time.Since(joined); took < 6*time.Second {
				t.Fatalf("p0 after %s: sooner than the thresholds allow", took)
			}
			if r := s.Do(testapp.Request{Method: "POST", Path: testapp.Path("/api/v1/institutions/%d/advance", id), Token: staff}); r.Status != http.StatusOK {
				t.Fatalf("advance: %d %s", r.Status, r.Body)
			}
			for time.Now().Before(deadline) && len(listAlerts(t, s, staff, "?status=open")) > 0 {
				time.Sleep(100 * time.Millisecond)
			}
			got := listAlerts(t, s, staff, "")
			if len(got) != 1 || got[0].ResolvedBy != "system" {
				t.Fatalf("alerts after the call: %+v", got)
			}
			recv.waitFor(t, "/all", []string{"alert.raised initiated", "alert.escalated p2", "alert.escalated p1", "alert.escalated p0", "alert.resolved p0"})
		})
	}
}
