package notify_test

import (
	"strings"
	"testing"
	"time"

	"github.com/queueless/queueless/internal/app"
	"github.com/queueless/queueless/internal/testapp"
)

// A gateway that answers 500 for a while: the text is retried on its
// schedule (attempts and last_error shown to staff) and sent once it is
// back, exactly once.
func TestTextRetriedWhileTheGatewayFails(t *testing.T) {
	t.Parallel()
	for _, mode := range testapp.Modes {
		t.Run(string(mode), func(t *testing.T) {
			t.Parallel()
			mock := newMockSMS(t)
			s := testapp.Start(t, mode, mock.gateway)
			inst := createOffice(t, s, "Fault Hall")
			for range 4 {
				joinWith(t, s, inst, map[string]any{})
			}
			const e164 = "+639170001111"
			c := joinWith(t, s, inst, map[string]any{"phone": "09170001111", "near_turn_threshold": 1})
			code := codeRE.FindStringSubmatch(mock.waitFor(e164, 1).Body)[1]
			if r := s.Do(testapp.Request{Method: "POST", Path: "/api/v1/tickets/" + c.ID + "/verify-phone", Body: map[string]string{"code": code}}); r.Status != 200 {
				t.Fatalf("verify: %d %s", r.Status, r.Body)
			}
			if st, body := mock.do("PUT", "/admin/sms/faults", map[string]any{"status": 500, "rate": 1}); st != 200 {
				t.Fatalf("set faults: %d %s", st, body)
			}
			for range 3 {
				advance(t, s, inst, "1") // one ahead: near turn
			}
			var attempts int
			deadline := time.Now().Add(20 * time.Second)
			for attempts < 2 && time.Now().Before(deadline) {
				for _, n := range notifications(t, s, c.ID, testapp.AdminToken) {
					for _, d := range n.Deliveries {
						if n.Event == "near_turn" && d.Status == "pending" && d.Attempts != nil && d.LastError != nil && strings.Contains(*d.LastError, "500") {
							attempts = *d.Attempts
						}
					}
				}
				time.Sleep(30 * time.Millisecond)
			}
			if attempts < 2 {
				t.Fatalf("while the gateway fails: %+v, want the near_turn text pending after 2+ attempts with a 500 error", notifications(t, s, c.ID, testapp.AdminToken))
			}
			if n := len(mock.messages(e164)); n != 1 {
				t.Fatalf("%d texts while the gateway failed, want the code only", n)
			}
			mock.do("PUT", "/admin/sms/faults", map[string]any{"status": 0, "rate": 0})
			near := mock.waitFor(e164, 2)
			if !strings.Contains(near.Body, "near") {
				t.Errorf("text after recovery %q", near.Body)
			}
			time.Sleep(500 * time.Millisecond)
			if n := len(mock.messages(e164)); n != 2 {
				t.Errorf("%d texts after recovery, want 2 (code, near turn once)", n)
			}
			var sent bool
			for _, n := range notifications(t, s, c.ID, testapp.AdminToken) {
				for _, d := range n.Deliveries {
					sent = sent || (n.Event == "near_turn" && d.Status == "sent" && d.Attempts != nil && *d.Attempts > attempts)
				}
			}
			if !sent {
				t.Errorf("after recovery: %+v, want near_turn sent after more attempts", notifications(t, s, c.ID, testapp.AdminToken))
			}
		})
	}
}

// The embedded demo: with SEED_MOCKAPI_URL and no SMS_GATEWAY, texts go
// to that mockapi's mock Twilio.
func TestEmbeddedDemoTextsGoToMockapi(t *testing.T) {
	t.Parallel()
	mock := newMockSMS(t)
	s := testapp.Start(t, testapp.Embedded, func(c *app.Config) {
		c.Sync.SeedMockAPIURL = mock.srv.URL
	})
	inst := createOffice(t, s, "Demo Hall")
	joinWith(t, s, inst, map[string]any{"phone": "09170002222"})
	if m := mock.waitFor("+639170002222", 1); !codeRE.MatchString(m.Body) || !strings.Contains(m.Body, "Demo Hall") {
		t.Errorf("demo text %q: want the code from Demo Hall", m.Body)
	}
}
