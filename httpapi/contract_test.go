package httpapi_test

import (
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/queueless/queueless/internal/testapp"
)

// eachMode runs fn against a fresh server in every mode.
func eachMode(t *testing.T, fn func(t *testing.T, s *testapp.Server)) {
	for _, mode := range testapp.Modes {
		t.Run(string(mode), func(t *testing.T) {
			t.Parallel()
			fn(t, testapp.Start(t, mode))
		})
	}
}

var uuidPattern = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

// wantError checks a response is the contract's error body with status and code.
func wantError(t *testing.T, r testapp.Response, status int, code string) {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status = %d, want %d (body %s)", r.Status, status, r.Body)
	}
	var body map[string]any
	r.JSON(t, &body)
	if body["code"] != code {
		t.Fatalf("code = %v, want %s (body %s)", body["code"], code, r.Body)
	}
	msg, _ := body["message"].(string)
	if msg == "" || strings.Contains(msg, "pgx") || strings.Contains(msg, "SQLSTATE") || strings.Contains(msg, "goroutine") {
		t.Fatalf("message %q is empty or leaks internals", msg)
	}
	if rid, _ := body["request_id"].(string); rid == "" || rid != r.Header.Get("X-Request-ID") {
		t.Fatalf("request_id %q, header %q", rid, r.Header.Get("X-Request-ID"))
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("content type %q", ct)
	}
}

func TestHTTPJourney(t *testing.T) {
	t.Parallel()
	eachMode(t, func(t *testing.T, s *testapp.Server) {
		id := s.CreateInstitution(nil)
		staff := s.StaffToken(id)
		r := s.Do(testapp.Request{Method: "POST", Path: testapp.Path("/api/v1/institutions/%d/tickets", id),
			Body: map[string]any{"phone": "09171234567", "near_turn_threshold": 2}, Header: map[string]string{"X-Request-ID": "my-req.1"}})
		if r.Status != http.StatusCreated || r.Header.Get("X-Request-ID") != "my-req.1" {
			t.Fatalf("join: %d %s (request id %q)", r.Status, r.Body, r.Header.Get("X-Request-ID"))
		}
		ticket := r.Map(t)
		tid, _ := ticket["id"].(string)
		if !uuidPattern.MatchString(tid) || ticket["number"] != 1.0 || ticket["status"] != "notified" || ticket["near_turn_threshold"] != 2.0 {
			t.Fatalf("ticket = %s", r.Body)
		}
		if _, ok := ticket["phone"]; ok {
			t.Fatal("the public ticket shows the phone")
		}
		for _, f := range []string{"people_ahead", "now_serving", "counter", "estimated_wait_seconds", "issued_at", "called_at", "checked_in_at", "completed_at", "updated_at", "institution_id"} {
			if _, ok := ticket[f]; !ok {
				t.Fatalf("ticket lacks %s: %s", f, r.Body)
			}
		}
		r = s.Do(testapp.Request{Method: "POST", Path: testapp.Path("/api/v1/institutions/%d/advance", id), Token: staff, Body: map[string]any{"counter": "3"}})
		if r.Status != http.StatusOK {
			t.Fatalf("advance: %d %s", r.Status, r.Body)
		}
		var adv struct {
			Institution struct {
				NowServing  int64 `json:"now_serving"`
				Version     int64
				RecentCalls []struct {
					Number  int64
					Counter string
				} `json:"recent_calls"`
			}
			Called, Served, Expired []map[string]any
		}
		r.JSON(t, &adv)
		if adv.Institution.NowServing != 1 || len(adv.Called) != 1 || adv.Called[0]["counter"] != "3" || adv.Served == nil || adv.Expired == nil {
			t.Fatalf("advance result = %s", r.Body)
		}
		r = s.Do(testapp.Request{Method: "POST", Path: "/api/v1/tickets/" + tid + "/check-in"})
		if r.Status != http.StatusOK || r.Map(t)["checked_in_at"] == nil {
			t.Fatalf("check-in: %d %s", r.Status, r.Body)
		}
		r = s.Do(testapp.Request{Method: "POST", Path: "/api/v1/tickets/" + tid + "/recall", Token: staff})
		if r.Status != http.StatusOK {
			t.Fatalf("recall: %d %s", r.Status, r.Body)
		}
		r = s.Do(testapp.Request{Method: "POST", Path: testapp.Path("/api/v1/institutions/%d/advance", id), Token: staff})
		r.JSON(t, &adv)
		if len(adv.Served) != 1 || adv.Served[0]["status"] != "served" {
			t.Fatalf("second advance = %s", r.Body)
		}
		r = s.Do(testapp.Request{Method: "GET", Path: "/api/v1/tickets/" + tid + "/notifications"})
		var notes struct {
			Items []struct{ Event, Message, TicketID string }
		}
		r.JSON(t, &notes)
		var evs []string
		for _, n := range notes.Items {
			evs = append(evs, n.Event)
		}
		if strings.Join(evs, ",") != "near_turn,turn_called,turn_called,completed" {
			t.Fatalf("notifications = %v", evs)
		}
		r = s.Do(testapp.Request{Method: "POST", Path: testapp.Path("/api/v1/institutions/%d/announcements", id), Token: staff, Body: map[string]any{"message": "Counter 3 is closing"}})
		if r.Status != http.StatusAccepted || r.Map(t)["message"] != "Counter 3 is closing" {
			t.Fatalf("announce: %d %s", r.Status, r.Body)
		}
		r = s.Do(testapp.Request{Method: "GET", Path: testapp.Path("/api/v1/institutions/%d/tickets?status=served", id), Token: staff})
		var list struct {
			Items     []map[string]any
			NextAfter *int64 `json:"next_after"`
		}
		r.JSON(t, &list)
		if len(list.Items) != 1 || list.Items[0]["phone"] != "09171234567" || list.NextAfter != nil {
			t.Fatalf("staff list = %s", r.Body)
		}
		r = s.Do(testapp.Request{Method: "GET", Path: testapp.Path("/api/v1/institutions/%d/events?limit=3", id), Token: staff})
		var evpage struct {
			Items     []map[string]any
			NextAfter *int64 `json:"next_after"`
		}
		r.JSON(t, &evpage)
		if len(evpage.Items) != 3 || evpage.NextAfter == nil || evpage.Items[1]["kind"] != "ticket.joined" || evpage.Items[1]["request_id"] != "my-req.1" {
			t.Fatalf("events = %s", r.Body)
		}
		r = s.Do(testapp.Request{Method: "PATCH", Path: testapp.Path("/api/v1/institutions/%d", id), Token: staff, Body: map[string]any{"status": "paused"}})
		if r.Status != http.StatusOK || r.Map(t)["status"] != "paused" {
			t.Fatalf("staff pause: %d %s", r.Status, r.Body)
		}
		r = s.Do(testapp.Request{Method: "GET", Path: "/api/v1/institutions"})
		if r.Status != http.StatusOK || !strings.Contains(string(r.Body), `"items"`) {
			t.Fatalf("list institutions: %d %s", r.Status, r.Body)
		}
	})
}

// TestHTTPErrors produces every error status of the contract's tables.
func TestHTTPErrors(t *testing.T) {
	t.Parallel()
	eachMode(t, func(t *testing.T, s *testapp.Server) {
		id := s.CreateInstitution(map[string]any{"capacity": 2})
		other := s.CreateInstitution(nil)
		paused := s.CreateInstitution(map[string]any{"status": "paused"})
		staff := s.StaffToken(id)
		join := func(inst int64, body any) testapp.Response {
			return s.Do(testapp.Request{Method: "POST", Path: testapp.Path("/api/v1/institutions/%d/tickets", inst), Body: body})
		}
		first := join(id, map[string]any{"phone": "09170000000"}).Map(t)
		waitingID := first["id"].(string)
		join(id, nil)
		otherID := join(other, nil).Map(t)["id"].(string)
		missing := "00000000-0000-4000-8000-000000000000"
		inst := func(p string) string { return testapp.Path("/api/v1/institutions/%d%s", id, p) }

		cases := []struct {
			name   string
			req    testapp.Request
			status int
			code   string
		}{
			{"institution not found", testapp.Request{Method: "GET", Path: "/api/v1/institutions/999999"}, 404, "not_found"},
			{"institution id not a number", testapp.Request{Method: "GET", Path: "/api/v1/institutions/abc"}, 400, "invalid_request"},
			{"institution id zero", testapp.Request{Method: "GET", Path: "/api/v1/institutions/0"}, 400, "invalid_request"},
			{"institution id out of range", testapp.Request{Method: "GET", Path: "/api/v1/institutions/99999999999999999999"}, 400, "invalid_request"},
			{"join bad phone", testapp.Request{Method: "POST", Path: inst("/tickets"), Body: map[string]any{"phone": "12345"}}, 400, "invalid_request"},
			{"join bad threshold", testapp.Request{Method: "POST", Path: inst("/tickets"), Body: map[string]any{"near_turn_threshold": 0}}, 400, "invalid_request"},
			{"join unknown field", testapp.Request{Method: "POST", Path: inst("/tickets"), Body: map[string]any{"name": "x"}}, 400, "invalid_request"},
			{"join wrong type", testapp.Request{Method: "POST", Path: inst("/tickets"), Body: map[string]any{"phone": 9171234567}}, 400, "invalid_request"},
			{"join not found", testapp.Request{Method: "POST", Path: "/api/v1/institutions/999999/tickets"}, 404, "not_found"},
			{"join paused", testapp.Request{Method: "POST", Path: testapp.Path("/api/v1/institutions/%d/tickets", paused)}, 409, "institution_closed"},
			{"join duplicate phone", testapp.Request{Method: "POST", Path: inst("/tickets"), Body: map[string]any{"phone": "09170000000"}}, 409, "duplicate_ticket"},
			{"join queue full", testapp.Request{Method: "POST", Path: inst("/tickets")}, 409, "queue_full"},
			{"join too large", testapp.Request{Method: "POST", Path: inst("/tickets"), Body: `{"phone":"` + strings.Repeat("0", 70000) + `"}`}, 413, "too_large"},
			{"join bad idempotency key", testapp.Request{Method: "POST", Path: testapp.Path("/api/v1/institutions/%d/tickets", other), Header: map[string]string{"Idempotency-Key": strings.Repeat("k", 65)}}, 400, "invalid_request"},
			{"ticket malformed", testapp.Request{Method: "GET", Path: "/api/v1/tickets/not-a-uuid"}, 400, "invalid_request"},
			{"ticket not found", testapp.Request{Method: "GET", Path: "/api/v1/tickets/" + missing}, 404, "not_found"},
			{"check-in malformed", testapp.Request{Method: "POST", Path: "/api/v1/tickets/123/check-in"}, 400, "invalid_request"},
			{"check-in not found", testapp.Request{Method: "POST", Path: "/api/v1/tickets/" + missing + "/check-in"}, 404, "not_found"},
			{"check-in not serving", testapp.Request{Method: "POST", Path: "/api/v1/tickets/" + waitingID + "/check-in"}, 409, "invalid_state"},
			{"cancel not found", testapp.Request{Method: "POST", Path: "/api/v1/tickets/" + missing + "/cancel"}, 404, "not_found"},
			{"notifications not found", testapp.Request{Method: "GET", Path: "/api/v1/tickets/" + missing + "/notifications"}, 404, "not_found"},
			{"notifications malformed", testapp.Request{Method: "GET", Path: "/api/v1/tickets/x/notifications"}, 400, "invalid_request"},
			{"advance no token", testapp.Request{Method: "POST", Path: inst("/advance")}, 401, "unauthorized"},
			{"advance unknown token", testapp.Request{Method: "POST", Path: inst("/advance"), Token: "nope"}, 401, "unauthorized"},
			{"advance other institution", testapp.Request{Method: "POST", Path: testapp.Path("/api/v1/institutions/%d/advance", other), Token: staff}, 403, "forbidden"},
			{"advance not found", testapp.Request{Method: "POST", Path: "/api/v1/institutions/999999/advance", Token: testapp.AdminToken}, 404, "not_found"},
			{"advance bad count", testapp.Request{Method: "POST", Path: inst("/advance"), Token: staff, Body: map[string]any{"count": 51}}, 400, "invalid_request"},
			{"advance long counter", testapp.Request{Method: "POST", Path: inst("/advance"), Token: staff, Body: map[string]any{"counter": strings.Repeat("9", 17)}}, 400, "invalid_request"},
			{"recall no token", testapp.Request{Method: "POST", Path: "/api/v1/tickets/" + waitingID + "/recall"}, 401, "unauthorized"},
			{"recall other institution", testapp.Request{Method: "POST", Path: "/api/v1/tickets/" + otherID + "/recall", Token: staff}, 403, "forbidden"},
			{"recall not found", testapp.Request{Method: "POST", Path: "/api/v1/tickets/" + missing + "/recall", Token: staff}, 404, "not_found"},
			{"recall not serving", testapp.Request{Method: "POST", Path: "/api/v1/tickets/" + waitingID + "/recall", Token: staff}, 409, "invalid_state"},
			{"announce empty", testapp.Request{Method: "POST", Path: inst("/announcements"), Token: staff, Body: map[string]any{"message": ""}}, 400, "invalid_request"},
			{"announce too long", testapp.Request{Method: "POST", Path: inst("/announcements"), Token: staff, Body: map[string]any{"message": strings.Repeat("a", 281)}}, 400, "invalid_request"},
			{"announce no token", testapp.Request{Method: "POST", Path: inst("/announcements"), Body: map[string]any{"message": "x"}}, 401, "unauthorized"},
			{"announce forbidden", testapp.Request{Method: "POST", Path: testapp.Path("/api/v1/institutions/%d/announcements", other), Token: staff, Body: map[string]any{"message": "x"}}, 403, "forbidden"},
			{"announce not found", testapp.Request{Method: "POST", Path: "/api/v1/institutions/999999/announcements", Token: testapp.AdminToken, Body: map[string]any{"message": "x"}}, 404, "not_found"},
			{"list unknown status", testapp.Request{Method: "GET", Path: inst("/tickets?status=lost"), Token: staff}, 400, "invalid_request"},
			{"list limit too big", testapp.Request{Method: "GET", Path: inst("/tickets?limit=501"), Token: staff}, 400, "invalid_request"},
			{"list limit zero", testapp.Request{Method: "GET", Path: inst("/tickets?limit=0"), Token: staff}, 400, "invalid_request"},
			{"list no token", testapp.Request{Method: "GET", Path: inst("/tickets")}, 401, "unauthorized"},
			{"list forbidden", testapp.Request{Method: "GET", Path: testapp.Path("/api/v1/institutions/%d/tickets", other), Token: staff}, 403, "forbidden"},
			{"list not found", testapp.Request{Method: "GET", Path: "/api/v1/institutions/999999/tickets", Token: testapp.AdminToken}, 404, "not_found"},
			{"events no token", testapp.Request{Method: "GET", Path: inst("/events")}, 401, "unauthorized"},
			{"patch bad status", testapp.Request{Method: "PATCH", Path: inst(""), Token: staff, Body: map[string]any{"status": "gone"}}, 400, "invalid_request"},
			{"patch no token", testapp.Request{Method: "PATCH", Path: inst(""), Body: map[string]any{"status": "open"}}, 401, "unauthorized"},
			{"patch staff name", testapp.Request{Method: "PATCH", Path: inst(""), Token: staff, Body: map[string]any{"name": "Mine"}}, 403, "forbidden"},
			{"patch not found", testapp.Request{Method: "PATCH", Path: "/api/v1/institutions/999999", Token: testapp.AdminToken, Body: map[string]any{"status": "open"}}, 404, "not_found"},
			{"patch null name", testapp.Request{Method: "PATCH", Path: inst(""), Token: testapp.AdminToken, Body: `{"name": null}`}, 400, "invalid_request"},
			{"create bad kind", testapp.Request{Method: "POST", Path: "/api/v1/institutions", Token: testapp.AdminToken, Body: map[string]any{"name": "A", "kind": "castle"}}, 400, "invalid_request"},
			{"create no name", testapp.Request{Method: "POST", Path: "/api/v1/institutions", Token: testapp.AdminToken, Body: map[string]any{"kind": "bank"}}, 400, "invalid_request"},
			{"create no token", testapp.Request{Method: "POST", Path: "/api/v1/institutions", Body: map[string]any{"name": "A", "kind": "bank"}}, 401, "unauthorized"},
			{"create by staff", testapp.Request{Method: "POST", Path: "/api/v1/institutions", Token: staff, Body: map[string]any{"name": "A", "kind": "bank"}}, 403, "forbidden"},
			{"token bad role", testapp.Request{Method: "POST", Path: "/api/v1/tokens", Token: testapp.AdminToken, Body: map[string]any{"name": "A", "role": "root"}}, 400, "invalid_request"},
			{"token unknown institution", testapp.Request{Method: "POST", Path: "/api/v1/tokens", Token: testapp.AdminToken, Body: map[string]any{"name": "A", "institution_ids": []int{999999}}}, 400, "invalid_request"},
			{"token no token", testapp.Request{Method: "POST", Path: "/api/v1/tokens", Body: map[string]any{"name": "A"}}, 401, "unauthorized"},
			{"token by staff", testapp.Request{Method: "POST", Path: "/api/v1/tokens", Token: staff, Body: map[string]any{"name": "A", "institution_ids": []int64{id}}}, 403, "forbidden"},
			{"wrong content type", testapp.Request{Method: "POST", Path: inst("/advance"), Token: staff, Body: "count=1", Header: map[string]string{"Content-Type": "application/x-www-form-urlencoded"}}, 415, "invalid_request"},
			{"no such route", testapp.Request{Method: "GET", Path: "/api/v1/nothing"}, 404, "not_found"},
			{"wrong method", testapp.Request{Method: "DELETE", Path: inst("")}, 405, "invalid_request"},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				wantError(t, s.Do(c.req), c.status, c.code)
			})
		}
		// cancel of a served ticket is 409
		r := s.Do(testapp.Request{Method: "POST", Path: inst("/advance"), Token: staff})
		if r.Status != 200 {
			t.Fatalf("advance %d %s", r.Status, r.Body)
		}
		s.Do(testapp.Request{Method: "POST", Path: "/api/v1/tickets/" + waitingID + "/check-in"})
		s.Do(testapp.Request{Method: "POST", Path: inst("/advance"), Token: staff})
		wantError(t, s.Do(testapp.Request{Method: "POST", Path: "/api/v1/tickets/" + waitingID + "/cancel"}), 409, "invalid_state")
		// a generated request id is a UUID
		r = s.Do(testapp.Request{Method: "GET", Path: "/healthz", Header: map[string]string{"X-Request-ID": "bad id with spaces"}})
		if !uuidPattern.MatchString(r.Header.Get("X-Request-ID")) {
			t.Fatalf("generated request id %q is not a UUID", r.Header.Get("X-Request-ID"))
		}
	})
}

func TestHTTPIdempotencyKey(t *testing.T) {
	t.Parallel()
	eachMode(t, func(t *testing.T, s *testapp.Server) {
		id := s.CreateInstitution(nil)
		req := testapp.Request{Method: "POST", Path: testapp.Path("/api/v1/institutions/%d/tickets", id), Header: map[string]string{"Idempotency-Key": "phone-abc-1"}}
		a := s.Do(req)
		b := s.Do(req)
		if a.Status != 201 || b.Status != 200 || a.Map(t)["id"] != b.Map(t)["id"] {
			t.Fatalf("first %d %s, retry %d %s", a.Status, a.Body, b.Status, b.Body)
		}
	})
}
