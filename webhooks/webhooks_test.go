package webhooks_test

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/queueless/queueless/internal/app"
	"github.com/queueless/queueless/internal/testapp"
	"github.com/queueless/queueless/webhooks"
)

// fastRetries shrinks the delivery schedule so that a test sees every
// attempt: the same code and the same shape as production's.
func fastRetries(base time.Duration, attempts int) testapp.Option {
	return func(c *app.Config) {
		c.Jobs.WebhookRetryBase = base
		c.Jobs.WebhookAttempts = attempts
		c.Jobs.WebhookTimeout = 2 * time.Second
		c.Jobs.RescueAfter = time.Minute
	}
}

type hookOut struct {
	ID             int64    `json:"id"`
	URL            string   `json:"url"`
	Events         []string `json:"events"`
	InstitutionIDs []int64  `json:"institution_ids"`
	Secret         string   `json:"secret"`
}

func createHook(t *testing.T, s *testapp.Server, r *receiver, events []string, insts []int64) hookOut {
	t.Helper()
	body := map[string]any{"url": r.srv.URL + "/hook", "events": events}
	if insts != nil {
		body["institution_ids"] = insts
	}
	resp := s.Do(testapp.Request{Method: "POST", Path: "/api/v1/webhooks", Token: testapp.AdminToken, Body: body})
	if resp.Status != http.StatusCreated {
		t.Fatalf("create webhook: %d %s", resp.Status, resp.Body)
	}
	var h hookOut
	resp.JSON(t, &h)
	if len(h.Secret) < 32 {
		t.Fatalf("webhook secret %q: want at least 32 characters", h.Secret)
	}
	r.setSecret(h.Secret)
	return h
}

type deliveryOut struct {
	ID            string     `json:"id"`
	Event         string     `json:"event"`
	Attempts      int        `json:"attempts"`
	Status        string     `json:"status"`
	LastError     *string    `json:"last_error"`
	NextAttemptAt *time.Time `json:"next_attempt_at"`
}

func deliveries(t *testing.T, s *testapp.Server, hook int64, status string) []deliveryOut {
	t.Helper()
	path := fmt.Sprintf("/api/v1/webhooks/%d/deliveries?limit=500", hook)
	if status != "" {
		path += "&status=" + status
	}
	resp := s.Do(testapp.Request{Method: "GET", Path: path, Token: testapp.AdminToken})
	if resp.Status != http.StatusOK {
		t.Fatalf("list deliveries: %d %s", resp.Status, resp.Body)
	}
	var out struct{ Items []deliveryOut }
	resp.JSON(t, &out)
	return out.Items
}

func join(t *testing.T, s *testapp.Server, inst int64) string {
	t.Helper()
	resp := s.Do(testapp.Request{Method: "POST", Path: fmt.Sprintf("/api/v1/institutions/%d/tickets", inst), Body: map[string]any{}})
	if resp.Status != http.StatusCreated {
		t.Fatalf("join: %d %s", resp.Status, resp.Body)
	}
	var tk struct{ ID string }
	resp.JSON(t, &tk)
	return tk.ID
}

func advance(t *testing.T, s *testapp.Server, inst int64, count int) {
	t.Helper()
	resp := s.Do(testapp.Request{Method: "POST", Path: fmt.Sprintf("/api/v1/institutions/%d/advance", inst),
		Token: testapp.AdminToken, Body: map[string]any{"count": count, "counter": "4"}})
	if resp.Status != http.StatusOK {
		t.Fatalf("advance: %d %s", resp.Status, resp.Body)
	}
}

func TestWebhookSignedFilteredDelivered(t *testing.T) {
	t.Parallel()
	for _, mode := range testapp.Modes {
		t.Run(string(mode), func(t *testing.T) {
			t.Parallel()
			s := testapp.Start(t, mode, fastRetries(20*time.Millisecond, 8))
			a, b := s.CreateInstitution(nil), s.CreateInstitution(nil)
			all, onlyB, calls := newReceiver(t), newReceiver(t), newReceiver(t)
			hAll := createHook(t, s, all, webhooks.Events, nil)
			createHook(t, s, onlyB, webhooks.Events, []int64{b})
			createHook(t, s, calls, []string{"ticket.called"}, nil)

			tk := join(t, s, a)
			advance(t, s, a, 1)
			waitFor(t, 20*time.Second, "ticket.created and ticket.called at the all-events receiver", func() bool {
				got := map[string]bool{}
				for _, at := range all.attempts() {
					got[at.event] = true
				}
				return got["ticket.created"] && got["ticket.called"]
			})
			waitFor(t, 20*time.Second, "ticket.called at the calls receiver", func() bool { return len(calls.attempts()) >= 1 })
			// Give the deliveries a filtered receiver must not get the time to arrive.
			time.Sleep(300 * time.Millisecond)

			for _, at := range all.attempts() {
				if !at.sigOK {
					t.Errorf("delivery %s (%s): X-QueueLess-Signature does not verify with the webhook's secret", at.delivery, at.event)
				}
				if at.payload.Event != at.event || at.payload.InstitutionID != a {
					t.Errorf("delivery %s: payload event %q institution %d, want %q and %d", at.delivery, at.payload.Event, at.payload.InstitutionID, at.event, a)
				}
				if at.payload.Ticket != nil && at.payload.Ticket.ID != tk {
					t.Errorf("delivery %s: ticket %s, want %s", at.delivery, at.payload.Ticket.ID, tk)
				}
				if at.payload.EventID <= 0 {
					t.Errorf("delivery %s: event_id %d, want the audit event's id", at.delivery, at.payload.EventID)
				}
			}
			if n := len(onlyB.attempts()); n != 0 {
				t.Errorf("the webhook filtered to institution %d got %d deliveries about institution %d", b, n, a)
			}
			for _, at := range calls.attempts() {
				if at.event != "ticket.called" {
					t.Errorf("the ticket.called webhook got %s", at.event)
				}
			}
			// The called event carries the counter.
			for _, at := range all.attempts() {
				if at.event == "ticket.called" && (at.payload.Ticket == nil || at.payload.Ticket.Counter == nil || *at.payload.Ticket.Counter != "4") {
					t.Errorf("ticket.called payload %+v: want the ticket at counter 4", at.payload.Ticket)
				}
			}

			waitFor(t, 10*time.Second, "every delivery recorded as delivered", func() bool {
				ds := deliveries(t, s, hAll.ID, "")
				for _, d := range ds {
					if d.Status != "delivered" {
						return false
					}
				}
				return len(ds) == len(all.attempts())
			})
			for _, d := range deliveries(t, s, hAll.ID, "delivered") {
				if d.Attempts != 1 || d.LastError != nil || d.NextAttemptAt != nil {
					t.Errorf("delivery %+v: want 1 attempt, no error, no next attempt", d)
				}
			}
		})
	}
}

func TestWebhookCreateValidation(t *testing.T) {
	t.Parallel()
	s := testapp.Start(t, testapp.Embedded)
	staff := s.StaffToken(s.CreateInstitution(nil))
	cases := []struct {
		name   string
		token  string
		body   any
		status int
	}{
		{"staff token", staff, map[string]any{"url": "http://x.test/", "events": []string{"ticket.called"}}, 403},
		{"no token", "", map[string]any{"url": "http://x.test/", "events": []string{"ticket.called"}}, 401},
		{"relative url", testapp.AdminToken, map[string]any{"url": "/hook", "events": []string{"ticket.called"}}, 400},
		{"ftp url", testapp.AdminToken, map[string]any{"url": "ftp://x.test/", "events": []string{"ticket.called"}}, 400},
		{"no events", testapp.AdminToken, map[string]any{"url": "http://x.test/", "events": []string{}}, 400},
		{"unknown event", testapp.AdminToken, map[string]any{"url": "http://x.test/", "events": []string{"ticket.eaten"}}, 400},
		{"repeated event", testapp.AdminToken, map[string]any{"url": "http://x.test/", "events": []string{"ticket.called", "ticket.called"}}, 400},
		{"bad institution", testapp.AdminToken, map[string]any{"url": "http://x.test/", "events": []string{"ticket.called"}, "institution_ids": []int{0}}, 400},
		{"unknown field", testapp.AdminToken, map[string]any{"url": "http://x.test/", "events": []string{"ticket.called"}, "secret": "mine"}, 400},
		{"fine", testapp.AdminToken, map[string]any{"url": "https://x.test/hook", "events": []string{"ticket.called", "alert.raised"}}, 201},
	}
	for _, c := range cases {
		resp := s.Do(testapp.Request{Method: "POST", Path: "/api/v1/webhooks", Token: c.token, Body: c.body})
		if resp.Status != c.status {
			t.Errorf("%s: status %d (%s), want %d", c.name, resp.Status, resp.Body, c.status)
		}
	}
	for _, c := range []struct {
		path   string
		status int
	}{
		{"/api/v1/webhooks/999/deliveries", 404},
		{"/api/v1/webhooks/x/deliveries", 400},
		{"/api/v1/webhooks/1/deliveries?status=lost", 400},
		{"/api/v1/webhooks/1/deliveries?limit=0", 400},
	} {
		resp := s.Do(testapp.Request{Method: "GET", Path: c.path, Token: testapp.AdminToken})
		if resp.Status != c.status {
			t.Errorf("GET %s: %d %s, want %d", c.path, resp.Status, resp.Body, c.status)
		}
	}
	for _, c := range []struct {
		path   string
		status int
	}{
		{"/api/v1/webhooks/1/deliveries/not-a-uuid/retry", 400},
		{"/api/v1/webhooks/1/deliveries/0e78ab8f-1111-4222-8333-444455556666/retry", 404},
		{"/api/v1/webhooks/77/deliveries/0e78ab8f-1111-4222-8333-444455556666/retry", 404},
	} {
		resp := s.Do(testapp.Request{Method: "POST", Path: c.path, Token: testapp.AdminToken})
		if resp.Status != c.status {
			t.Errorf("POST %s: %d %s, want %d", c.path, resp.Status, resp.Body, c.status)
		}
	}
}
