package app_test

import (
	"encoding/base64"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/queueless/queueless/internal/app"
	"github.com/queueless/queueless/internal/testapp"
)

func basic(token string) map[string]string {
	return map[string]string{"Authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte("admin:"+token))}
}

// River UI at /admin/jobs, behind the admin token, shows the jobs that
// deliveries enqueue, in both modes.
func TestJobsPage(t *testing.T) {
	t.Parallel()
	for _, mode := range testapp.Modes {
		t.Run(string(mode), func(t *testing.T) {
			t.Parallel()
			testJobsPage(t, testapp.Start(t, mode, func(c *app.Config) { c.Jobs.Workers = 0 }))
		})
	}
}

func testJobsPage(t *testing.T, s *testapp.Server) {
	inst := s.CreateInstitution(nil)
	staff := s.StaffToken(inst)
	for _, c := range []struct {
		name   string
		header map[string]string
		token  string
	}{
		{"no token", nil, ""},
		{"staff token", basic(staff), ""},
		{"staff bearer", nil, staff},
		{"wrong password", basic("not-the-admin-token-at-all"), ""},
	} {
		r := s.Do(testapp.Request{Method: "GET", Path: "/admin/jobs", Header: c.header, Token: c.token})
		if r.Status != http.StatusUnauthorized || !strings.HasPrefix(r.Header.Get("WWW-Authenticate"), "Basic ") {
			t.Errorf("%s: %d, WWW-Authenticate %q; want 401 asking for Basic", c.name, r.Status, r.Header.Get("WWW-Authenticate"))
		}
	}
	r := s.Do(testapp.Request{Method: "GET", Path: "/admin/jobs", Header: basic(testapp.AdminToken)})
	if r.Status != http.StatusOK || !strings.Contains(string(r.Body), "<html") {
		t.Fatalf("jobs page with the admin token: %d %.200s", r.Status, r.Body)
	}

	// A delivery's job shows in River UI's API.
	resp := s.Do(testapp.Request{Method: "POST", Path: "/api/v1/webhooks", Token: testapp.AdminToken,
		Body: map[string]any{"url": "http://127.0.0.1:9/hook", "events": []string{"ticket.created"}}})
	if resp.Status != http.StatusCreated {
		t.Fatalf("create webhook: %d %s", resp.Status, resp.Body)
	}
	if r := s.Do(testapp.Request{Method: "POST", Path: testapp.Path("/api/v1/institutions/%d/tickets", inst), Body: map[string]any{}}); r.Status != 201 {
		t.Fatalf("join: %d %s", r.Status, r.Body)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		r = s.Do(testapp.Request{Method: "GET", Path: "/admin/jobs/api/jobs?state=available&limit=20", Token: testapp.AdminToken})
		if r.Status == http.StatusOK && strings.Contains(string(r.Body), `"webhook_delivery"`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("River UI's job list: %d %.300s; want the webhook_delivery job", r.Status, r.Body)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
