package httpapi_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/queueless/queueless/internal/app"
	"github.com/queueless/queueless/internal/testapp"
)

// testClock is real time plus an offset the test moves: tickets, calls
// and openings happen at real times (the queue's clock), and the alert
// evaluation and feedback rule see them minutes or hours later.
type testClock struct{ offset atomic.Int64 }

func (c *testClock) Now() time.Time      { return time.Now().Add(time.Duration(c.offset.Load())) }
func (c *testClock) Set(d time.Duration) { c.offset.Store(int64(d)) }
func (c *testClock) option() testapp.Option {
	return func(cfg *app.Config) { cfg.Alerts.Now = c.Now; cfg.Alerts.Interval = time.Hour }
}
func minutes(n int) time.Duration             { return time.Duration(n) * time.Minute }
func alertOpts(c *testClock) []testapp.Option { return []testapp.Option{c.option()} }
func (c *testClock) String() string           { return time.Duration(c.offset.Load()).String() }

// hookReceiver counts the alert webhooks each of its paths receives, by
// event and level, dropping repeats by X-QueueLess-Delivery.
type hookReceiver struct {
	srv  *httptest.Server
	mu   sync.Mutex
	seen map[string]bool
	got  map[string][]string // path -> "event level" in arrival order
}

func newHookReceiver(t *testing.T) *hookReceiver {
	r := &hookReceiver{seen: map[string]bool{}, got: map[string][]string{}}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		var p struct {
			Event string
			Alert struct{ Level, Kind string }
		}
		_ = json.Unmarshal(body, &p)
		r.mu.Lock()
		defer r.mu.Unlock()
		id := req.Header.Get("X-QueueLess-Delivery")
		if !r.seen[id] {
			r.seen[id] = true
			if p.Event != req.Header.Get("X-QueueLess-Event") {
				t.Errorf("payload event %q, header %q", p.Event, req.Header.Get("X-QueueLess-Event"))
			}
			r.got[req.URL.Path] = append(r.got[req.URL.Path], p.Event+" "+p.Alert.Level)
		}
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *hookReceiver) list(path string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.got[path])
}

// waitFor waits until path has received want (in any order), then a
// moment more to see that nothing else comes.
func (r *hookReceiver) waitFor(t *testing.T, path string, want []string) {
	t.Helper()
	sorted := func(s []string) string { s = slices.Clone(s); slices.Sort(s); return strings.Join(s, ",") }
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) && len(r.list(path)) < len(want) {
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond)
	if got := r.list(path); sorted(got) != sorted(want) {
		t.Fatalf("webhook %s received %v, want %v", path, got, want)
	}
}

func createHook(t *testing.T, s *testapp.Server, url string, levels []string) {
	t.Helper()
	body := map[string]any{"url": url, "events": []string{"alert.raised", "alert.escalated", "alert.resolved"}}
	if levels != nil {
		body["levels"] = levels
	}
	r := s.Do(testapp.Request{Method: "POST", Path: "/api/v1/webhooks", Token: testapp.AdminToken, Body: body})
	if r.Status != http.StatusCreated {
		t.Fatalf("create webhook: %d %s", r.Status, r.Body)
	}
	var w struct{ Levels []string }
	r.JSON(t, &w)
	if !slices.Equal(w.Levels, append([]string{}, levels...)) {
		t.Fatalf("webhook levels = %v, want %v", w.Levels, levels)
	}
}

type alertJSON struct {
	ID            int64
	InstitutionID int64 `json:"institution_id"`
	Kind, Level   string
	OpenedAt      time.Time  `json:"opened_at"`
	EscalatedAt   *time.Time `json:"escalated_at"`
	ResolvedAt    *time.Time `json:"resolved_at"`
	ResolvedBy    string     `json:"resolved_by"`
	Detail        struct {
		Waiting          int64
		ThresholdMinutes int `json:"threshold_minutes"`
	}
}

func listAlerts(t *testing.T, s *testapp.Server, token, query string) []alertJSON {
	t.Helper()
	r := s.Do(testapp.Request{Method: "GET", Path: "/api/v1/alerts" + query, Token: token})
	if r.Status != http.StatusOK {
		t.Fatalf("GET alerts%s: %d %s", query, r.Status, r.Body)
	}
	var out struct{ Items []alertJSON }
	r.JSON(t, &out)
	return out.Items
}

// evaluate runs one evaluation of every institution now (the periodic
// job's work, called directly so that the test decides when).
func evaluate(t *testing.T, s *testapp.Server) {
	t.Helper()
	if _, err := s.App.AlertEvaluator.EvaluateAll(context.Background()); err != nil {
		t.Fatalf("evaluate: %v", err)
	}
}

// TestHTTPAlertLifecycle: thresholds on the institution, a queue that
// stalls raised, escalated to each level, auto-resolved when a call clears
// it, raised again and resolved by staff, with exactly one webhook per
// level change to each webhook that asked for the level; both modes.
func TestHTTPAlertLifecycle(t *testing.T) {
	t.Parallel()
	for _, mode := range testapp.Modes {
		t.Run(string(mode), func(t *testing.T) {
			t.Parallel()
			clock := &testClock{}
			s := testapp.Start(t, mode, alertOpts(clock)...)
			recv := newHookReceiver(t)

			// Thresholds: created, returned, validated naming the field.
			id := s.CreateInstitution(map[string]any{"stall_minutes": 10, "wait_sla_minutes": 1440, "escalation_minutes": []int{15, 30, 60}})
			r := s.Do(testapp.Request{Method: "GET", Path: testapp.Path("/api/v1/institutions/%d", id)})
			var inst struct {
				Stall int   `json:"stall_minutes"`
				SLA   int   `json:"wait_sla_minutes"`
				Esc   []int `json:"escalation_minutes"`
			}
			r.JSON(t, &inst)
			if inst.Stall != 10 || inst.SLA != 1440 || !slices.Equal(inst.Esc, []int{15, 30, 60}) {
				t.Fatalf("institution thresholds = %s", r.Body)
			}
			for body, field := range map[string]string{
				`{"stall_minutes": 0}`:                 "stall_minutes",
				`{"wait_sla_minutes": 1441}`:           "wait_sla_minutes",
				`{"escalation_minutes": [30, 15, 60]}`: "escalation_minutes",
				`{"escalation_minutes": [1, 2]}`:       "escalation_minutes",
				`{"escalation_minutes": null}`:         "escalation_minutes",
			} {
				r := s.Do(testapp.Request{Method: "PATCH", Path: testapp.Path("/api/v1/institutions/%d", id), Token: testapp.AdminToken, Body: body})
				wantError(t, r, http.StatusBadRequest, "invalid_request")
				if !strings.Contains(string(r.Body), field) {
					t.Fatalf("PATCH %s: message does not name %s: %s", body, field, r.Body)
				}
			}
			other := s.CreateInstitution(map[string]any{"stall_minutes": 5})
			r = s.Do(testapp.Request{Method: "PATCH", Path: testapp.Path("/api/v1/institutions/%d", other), Token: testapp.AdminToken,
				Body: map[string]any{"escalation_minutes": []int{20, 40, 80}}})
			if m := r.Map(t); r.Status != http.StatusOK || m["stall_minutes"] != 5.0 || m["wait_sla_minutes"] != 60.0 || len(m["escalation_minutes"].([]any)) != 3 {
				t.Fatalf("PATCH escalation_minutes: %d %s", r.Status, r.Body)
			}
			r = s.Do(testapp.Request{Method: "PATCH", Path: testapp.Path("/api/v1/institutions/%d", other), Token: s.StaffToken(other), Body: map[string]any{"stall_minutes": 7}})
			wantError(t, r, http.StatusForbidden, "forbidden")
			r = s.Do(testapp.Request{Method: "POST", Path: "/api/v1/webhooks", Token: testapp.AdminToken,
				Body: map[string]any{"url": recv.srv.URL, "events": []string{"alert.raised"}, "levels": []string{"p3"}}})
			wantError(t, r, http.StatusBadRequest, "invalid_request")

			// Webhooks: every level, p1 only, initiated and p0; one for
			// another institution.
			createHook(t, s, recv.srv.URL+"/all", nil)
			createHook(t, s, recv.srv.URL+"/p1", []string{"p1"})
			createHook(t, s, recv.srv.URL+"/edges", []string{"initiated", "p0"})
			r = s.Do(testapp.Request{Method: "POST", Path: "/api/v1/webhooks", Token: testapp.AdminToken,
				Body: map[string]any{"url": recv.srv.URL + "/elsewhere", "events": []string{"alert.raised"}, "institution_ids": []int64{other}}})
			if r.Status != http.StatusCreated {
				t.Fatalf("webhook: %d %s", r.Status, r.Body)
			}

			staff := s.StaffToken(id)
			tk := s.Do(testapp.Request{Method: "POST", Path: testapp.Path("/api/v1/institutions/%d/tickets", id), Body: map[string]any{}}).Map(t)
			if tk["id"] == nil {
				t.Fatalf("join: %v", tk)
			}

			step := func(m int) { clock.Set(minutes(m)); evaluate(t, s) }
			step(9) // nobody called for 9 minutes: not yet
			if got := listAlerts(t, s, staff, "?status=open"); len(got) != 0 {
				t.Fatalf("alerts at +9 min: %+v", got)
			}
			step(11) // raised
			got := listAlerts(t, s, staff, "?status=open")
			if len(got) != 1 || got[0].Kind != "queue_stalled" || got[0].Level != "initiated" || got[0].InstitutionID != id ||
				got[0].EscalatedAt != nil || got[0].Detail.Waiting != 1 || got[0].Detail.ThresholdMinutes != 10 {
				t.Fatalf("alerts at +11 min: %+v", got)
			}
			first := got[0].ID
			step(12) // nothing new: never a second open alert
			for _, c := range []struct {
				at    int
				level string
			}{{27, "p2"}, {42, "p1"}, {72, "p0"}} {
				step(c.at)
				got = listAlerts(t, s, testapp.AdminToken, testapp.Path("?status=open&institution_id=%d", id))
				if len(got) != 1 || got[0].ID != first || got[0].Level != c.level || got[0].EscalatedAt == nil {
					t.Fatalf("alerts at +%d min: %+v, want one at %s", c.at, got, c.level)
				}
			}
			metrics := s.Do(testapp.Request{Method: "GET", Path: "/metrics"})
			if !strings.Contains(string(metrics.Body), `queueless_alerts_open{kind="queue_stalled",level="p0"} 1`) {
				t.Fatalf("/metrics lacks the open p0 alert")
			}

			// A call clears the stall: resolved by the system.
			r = s.Do(testapp.Request{Method: "POST", Path: testapp.Path("/api/v1/institutions/%d/advance", id), Token: staff})
			if r.Status != http.StatusOK {
				t.Fatalf("advance: %d %s", r.Status, r.Body)
			}
			step(73)
			got = listAlerts(t, s, staff, "?status=resolved")
			if len(got) != 1 || got[0].ID != first || got[0].ResolvedAt == nil || got[0].ResolvedBy != "system" || got[0].Level != "p0" {
				t.Fatalf("resolved alerts: %+v", got)
			}

			// Raised again, resolved by staff: 200, then 409; 404 for none;
			// 403 for another institution's staff.
			s.Do(testapp.Request{Method: "POST", Path: testapp.Path("/api/v1/institutions/%d/tickets", id), Body: map[string]any{}})
			step(90)
			got = listAlerts(t, s, staff, "?status=open")
			if len(got) != 1 || got[0].ID == first || got[0].Level != "initiated" {
				t.Fatalf("alerts after the second stall: %+v", got)
			}
			second := got[0].ID
			r = s.Do(testapp.Request{Method: "POST", Path: testapp.Path("/api/v1/alerts/%d/resolve", second), Token: s.StaffToken(other)})
			wantError(t, r, http.StatusForbidden, "forbidden")
			if got := listAlerts(t, s, s.StaffToken(other), ""); len(got) != 0 {
				t.Fatalf("another institution's staff see %+v", got)
			}
			r = s.Do(testapp.Request{Method: "GET", Path: testapp.Path("/api/v1/alerts?institution_id=%d", id), Token: s.StaffToken(other)})
			wantError(t, r, http.StatusForbidden, "forbidden")
			r = s.Do(testapp.Request{Method: "POST", Path: testapp.Path("/api/v1/alerts/%d/resolve", second), Token: staff})
			var resolved alertJSON
			r.JSON(t, &resolved)
			if r.Status != http.StatusOK || resolved.ResolvedAt == nil || !strings.HasPrefix(resolved.ResolvedBy, "token:") {
				t.Fatalf("resolve: %d %s", r.Status, r.Body)
			}
			r = s.Do(testapp.Request{Method: "POST", Path: testapp.Path("/api/v1/alerts/%d/resolve", second), Token: staff})
			wantError(t, r, http.StatusConflict, "invalid_state")
			r = s.Do(testapp.Request{Method: "POST", Path: "/api/v1/alerts/999999/resolve", Token: testapp.AdminToken})
			wantError(t, r, http.StatusNotFound, "not_found")
			r = s.Do(testapp.Request{Method: "GET", Path: "/api/v1/alerts"})
			wantError(t, r, http.StatusUnauthorized, "unauthorized")
			r = s.Do(testapp.Request{Method: "GET", Path: "/api/v1/alerts?status=maybe", Token: staff})
			wantError(t, r, http.StatusBadRequest, "invalid_request")

			step(95) // staff said "we know": silent for a full stall time
			if got := listAlerts(t, s, staff, "?status=open"); len(got) != 0 {
				t.Fatalf("raised again 5 min after a staff resolve: %+v", got)
			}
			step(101)
			if got := listAlerts(t, s, staff, "?status=open"); len(got) != 1 {
				t.Fatalf("not raised again a full stall time after the staff resolve: %+v", got)
			}

			// One webhook per level change, to those that asked for it.
			recv.waitFor(t, "/all", []string{"alert.raised initiated", "alert.escalated p2", "alert.escalated p1", "alert.escalated p0",
				"alert.resolved p0", "alert.raised initiated", "alert.resolved initiated", "alert.raised initiated"})
			recv.waitFor(t, "/p1", []string{"alert.escalated p1", "alert.resolved p0"})
			recv.waitFor(t, "/edges", []string{"alert.raised initiated", "alert.escalated p0", "alert.resolved p0",
				"alert.raised initiated", "alert.resolved initiated", "alert.raised initiated"})
			recv.waitFor(t, "/elsewhere", nil)
		})
	}
}
