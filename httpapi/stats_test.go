package httpapi_test

import (
	"encoding/csv"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/queueless/queueless/internal/testapp"
)

// TestHTTPStats drives stats and tickets.csv through HTTP on both modes:
// the figures of a small real day, who may ask, and every bad period.
func TestHTTPStats(t *testing.T) {
	t.Parallel()
	eachMode(t, func(t *testing.T, s *testapp.Server) {
		id := s.CreateInstitution(nil)
		other := s.CreateInstitution(nil)
		path := testapp.Path("/api/v1/institutions/%d", id)
		staff := s.StaffToken(id)
		for i, phone := range []string{"09171234567", "", ""} {
			body := map[string]any{}
			if phone != "" {
				body["phone"] = phone
			}
			if r := s.Do(testapp.Request{Method: "POST", Path: path + "/tickets", Body: body}); r.Status != http.StatusCreated {
				t.Fatalf("join %d: %d %s", i, r.Status, r.Body)
			}
		}
		// Two called, the second at a counter whose name reads like a formula.
		if r := s.Do(testapp.Request{Method: "POST", Path: path + "/advance", Token: staff, Body: map[string]any{"count": 1}}); r.Status != 200 {
			t.Fatalf("advance: %d %s", r.Status, r.Body)
		}
		if r := s.Do(testapp.Request{Method: "POST", Path: path + "/advance", Token: staff, Body: map[string]any{"count": 1, "counter": "=HYPERLINK(1)"}}); r.Status != 200 {
			t.Fatalf("advance: %d %s", r.Status, r.Body)
		}
		now := time.Now().UTC()
		period := "?from=" + url.QueryEscape(now.Add(-time.Hour).Format(time.RFC3339)) + "&to=" + url.QueryEscape(now.Add(time.Hour).Format(time.RFC3339))

		var st struct {
			Joined, Served, Expired, Cancelled int
			WaitSeconds                        struct{ P50, P90, Max *float64 } `json:"wait_seconds"`
			ByHour                             []struct{ Hour, Joined int }     `json:"by_hour"`
			ByService                          []struct {
				Service string
				Joined  int
			} `json:"by_service"`
			Satisfaction  struct{ Count int } `json:"satisfaction"`
			EstimateError struct{ Count int } `json:"estimate_error"`
			Timezone      string              `json:"timezone"`
		}
		r := s.Do(testapp.Request{Method: "GET", Path: path + "/stats" + period, Token: staff})
		if r.Status != 200 {
			t.Fatalf("stats: %d %s", r.Status, r.Body)
		}
		r.JSON(t, &st)
		if st.Joined != 3 || st.Served != 0 || st.WaitSeconds.P50 == nil || st.WaitSeconds.Max == nil || len(st.ByHour) != 24 ||
			len(st.ByService) != 1 || st.ByService[0].Service != "A" || st.ByService[0].Joined != 3 || st.Timezone != "UTC" {
			t.Fatalf("stats of 3 joins, 2 called: %s", r.Body)
		}
		joined := 0
		for _, h := range st.ByHour {
			joined += h.Joined
		}
		if joined != 3 {
			t.Fatalf("by_hour counts %d joins, want 3: %s", joined, r.Body)
		}
		// The other institution's figures are its own.
		if r := s.Do(testapp.Request{Method: "GET", Path: testapp.Path("/api/v1/institutions/%d/stats", other) + period, Token: testapp.AdminToken}); r.Status != 200 || !strings.Contains(string(r.Body), `"joined":0`) {
			t.Fatalf("other institution's stats: %d %s", r.Status, r.Body)
		}

		for _, q := range []string{
			"", "?from=" + url.QueryEscape(now.Format(time.RFC3339)),
			"?from=yesterday&to=today",
			"?from=2026-03-02T00:00:00Z&to=2026-03-01T00:00:00Z",
			"?from=2024-01-01T00:00:00Z&to=2026-01-01T00:00:00Z",
		} {
			wantError(t, s.Do(testapp.Request{Method: "GET", Path: path + "/stats" + q, Token: staff}), 400, "invalid_request")
		}
		wantError(t, s.Do(testapp.Request{Method: "GET", Path: path + "/stats" + period}), 401, "unauthorized")
		wantError(t, s.Do(testapp.Request{Method: "GET", Path: testapp.Path("/api/v1/institutions/%d/stats", other) + period, Token: staff}), 403, "forbidden")
		wantError(t, s.Do(testapp.Request{Method: "GET", Path: "/api/v1/institutions/999999/stats" + period, Token: testapp.AdminToken}), 404, "not_found")

		// tickets.csv
		r = s.Do(testapp.Request{Method: "GET", Path: path + "/tickets.csv" + period, Token: staff})
		if r.Status != 200 || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/csv") ||
			!strings.Contains(r.Header.Get("Content-Disposition"), "attachment") {
			t.Fatalf("tickets.csv: %d %v %s", r.Status, r.Header, r.Body)
		}
		rows, err := csv.NewReader(strings.NewReader(string(r.Body))).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		if len(rows) != 4 || rows[0][0] != "number" || rows[0][len(rows[0])-1] == "phone" || strings.Contains(string(r.Body), "09171234567") {
			t.Fatalf("staff tickets.csv: %q", rows)
		}
		if rows[1][0] != "1" || rows[1][5] != "serving" || rows[2][10] != "'=HYPERLINK(1)" || rows[3][5] != "notified" || rows[2][11] == "" || rows[3][11] != "" {
			t.Fatalf("tickets.csv rows: %q", rows)
		}
		wantError(t, s.Do(testapp.Request{Method: "GET", Path: path + "/tickets.csv" + period + "&phone=1", Token: staff}), 403, "forbidden")
		wantError(t, s.Do(testapp.Request{Method: "GET", Path: path + "/tickets.csv" + period + "&phone=yes", Token: testapp.AdminToken}), 400, "invalid_request")
		wantError(t, s.Do(testapp.Request{Method: "GET", Path: path + "/tickets.csv?from=2026-01-01T00:00:00Z&to=2026-03-01T00:00:00Z", Token: staff}), 400, "invalid_request")
		wantError(t, s.Do(testapp.Request{Method: "GET", Path: testapp.Path("/api/v1/institutions/%d/tickets.csv", other) + period, Token: staff}), 403, "forbidden")
		r = s.Do(testapp.Request{Method: "GET", Path: path + "/tickets.csv" + period + "&phone=1", Token: testapp.AdminToken})
		rows, err = csv.NewReader(strings.NewReader(string(r.Body))).ReadAll()
		if err != nil || r.Status != 200 || rows[0][len(rows[0])-1] != "phone" || rows[1][len(rows[1])-1] != "09171234567" || rows[2][len(rows[2])-1] != "" {
			t.Fatalf("admin tickets.csv with phone: %d %q %v", r.Status, rows, err)
		}
	})
}
