package httpapi_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"html"
	"image/png"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/queueless/queueless/internal/app"
	"github.com/queueless/queueless/internal/testapp"
)

// setUpServices gives institution id services A, B and C and counters 1
// (A) and 2 (B, C).
func setUpServices(t *testing.T, s *testapp.Server, id int64) map[string]any {
	t.Helper()
	r := s.Do(testapp.Request{Method: "PUT", Path: testapp.Path("/api/v1/institutions/%d/services", id), Token: testapp.AdminToken,
		Body: map[string]any{"services": []map[string]any{
			{"code": "A", "name": "Payments"}, {"code": "B", "name": "Registrations"}, {"code": "C", "name": "Releasing", "daily_quota": 1000}}}})
	if r.Status != http.StatusOK {
		t.Fatalf("put services: %d %s", r.Status, r.Body)
	}
	r = s.Do(testapp.Request{Method: "PUT", Path: testapp.Path("/api/v1/institutions/%d/counters", id), Token: testapp.AdminToken,
		Body: map[string]any{"counters": []map[string]any{{"name": "1", "services": []string{"A"}}, {"name": "2", "services": []string{"B", "C"}}}}})
	if r.Status != http.StatusOK {
		t.Fatalf("put counters: %d %s", r.Status, r.Body)
	}
	return r.Map(t)
}

func TestHTTPServicesAndCounters(t *testing.T) {
	t.Parallel()
	eachMode(t, func(t *testing.T, s *testapp.Server) {
		id := s.CreateInstitution(nil)
		// Every institution starts with service A "General".
		inst := s.Do(testapp.Request{Method: "GET", Path: testapp.Path("/api/v1/institutions/%d", id)}).Map(t)
		svcs := inst["services"].([]any)
		if len(svcs) != 1 || svcs[0].(map[string]any)["code"] != "A" || svcs[0].(map[string]any)["name"] != "General" || inst["priority_run"] != 2.0 {
			t.Fatalf("a new institution: services %v priority_run %v", inst["services"], inst["priority_run"])
		}
		inst = setUpServices(t, s, id)
		if got := len(inst["services"].([]any)); got != 3 {
			t.Fatalf("services after PUT: %d, want 3", got)
		}
		c := inst["counters"].([]any)[1].(map[string]any)
		if c["name"] != "2" || fmt.Sprint(c["services"]) != "[B C]" {
			t.Fatalf("counter 2 = %v", c)
		}
		staff := s.StaffToken(id)
		path := testapp.Path("/api/v1/institutions/%d", id)
		for _, tc := range []struct {
			name, method, path, token string
			body                      any
			status                    int
			code, field               string
		}{
			{"bad code", "PUT", path + "/services", testapp.AdminToken, map[string]any{"services": []map[string]any{{"code": "a1", "name": "x"}}}, 400, "invalid_request", "services[0].code"},
			{"duplicate code", "PUT", path + "/services", testapp.AdminToken, map[string]any{"services": []map[string]any{{"code": "A", "name": "x"}, {"code": "A", "name": "y"}}}, 400, "invalid_request", "services[1].code"},
			{"bad quota", "PUT", path + "/services", testapp.AdminToken, map[string]any{"services": []map[string]any{{"code": "A", "name": "x", "daily_quota": 0}}}, 400, "invalid_request", "services[0].daily_quota"},
			{"bad status", "PUT", path + "/services", testapp.AdminToken, map[string]any{"services": []map[string]any{{"code": "A", "name": "x", "status": "gone"}}}, 400, "invalid_request", "services[0].status"},
			{"staff may not put services", "PUT", path + "/services", staff, map[string]any{"services": []map[string]any{{"code": "A", "name": "x"}}}, 403, "forbidden", ""},
			{"unknown counter service", "PUT", path + "/counters", testapp.AdminToken, map[string]any{"counters": []map[string]any{{"name": "1", "services": []string{"Z"}}}}, 400, "invalid_request", "counters[0].services"},
			{"duplicate counter", "PUT", path + "/counters", testapp.AdminToken, map[string]any{"counters": []map[string]any{{"name": "1", "services": []string{"A"}}, {"name": "1", "services": []string{"B"}}}}, 400, "invalid_request", "counters[1].name"},
			{"staff may not rename", "PATCH", path + "/services/B", staff, map[string]any{"name": "Other"}, 403, "forbidden", ""},
			{"unknown service", "PATCH", path + "/services/Z", testapp.AdminToken, map[string]any{"status": "paused"}, 404, "not_found", ""},
			{"bad priority_run", "PATCH", path, testapp.AdminToken, map[string]any{"priority_run": 11}, 400, "invalid_request", "priority_run"},
			{"join unknown service", "POST", path + "/tickets", "", map[string]any{"service": "Z"}, 404, "not_found", ""},
			{"join bad service", "POST", path + "/tickets", "", map[string]any{"service": "b"}, 400, "invalid_request", "service"},
			{"join bad priority", "POST", path + "/tickets", "", map[string]any{"priority": "vip"}, 400, "invalid_request", "priority"},
			{"advance unknown service", "POST", path + "/advance", staff, map[string]any{"service": "Z"}, 404, "not_found", ""},
		} {
			r := s.Do(testapp.Request{Method: tc.method, Path: tc.path, Token: tc.token, Body: tc.body})
			wantError(t, r, tc.status, tc.code)
			if msg := r.Map(t)["message"].(string); tc.field != "" && !strings.Contains(msg, tc.field) {
				t.Errorf("%s: message %q does not name %s", tc.name, msg, tc.field)
			}
		}

		join := func(body map[string]any, token string) map[string]any {
			t.Helper()
			r := s.Do(testapp.Request{Method: "POST", Path: path + "/tickets", Body: body, Token: token})
			if r.Status != http.StatusCreated {
				t.Fatalf("join %v: %d %s", body, r.Status, r.Body)
			}
			return r.Map(t)
		}
		a1 := join(map[string]any{}, "") // the first open service: A
		b1 := join(map[string]any{"service": "B"}, "")
		b2 := join(map[string]any{"service": "B", "priority": "senior"}, "")
		if a1["service"] != "A" || a1["label"] != "A-001" || b1["label"] != "B-001" || b2["label"] != "B-002" || b2["priority"] != "senior" || a1["source"] != "phone" {
			t.Fatalf("joins: %v / %v / %v", a1, b1, b2)
		}
		// The priority ticket is called first in B: nobody ahead of it.
		if b2["people_ahead"] != 0.0 || b2["position"] != 1.0 {
			t.Fatalf("priority ticket: people_ahead %v position %v, want 0 and 1", b2["people_ahead"], b2["position"])
		}
		if b1 := s.Do(testapp.Request{Method: "GET", Path: "/api/v1/tickets/" + b1["id"].(string)}).Map(t); b1["people_ahead"] != 1.0 || b1["position"] != 2.0 {
			t.Fatalf("regular ticket behind a priority one: %v", b1)
		}

		// Staff pause B: citizens are refused, walk-ins are not.
		r := s.Do(testapp.Request{Method: "PATCH", Path: path + "/services/B", Token: staff, Body: map[string]any{"status": "paused"}})
		if r.Status != http.StatusOK {
			t.Fatalf("staff pause B: %d %s", r.Status, r.Body)
		}
		wantError(t, s.Do(testapp.Request{Method: "POST", Path: path + "/tickets", Body: map[string]any{"service": "B"}}), 409, "institution_closed")
		walkIn := join(map[string]any{"service": "B"}, staff)
		if walkIn["source"] != "staff" || walkIn["label"] != "B-003" {
			t.Fatalf("walk-in: %v", walkIn)
		}
		wantError(t, s.Do(testapp.Request{Method: "POST", Path: path + "/tickets", Body: map[string]any{"service": "B"}, Token: "wrong"}), 401, "unauthorized")

		// Priority: set, audited; and no lane means 400.
		r = s.Do(testapp.Request{Method: "PATCH", Path: "/api/v1/tickets/" + b1["id"].(string), Token: staff, Body: map[string]any{"priority": "pwd"}})
		if r.Status != http.StatusOK || r.Map(t)["priority"] != "pwd" {
			t.Fatalf("set priority: %d %s", r.Status, r.Body)
		}
		wantError(t, s.Do(testapp.Request{Method: "PATCH", Path: "/api/v1/tickets/" + b1["id"].(string), Body: map[string]any{"priority": nil}}), 401, "unauthorized")
		evs := s.Do(testapp.Request{Method: "GET", Path: path + "/events", Token: staff}).Body
		if !bytes.Contains(evs, []byte(`"kind":"ticket.priority"`)) {
			t.Fatalf("the priority change is not in the audit trail: %s", evs)
		}
		if r := s.Do(testapp.Request{Method: "PATCH", Path: path, Token: testapp.AdminToken, Body: map[string]any{"priority_run": 0}}); r.Status != http.StatusOK {
			t.Fatalf("priority_run 0: %d %s", r.Status, r.Body)
		}
		wantError(t, s.Do(testapp.Request{Method: "POST", Path: path + "/tickets", Body: map[string]any{"priority": "senior"}}), 400, "invalid_request")
		s.Do(testapp.Request{Method: "PATCH", Path: path, Token: testapp.AdminToken, Body: map[string]any{"priority_run": 2}})

		// Counter 1 calls only A; advance with a service calls from it.
		r = s.Do(testapp.Request{Method: "POST", Path: path + "/advance", Token: staff, Body: map[string]any{"counter": "1", "count": 5}})
		called := r.Map(t)["called"].([]any)
		if len(called) != 1 || called[0].(map[string]any)["label"] != "A-001" {
			t.Fatalf("counter 1 called %v, want only A-001", called)
		}
		r = s.Do(testapp.Request{Method: "POST", Path: path + "/advance", Token: staff, Body: map[string]any{"service": "B"}})
		called = r.Map(t)["called"].([]any)
		if len(called) != 1 || called[0].(map[string]any)["label"] != "B-001" { // priority pwd since the PATCH, earliest place
			t.Fatalf("advance from B called %v, want B-001", called)
		}

		// A particular call, with its reason.
		wantError(t, s.Do(testapp.Request{Method: "POST", Path: "/api/v1/tickets/" + walkIn["id"].(string) + "/call", Token: staff, Body: map[string]any{"counter": "2"}}), 400, "invalid_request")
		r = s.Do(testapp.Request{Method: "POST", Path: "/api/v1/tickets/" + walkIn["id"].(string) + "/call", Token: staff, Body: map[string]any{"counter": "2", "reason": "appointment"}})
		if tk := r.Map(t); r.Status != http.StatusOK || tk["status"] != "serving" || tk["counter"] != "2" {
			t.Fatalf("particular call: %d %s", r.Status, r.Body)
		}
		wantError(t, s.Do(testapp.Request{Method: "POST", Path: "/api/v1/tickets/" + walkIn["id"].(string) + "/call", Token: staff, Body: map[string]any{"reason": "again"}}), 409, "invalid_state")
		inst = s.Do(testapp.Request{Method: "GET", Path: path}).Map(t)
		for _, l := range inst["services"].([]any) {
			l := l.(map[string]any)
			if l["code"] == "B" && (l["now_serving_label"] != "B-003" || l["waiting_count"] != 1.0 || l["status"] != "paused") {
				t.Fatalf("service B = %v, want now serving B-003, one waiting, paused", l)
			}
		}

		// Removing a service with tickets today is a conflict.
		wantError(t, s.Do(testapp.Request{Method: "PUT", Path: path + "/services", Token: testapp.AdminToken,
			Body: map[string]any{"services": []map[string]any{{"code": "A", "name": "Payments"}}}}), 409, "conflict")

		// The slip: label, service, time and a QR code of the phone page.
		r = s.Do(testapp.Request{Method: "GET", Path: "/t/" + walkIn["id"].(string)})
		if r.Status != http.StatusOK || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/html") {
			t.Fatalf("slip: %d %s", r.Status, r.Header.Get("Content-Type"))
		}
		for _, want := range []string{"B-003", "Registrations", "@page", "72mm", "/?ticket=" + walkIn["id"].(string)} {
			if !bytes.Contains(r.Body, []byte(want)) {
				t.Fatalf("the slip lacks %q:\n%s", want, r.Body)
			}
		}
		m := regexp.MustCompile(`src="data:image/png;base64,([^"]+)"`).FindSubmatch(r.Body)
		if m == nil {
			t.Fatalf("the slip has no QR image")
		}
		raw, err := base64.StdEncoding.DecodeString(html.UnescapeString(string(m[1])))
		if err != nil {
			t.Fatal(err)
		}
		if img, err := png.Decode(bytes.NewReader(raw)); err != nil || img.Bounds().Dx() < 100 {
			t.Fatalf("QR image: %v", err)
		}
		wantError(t, s.Do(testapp.Request{Method: "GET", Path: "/t/not-a-uuid"}), 400, "invalid_request")
	})
}

// TestServicesGapFreeAcrossInstances: 2,000 concurrent joins through two
// instances into three services get gap-free numbers and gap-free daily
// labels per service.
//
// Not parallel: it runs alone, before the package's parallel tests, so
// that neither it nor the flash crowd measures the other's load; and its
// clients wait as long as the server's request deadline.
func TestServicesGapFreeAcrossInstances(t *testing.T) {
	cfg := testapp.Config(t, testapp.Production, func(c *app.Config) { c.RequestTimeout = 60 * time.Second })
	s1, s2 := testapp.StartConfig(t, cfg), testapp.StartConfig(t, cfg)
	for _, s := range []*testapp.Server{s1, s2} {
		s.Client.Timeout = 90 * time.Second
	}
	id := s1.CreateInstitution(nil)
	setUpServices(t, s1, id)
	const joins = 2000
	codes := []string{"A", "B", "C"}
	type result struct {
		status         int
		number         int64
		service, label string
	}
	results := make(chan result, joins)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range joins {
		s := []*testapp.Server{s1, s2}[i%2]
		body := map[string]any{"service": codes[i%3]}
		if i%7 == 0 {
			body["priority"] = "pregnant"
		}
		wg.Go(func() {
			<-start
			r, err := s.Try(testapp.Request{Method: "POST", Path: testapp.Path("/api/v1/institutions/%d/tickets", id), Body: body})
			if err != nil {
				t.Error(err)
				return
			}
			var tk struct {
				Number         int64
				Service, Label string
			}
			if r.Status == http.StatusCreated {
				r.JSON(t, &tk)
			}
			results <- result{r.Status, tk.Number, tk.Service, tk.Label}
		})
	}
	close(start)
	wg.Wait()
	close(results)
	numbers := map[int64]bool{}
	labels := map[string]map[string]bool{}
	for r := range results {
		if r.status != http.StatusCreated {
			t.Fatalf("a join got %d", r.status)
		}
		if numbers[r.number] {
			t.Fatalf("number %d issued twice", r.number)
		}
		numbers[r.number] = true
		if labels[r.service] == nil {
			labels[r.service] = map[string]bool{}
		}
		if labels[r.service][r.label] {
			t.Fatalf("label %s issued twice", r.label)
		}
		labels[r.service][r.label] = true
	}
	for n := int64(1); n <= joins; n++ {
		if !numbers[n] {
			t.Fatalf("number %d missing", n)
		}
	}
	for i, code := range codes {
		want := joins / 3
		if i < joins%3 {
			want++
		}
		for n := 1; n <= want; n++ {
			if l := fmt.Sprintf("%s-%03d", code, n); !labels[code][l] {
				t.Fatalf("label %s missing (service %s got %d labels)", l, code, len(labels[code]))
			}
		}
		if len(labels[code]) != want {
			t.Fatalf("service %s: %d labels, want %d", code, len(labels[code]), want)
		}
	}
	conn, err := pgx.Connect(context.Background(), cfg.DatabaseURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var count, distinctLabels, maxNumber int64
	if err := conn.QueryRow(context.Background(), `SELECT count(*), count(DISTINCT service || label), max(number) FROM tickets WHERE institution_id = $1`, id).Scan(&count, &distinctLabels, &maxNumber); err != nil {
		t.Fatal(err)
	}
	if count != joins || distinctLabels != joins || maxNumber != joins {
		t.Fatalf("in PostgreSQL: %d tickets, %d distinct labels, highest number %d; want %d of each", count, distinctLabels, maxNumber, joins)
	}
}
