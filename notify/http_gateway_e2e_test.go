package notify_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/queueless/queueless/internal/app"
	"github.com/queueless/queueless/internal/testapp"
	"github.com/queueless/queueless/webhooks"
)

// The http gateway both ways: texts are signed JSON POSTs; inbound texts
// are signed JSON, and a bad signature is 401.
func TestHTTPGatewayBothWays(t *testing.T) {
	t.Parallel()
	const secret = "sms-http-secret-0123456789"
	var mu sync.Mutex
	var got []map[string]string
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if !webhooks.Verify(secret, body, r.Header.Get(webhooks.HeaderSignature)) {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		var m map[string]string
		_ = json.Unmarshal(body, &m)
		mu.Lock()
		got = append(got, m)
		mu.Unlock()
		w.WriteHeader(http.StatusAccepted)
	}))
	t.Cleanup(recv.Close)
	s := testapp.Start(t, testapp.Embedded, func(c *app.Config) {
		c.Notify.SMSGateway, c.Notify.SMSHTTPURL, c.Notify.SMSHTTPSecret = "http", recv.URL, secret
		c.Notify.SMSVerify = "false"
		c.Notify.SMSRetryBase = 50 * time.Millisecond
	})
	inst := createOffice(t, s, "Water District")
	tk := joinWith(t, s, inst, map[string]any{"phone": "09170003333"})

	// The join's sms_phone job makes the ticket the number's: until it has
	// run, STATUS answers that there is none.
	body := []byte(`{"from": "09170003333", "body": "Status"}`)
	sent := 0
	for wait := time.Now().Add(20 * time.Second); ; {
		r := s.Do(testapp.Request{Method: "POST", Path: "/api/v1/sms/inbound", Body: body,
			Header: map[string]string{webhooks.HeaderSignature: webhooks.Sign(secret, body)}})
		if r.Status != 200 {
			t.Fatalf("signed inbound STATUS: %d %s, want 200", r.Status, r.Body)
		}
		sent++
		if strings.Contains(string(r.Body), tk.Label) {
			break
		}
		if time.Now().After(wait) {
			t.Fatalf("inbound STATUS answers %s, want it to name %s", r.Body, tk.Label)
		}
		time.Sleep(50 * time.Millisecond)
	}
	r := s.Do(testapp.Request{Method: "POST", Path: "/api/v1/sms/inbound", Body: body,
		Header: map[string]string{webhooks.HeaderSignature: webhooks.Sign("another-secret", body)}})
	if r.Status != 401 {
		t.Fatalf("badly signed inbound: %d %s, want 401", r.Status, r.Body)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		// The answers are texts sent by jobs that may run side by side, so
		// they may arrive in any order: the one to the STATUS that named
		// the ticket must be among them, not necessarily last.
		mu.Lock()
		n := len(got)
		named := false
		for _, m := range got {
			if m["to"] == "09170003333" && m["id"] != "" && strings.Contains(m["body"], tk.Label+", ") && strings.Contains(m["body"], "ahead of you") {
				named = true
			}
		}
		mu.Unlock()
		if n == sent+1 && named {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the gateway received %v, want the near-turn text and %d signed answers, one to 09170003333 naming %s and how many are ahead (no code: SMS_VERIFY=false)", got, sent, tk.Label)
		}
		time.Sleep(30 * time.Millisecond)
	}
}
