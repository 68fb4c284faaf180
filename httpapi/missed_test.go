package httpapi_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/queueless/queueless/internal/app"
	"github.com/queueless/queueless/internal/testapp"
)

// eachMissedTurnsOffice runs fn on both modes with a 1 s grace period (a
// called ticket misses its turn quickly), an institution without a
// priority lane, its path and a staff token for it.
func eachMissedTurnsOffice(t *testing.T, fn func(t *testing.T, s *testapp.Server, id int64, path, staff string)) {
	shortGrace := []testapp.Option{func(c *app.Config) { c.GracePeriod = time.Second }}
	eachModeWith(t, shortGrace, func(t *testing.T, s *testapp.Server) {
		id := s.CreateInstitution(map[string]any{"priority_run": 0})
		fn(t, s, id, testapp.Path("/api/v1/institutions/%d", id), s.StaffToken(id))
	})
}

// TestHTTPMissedTurns drives requeue, defer, transfer, their settings and
// the fairness log through HTTP on both modes, with a live ticket stream
// watching a ticket whose place the others change.
func TestHTTPMissedTurns(t *testing.T) {
	t.Parallel()
	eachMissedTurnsOffice(t, func(t *testing.T, s *testapp.Server, id int64, path, staff string) {
		inst := s.Do(testapp.Request{Method: "GET", Path: path}).Map(t)
		if inst["rejoin_window_seconds"] != 600.0 || inst["requeue_after"] != 3.0 || inst["max_requeues"] != 1.0 {
			t.Fatalf("settings of a new institution: %v %v %v", inst["rejoin_window_seconds"], inst["requeue_after"], inst["max_requeues"])
		}
		for _, tc := range []struct {
			body  map[string]any
			token string
			code  string
		}{
			{map[string]any{"rejoin_window_seconds": 3601}, testapp.AdminToken, "rejoin_window_seconds"},
			{map[string]any{"requeue_after": -1}, testapp.AdminToken, "requeue_after"},
			{map[string]any{"max_requeues": 6}, testapp.AdminToken, "max_requeues"},
			{map[string]any{"max_requeues": nil}, testapp.AdminToken, "max_requeues"},
			{map[string]any{"requeue_after": 2}, staff, "forbidden"},
		} {
			r := s.Do(testapp.Request{Method: "PATCH", Path: path, Token: tc.token, Body: tc.body})
			if tc.code == "forbidden" {
				wantError(t, r, 403, "forbidden")
				continue
			}
			wantError(t, r, 400, "invalid_request")
			if msg := r.Map(t)["message"].(string); !strings.Contains(msg, tc.code) {
				t.Errorf("PATCH %v: message %q does not name the field", tc.body, msg)
			}
		}
		r := s.Do(testapp.Request{Method: "PATCH", Path: path, Token: testapp.AdminToken, Body: map[string]any{"requeue_after": 2, "max_requeues": 2}})
		if r.Status != 200 || r.Map(t)["requeue_after"] != 2.0 || r.Map(t)["max_requeues"] != 2.0 {
			t.Fatalf("admin PATCH settings: %d %s", r.Status, r.Body)
		}

		var ids []string
		for range 6 {
			r := s.Do(testapp.Request{Method: "POST", Path: path + "/tickets", Body: map[string]any{"near_turn_threshold": 1}})
			if r.Status != http.StatusCreated {
				t.Fatalf("join: %d %s", r.Status, r.Body)
			}
			ids = append(ids, r.Map(t)["id"].(string))
		}
		// A phone follows the last ticket live.
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		ws, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(s.URL, "http")+"/api/v1/tickets/"+ids[5]+"/live", nil)
		if err != nil {
			t.Fatal(err)
		}
		defer ws.CloseNow()
		waitAhead := func(want float64) {
			t.Helper()
			for {
				_, data, err := ws.Read(ctx)
				if err != nil {
					t.Fatalf("live ticket: waiting for people_ahead %v: %v", want, err)
				}
				var f struct {
					Type   string         `json:"type"`
					Ticket map[string]any `json:"ticket"`
				}
				_ = json.Unmarshal(data, &f)
				if f.Ticket != nil && f.Ticket["people_ahead"] == want {
					return
				}
			}
		}
		waitAhead(5)

		advance := func() map[string]any {
			t.Helper()
			r := s.Do(testapp.Request{Method: "POST", Path: path + "/advance", Token: staff, Body: map[string]any{"counter": "1"}})
			if r.Status != 200 {
				t.Fatalf("advance: %d %s", r.Status, r.Body)
			}
			return r.Map(t)
		}
		advance() // calls 1
		tpath := "/api/v1/tickets/" + ids[0]
		for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(100 * time.Millisecond) {
			// The grace period is a second: the sweeper or an advance expires it.
			if s.Do(testapp.Request{Method: "GET", Path: tpath}).Map(t)["status"] == "expired" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("ticket 1 never expired")
			}
		}
		advance() // calls 2
		wantError(t, s.Do(testapp.Request{Method: "POST", Path: "/api/v1/tickets/" + ids[2] + "/requeue"}), 409, "invalid_state")
		wantError(t, s.Do(testapp.Request{Method: "POST", Path: "/api/v1/tickets/not-a-uuid/requeue"}), 400, "invalid_request")
		r = s.Do(testapp.Request{Method: "POST", Path: tpath + "/requeue"})
		if r.Status != 200 {
			t.Fatalf("citizen requeue: %d %s", r.Status, r.Body)
		}
		if got := r.Map(t); got["status"] != "waiting" || got["people_ahead"] != 2.0 || got["label"] != "A-001" {
			t.Fatalf("requeued ticket: %v", got)
		}
		waitAhead(4) // 3, 4, 1, 5 ahead of 6
		notes := s.Do(testapp.Request{Method: "GET", Path: tpath + "/notifications"}).Map(t)["items"].([]any)
		if last := notes[len(notes)-1].(map[string]any); last["event"] != "requeued" {
			t.Fatalf("last notification %v, want requeued", last)
		}

		// Defer: the first in line lets two go ahead.
		wantError(t, s.Do(testapp.Request{Method: "POST", Path: "/api/v1/tickets/" + ids[2] + "/defer", Body: map[string]any{"places": 0}}), 400, "invalid_request")
		wantError(t, s.Do(testapp.Request{Method: "POST", Path: "/api/v1/tickets/" + ids[2] + "/defer", Body: map[string]any{}}), 400, "invalid_request")
		wantError(t, s.Do(testapp.Request{Method: "POST", Path: "/api/v1/tickets/" + ids[2] + "/defer", Body: map[string]any{"places": 2, "x": 1}}), 400, "invalid_request")
		r = s.Do(testapp.Request{Method: "POST", Path: "/api/v1/tickets/" + ids[2] + "/defer", Body: map[string]any{"places": 2}})
		if r.Status != 200 || r.Map(t)["people_ahead"] != 2.0 {
			t.Fatalf("defer by 2: %d %s", r.Status, r.Body)
		}

		// Transfer (staff): ticket 6 to a new service C, at the front.
		if r := s.Do(testapp.Request{Method: "PUT", Path: path + "/services", Token: testapp.AdminToken,
			Body: map[string]any{"services": []map[string]any{{"code": "A", "name": "Assessment"}, {"code": "C", "name": "Cashier"}}}}); r.Status != 200 {
			t.Fatalf("put services: %d %s", r.Status, r.Body)
		}
		xpath := "/api/v1/tickets/" + ids[5] + "/transfer"
		wantError(t, s.Do(testapp.Request{Method: "POST", Path: xpath, Body: map[string]any{"service": "C", "placement": "front"}}), 401, "unauthorized")
		wantError(t, s.Do(testapp.Request{Method: "POST", Path: xpath, Token: staff, Body: map[string]any{"service": "C", "placement": "middle"}}), 400, "invalid_request")
		wantError(t, s.Do(testapp.Request{Method: "POST", Path: xpath, Token: staff, Body: map[string]any{"service": "Z", "placement": "front"}}), 404, "not_found")
		other := s.StaffToken(s.CreateInstitution(nil))
		wantError(t, s.Do(testapp.Request{Method: "POST", Path: xpath, Token: other, Body: map[string]any{"service": "C", "placement": "front"}}), 403, "forbidden")
		r = s.Do(testapp.Request{Method: "POST", Path: xpath, Token: staff, Body: map[string]any{"service": "C", "placement": "front"}})
		if got := r.Map(t); r.Status != 200 || got["service"] != "C" || got["people_ahead"] != 0.0 || got["label"] != "A-006" {
			t.Fatalf("transfer: %d %s", r.Status, r.Body)
		}
		waitAhead(0)

		// Call everyone left in A: 4, 1 (requeued), 3 (deferred), 5.
		for range 4 {
			advance()
		}
		log := s.Do(testapp.Request{Method: "GET", Path: path + "/calls?date=" + time.Now().UTC().Format(time.DateOnly)})
		if log.Status != 200 {
			t.Fatalf("fairness log: %d %s", log.Status, log.Body)
		}
		if strings.Contains(string(log.Body), ids[0]) || strings.Contains(string(log.Body), "phone") || strings.Contains(string(log.Body), "ticket_id") {
			t.Fatalf("the fairness log shows a capability or a phone: %s", log.Body)
		}
		var page struct {
			Items []struct {
				ID      int64   `json:"id"`
				Label   string  `json:"label"`
				Service string  `json:"service"`
				Counter *string `json:"counter"`
				Reason  string  `json:"reason"`
			} `json:"items"`
			NextAfter *int64 `json:"next_after"`
		}
		log.JSON(t, &page)
		var got []string
		for _, c := range page.Items {
			got = append(got, c.Label+":"+c.Reason)
		}
		want := "A-001:in_order A-002:in_order A-004:in_order A-001:requeued A-003:deferred A-005:in_order"
		if strings.Join(got, " ") != want || page.NextAfter != nil {
			t.Fatalf("fairness log %v (next %v), want %s", got, page.NextAfter, want)
		}
		second := s.Do(testapp.Request{Method: "GET", Path: path + "/calls?limit=2&after=" + strconv.FormatInt(page.Items[1].ID, 10)}).Map(t)
		if items := second["items"].([]any); len(items) != 2 || items[0].(map[string]any)["label"] != "A-004" || second["next_after"] == nil {
			t.Fatalf("second page: %v", second)
		}
		wantError(t, s.Do(testapp.Request{Method: "GET", Path: path + "/calls?date=2026-13-01"}), 400, "invalid_request")
		wantError(t, s.Do(testapp.Request{Method: "GET", Path: path + "/calls?limit=0"}), 400, "invalid_request")
		wantError(t, s.Do(testapp.Request{Method: "GET", Path: "/api/v1/institutions/999999/calls"}), 404, "not_found")
		if r := s.Do(testapp.Request{Method: "GET", Path: path + "/calls?date=2000-01-01"}).Map(t); len(r["items"].([]any)) != 0 {
			t.Fatalf("calls of another day: %v", r)
		}

		// The audit trail has each move with its actor.
		evs := s.Do(testapp.Request{Method: "GET", Path: path + "/events?limit=500", Token: staff}).Map(t)["items"].([]any)
		actors := map[string]string{}
		for _, e := range evs {
			e := e.(map[string]any)
			actors[e["kind"].(string)] = e["actor"].(string)
		}
		if actors["ticket.requeued"] != "citizen" || actors["ticket.deferred"] != "citizen" || !strings.HasPrefix(actors["ticket.transferred"], "token:") {
			t.Fatalf("audit actors %v", actors)
		}
	})
}
