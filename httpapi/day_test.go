package httpapi_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/queueless/queueless/internal/app"
	"github.com/queueless/queueless/internal/testapp"
	"github.com/queueless/queueless/queue"
)

// TestHTTPOfficeDaySettings: the day settings through create and PATCH,
// a 400 naming the field for bad input, the slip in local time, and the
// draws route's refusals.
func TestHTTPOfficeDaySettings(t *testing.T) {
	t.Parallel()
	eachMode(t, func(t *testing.T, s *testapp.Server) {
		id := s.CreateInstitution(nil)
		path := testapp.Path("/api/v1/institutions/%d", id)
		inst := s.Do(testapp.Request{Method: "GET", Path: path}).Map(t)
		if inst["timezone"] != "UTC" || inst["hours"] != nil || inst["at_close"] != "expire" || inst["prequeue_minutes"] != 0.0 {
			t.Fatalf("a v1 institution's day settings: %v %v %v %v", inst["timezone"], inst["hours"], inst["at_close"], inst["prequeue_minutes"])
		}
		for _, tc := range []struct {
			body  map[string]any
			field string
		}{
			{map[string]any{"timezone": "Nowhere/Special"}, "timezone"},
			{map[string]any{"timezone": nil}, "timezone"},
			{map[string]any{"hours": map[string]any{"mon": [][]string{{"09:00", "25:00"}}}}, "hours.mon[0]"},
			{map[string]any{"hours": map[string]any{"mon": []string{"09:00"}}}, "hours"},
			{map[string]any{"closed_dates": []string{"25/12/2026"}}, "closed_dates[0]"},
			{map[string]any{"join_cutoff_minutes": 500}, "join_cutoff_minutes"},
			{map[string]any{"prequeue_minutes": 121}, "prequeue_minutes"},
			{map[string]any{"at_close": "never"}, "at_close"},
		} {
			r := s.Do(testapp.Request{Method: "PATCH", Path: path, Token: testapp.AdminToken, Body: tc.body})
			wantError(t, r, 400, "invalid_request")
			if msg := r.Map(t)["message"].(string); !strings.Contains(msg, tc.field) {
				t.Errorf("PATCH %v: message %q does not name %s", tc.body, msg, tc.field)
			}
		}
		staff := s.StaffToken(id)
		wantError(t, s.Do(testapp.Request{Method: "PATCH", Path: path, Token: staff, Body: map[string]any{"join_cutoff_minutes": 10}}), 403, "forbidden")

		r := s.Do(testapp.Request{Method: "PATCH", Path: path, Token: testapp.AdminToken, Body: map[string]any{
			"timezone": "Asia/Manila", "hours": map[string]any{"mon": [][]string{{"08:00", "12:00"}, {"13:00", "17:00"}}},
			"closed_dates": []string{"2026-12-25"}, "join_cutoff_minutes": 15, "at_close": "carry_over", "prequeue_minutes": 20}})
		if r.Status != 200 {
			t.Fatalf("PATCH day settings: %d %s", r.Status, r.Body)
		}
		got := r.Map(t)
		hours, _ := json.Marshal(got["hours"].(map[string]any)["mon"])
		if got["timezone"] != "Asia/Manila" || string(hours) != `[["08:00","12:00"],["13:00","17:00"]]` || got["join_cutoff_minutes"] != 15.0 ||
			got["at_close"] != "carry_over" || got["prequeue_minutes"] != 20.0 {
			t.Fatalf("PATCHed settings: %s", r.Body)
		}
		// hours null: no schedule again; the office opens by hand.
		r = s.Do(testapp.Request{Method: "PATCH", Path: path, Token: testapp.AdminToken, Body: map[string]any{"hours": nil, "status": "open"}})
		if r.Status != 200 || r.Map(t)["hours"] != nil {
			t.Fatalf("hours null: %d %s", r.Status, r.Body)
		}
		// A walk-in's slip prints the time in Manila.
		walkIn := s.Do(testapp.Request{Method: "POST", Path: path + "/tickets", Token: staff, Body: map[string]any{}})
		if walkIn.Status != 201 {
			t.Fatalf("walk-in: %d %s", walkIn.Status, walkIn.Body)
		}
		slip := s.Do(testapp.Request{Method: "GET", Path: "/t/" + walkIn.Map(t)["id"].(string)})
		issued, _ := time.Parse(time.RFC3339Nano, walkIn.Map(t)["issued_at"].(string))
		manila, _ := time.LoadLocation("Asia/Manila")
		if want := issued.In(manila).Format("2 Jan 2006 15:04") + " PST"; slip.Status != 200 || !strings.Contains(string(slip.Body), want) {
			t.Fatalf("slip does not print %q: %s", want, slip.Body)
		}

		wantError(t, s.Do(testapp.Request{Method: "GET", Path: path + "/draws/2026-13-01"}), 400, "invalid_request")
		wantError(t, s.Do(testapp.Request{Method: "GET", Path: path + "/draws/2026-11-23"}), 404, "not_found")
		wantError(t, s.Do(testapp.Request{Method: "GET", Path: "/api/v1/institutions/999999/draws/2026-11-23"}), 404, "not_found")
	})
}

// TestHTTPOfficeDayJob: on both modes, the River day job on the server
// opens an office at its (second-precision) opening, draws the tickets
// held in its pre-queue window, tells a phone following one of them live,
// and publishes a draw anyone can recompute; then closes it.
func TestHTTPOfficeDayJob(t *testing.T) {
	t.Parallel()
	fast := []testapp.Option{func(c *app.Config) { c.Day.Interval = time.Second }}
	eachModeWith(t, fast, func(t *testing.T, s *testapp.Server) {
		now := time.Now().UTC()
		if end := now.Add(40 * time.Second); end.Day() != now.Day() {
			time.Sleep(time.Until(end))
			now = time.Now().UTC()
		}
		midnight := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
		clock := func(t time.Time) string { return time.Time{}.Add(t.Sub(midnight)).Format("15:04:05") }
		open := now.Add(8 * time.Second).Truncate(time.Second)
		closing := open.Add(8 * time.Second)
		day := queue.DayKeys[now.Weekday()]
		r := s.Do(testapp.Request{Method: "POST", Path: "/api/v1/institutions", Token: testapp.AdminToken, Body: map[string]any{
			"name": "Drawn Office", "kind": "government", "timezone": "UTC", "prequeue_minutes": 1,
			"hours": map[string]any{day: [][]string{{clock(open), clock(closing)}}}}})
		if r.Status != http.StatusCreated || r.Map(t)["status"] != "closed" {
			t.Fatalf("create with hours: %d %s", r.Status, r.Body)
		}
		id := int64(r.Map(t)["id"].(float64))
		path := testapp.Path("/api/v1/institutions/%d", id)

		var held []string
		for range 4 {
			j := s.Do(testapp.Request{Method: "POST", Path: path + "/tickets", Body: map[string]any{}})
			if j.Status != 201 || j.Map(t)["status"] != "held" || j.Map(t)["number"] != nil || j.Map(t)["label"] != nil {
				t.Fatalf("pre-queue join: %d %s", j.Status, j.Body)
			}
			held = append(held, j.Map(t)["id"].(string))
		}
		date := now.Format(time.DateOnly)
		before := s.Do(testapp.Request{Method: "GET", Path: path + "/draws/" + date})
		if before.Status != 200 || !strings.Contains(string(before.Body), `"seed":null`) {
			t.Fatalf("draw before the opening: %d %s", before.Status, before.Body)
		}

		ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
		defer cancel()
		ws, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(s.URL, "http")+"/api/v1/tickets/"+held[0]+"/live", nil)
		if err != nil {
			t.Fatal(err)
		}
		defer ws.CloseNow()
		// The phone hears drawn, live, once the job draws at the opening.
		for heard := false; !heard; {
			_, data, err := ws.Read(ctx)
			if err != nil {
				t.Fatalf("live ticket: no drawn notification: %v", err)
			}
			var f struct {
				Type         string
				Notification struct{ Event string }
			}
			_ = json.Unmarshal(data, &f)
			heard = f.Type == "notification" && f.Notification.Event == "drawn"
		}
		if late := time.Since(open); late > 5*time.Second || late < 0 {
			t.Fatalf("drawn %s after the opening", late)
		}
		inst := s.Do(testapp.Request{Method: "GET", Path: path}).Map(t)
		if inst["status"] != "open" || inst["last_issued"] != 4.0 {
			t.Fatalf("after the opening: %v, last issued %v", inst["status"], inst["last_issued"])
		}
		var draws map[string]queue.Draw
		s.Do(testapp.Request{Method: "GET", Path: path + "/draws/" + date}).JSON(t, &draws)
		d := draws["A"]
		if err := queue.VerifyDraw(d); err != nil || len(d.Order) != 4 {
			t.Fatalf("published draw: %v %+v", err, d)
		}
		for k, dg := range d.Order {
			for _, tid := range held {
				sum := sha256.Sum256([]byte(tid))
				if hex.EncodeToString(sum[:]) != dg {
					continue
				}
				tk := s.Do(testapp.Request{Method: "GET", Path: "/api/v1/tickets/" + tid}).Map(t)
				if tk["number"] != float64(k+1) || tk["label"] != queue.FormatLabel("A", int64(k+1)) {
					t.Fatalf("drawn %d: number %v label %v", k+1, tk["number"], tk["label"])
				}
			}
		}
		// The close: the day job closes the office and expires what waits.
		deadline := time.Now().Add(time.Until(closing) + 10*time.Second)
		for {
			tk := s.Do(testapp.Request{Method: "GET", Path: "/api/v1/tickets/" + held[1]}).Map(t)
			if tk["status"] == "expired" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("ticket still %v after the closing", tk["status"])
			}
			time.Sleep(200 * time.Millisecond)
		}
		if st := s.Do(testapp.Request{Method: "GET", Path: path}).Map(t)["status"]; st != "closed" {
			t.Fatalf("after the closing: %v", st)
		}
	})
}
