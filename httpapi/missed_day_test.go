package httpapi_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/queueless/queueless/internal/testapp"
)

// TestHTTPMissedNumbers: GET .../missed lists the day's tickets that were
// called and expired without checking in, drops one once it is put back,
// never shows an id or a phone, and refuses a bad date or office, on both
// modes.
func TestHTTPMissedNumbers(t *testing.T) {
	t.Parallel()
	eachMissedTurnsOffice(t, func(t *testing.T, s *testapp.Server, id int64, path, staff string) {
		missed := func() []any {
			t.Helper()
			r := s.Do(testapp.Request{Method: "GET", Path: path + "/missed"})
			if r.Status != 200 {
				t.Fatalf("missed: %d %s", r.Status, r.Body)
			}
			m := r.Map(t)
			if m["date"] != time.Now().UTC().Format(time.DateOnly) {
				t.Fatalf("missed: date %v, want today", m["date"])
			}
			return m["items"].([]any)
		}
		if got := missed(); len(got) != 0 {
			t.Fatalf("missed before any call: %v", got)
		}
		var ids []string
		for range 4 {
			r := s.Do(testapp.Request{Method: "POST", Path: path + "/tickets", Body: map[string]any{"phone": phoneFor(len(ids))}})
			if r.Status != http.StatusCreated {
				t.Fatalf("join: %d %s", r.Status, r.Body)
			}
			ids = append(ids, r.Map(t)["id"].(string))
		}
		// Tickets 1 and 2 are called and miss their turn; 3 is called and
		// checks in; 4 waits.
		r := s.Do(testapp.Request{Method: "POST", Path: path + "/advance", Token: staff, Body: map[string]any{"counter": "2", "count": 2}})
		if r.Status != 200 {
			t.Fatalf("advance: %d %s", r.Status, r.Body)
		}
		for _, tid := range ids[:2] {
			for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(100 * time.Millisecond) {
				if s.Do(testapp.Request{Method: "GET", Path: "/api/v1/tickets/" + tid}).Map(t)["status"] == "expired" {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("ticket %s never expired", tid)
				}
			}
		}
		r = s.Do(testapp.Request{Method: "POST", Path: path + "/advance", Token: staff, Body: map[string]any{"counter": "1"}})
		if r.Status != 200 {
			t.Fatalf("advance: %d %s", r.Status, r.Body)
		}
		if r := s.Do(testapp.Request{Method: "POST", Path: "/api/v1/tickets/" + ids[2] + "/check-in"}); r.Status != 200 {
			t.Fatalf("check-in: %d %s", r.Status, r.Body)
		}
		got := missed()
		if len(got) != 2 {
			t.Fatalf("missed: %v, want A-001 and A-002", got)
		}
		for i, want := range []string{"A-001", "A-002"} {
			m := got[i].(map[string]any)
			if m["label"] != want || m["service"] != "A" || m["counter"] != "2" || m["expired_at"] == nil {
				t.Errorf("missed[%d] = %v, want %s at counter 2", i, m, want)
			}
			for _, secret := range []string{"id", "ticket_id", "phone", "number"} {
				if _, ok := m[secret]; ok {
					t.Errorf("missed[%d] shows %q: %v", i, secret, m)
				}
			}
		}
		// Staff of the office also see each ticket's id, to put it back;
		// another office's staff may not look.
		r = s.Do(testapp.Request{Method: "GET", Path: path + "/missed", Token: staff})
		if r.Status != 200 {
			t.Fatalf("staff missed: %d %s", r.Status, r.Body)
		}
		for i, it := range r.Map(t)["items"].([]any) {
			if got := it.(map[string]any)["ticket_id"]; got != ids[i] {
				t.Errorf("staff missed[%d].ticket_id = %v, want %s", i, got, ids[i])
			}
		}
		other := s.StaffToken(s.CreateInstitution(map[string]any{}))
		wantError(t, s.Do(testapp.Request{Method: "GET", Path: path + "/missed", Token: other}), 403, "forbidden")
		wantError(t, s.Do(testapp.Request{Method: "GET", Path: path + "/missed", Token: "nope"}), 401, "unauthorized")

		// Put back: no longer missed.
		if r := s.Do(testapp.Request{Method: "POST", Path: "/api/v1/tickets/" + ids[0] + "/requeue"}); r.Status != 200 {
			t.Fatalf("requeue: %d %s", r.Status, r.Body)
		}
		if got := missed(); len(got) != 1 || got[0].(map[string]any)["label"] != "A-002" {
			t.Fatalf("missed after requeueing A-001: %v", got)
		}
		// Another day had none; bad input is 400 or 404.
		r = s.Do(testapp.Request{Method: "GET", Path: path + "/missed?date=2020-01-01"})
		if r.Status != 200 || len(r.Map(t)["items"].([]any)) != 0 {
			t.Fatalf("missed of 2020-01-01: %d %s", r.Status, r.Body)
		}
		wantError(t, s.Do(testapp.Request{Method: "GET", Path: path + "/missed?date=yesterday"}), 400, "invalid_request")
		wantError(t, s.Do(testapp.Request{Method: "GET", Path: "/api/v1/institutions/999999/missed"}), 404, "not_found")
		wantError(t, s.Do(testapp.Request{Method: "GET", Path: "/api/v1/institutions/x/missed"}), 400, "invalid_request")
	})
}

func phoneFor(i int) string { return "0917555000" + string(rune('0'+i)) }
