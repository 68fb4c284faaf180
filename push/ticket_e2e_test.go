package push_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/queueless/queueless/internal/app"
	"github.com/queueless/queueless/internal/testapp"
	"github.com/queueless/queueless/push"
)

// A ticket's notification reaches the browser as a push, in both modes:
// the server's key from GET /api/v1/push/key, a browser's subscription
// posted to the ticket, the near-turn and called pushes received by the
// push service (VAPID checked against the subscribed key) and decrypted by
// the browser; then the push service says the subscription is gone (410)
// and it is deleted.
func TestTicketPushReachesTheBrowser(t *testing.T) {
	t.Parallel()
	for _, mode := range testapp.Modes {
		t.Run(string(mode), func(t *testing.T) {
			t.Parallel()
			s := testapp.Start(t, mode, func(c *app.Config) {
				c.Notify.PushAllowLoopback = true
				c.Notify.SMSRetryBase = 50 * time.Millisecond
				c.Notify.VAPIDSubject = "mailto:ops@queue.example"
			})
			var key struct {
				PublicKey string `json:"public_key"`
			}
			s.Do(testapp.Request{Method: "GET", Path: "/api/v1/push/key"}).JSON(t, &key)
			applicationServerKey := mustB64(t, key.PublicKey)

			resp := s.Do(testapp.Request{Method: "POST", Path: "/api/v1/institutions", Token: testapp.AdminToken,
				Body: map[string]any{"name": "Civic Center", "kind": "government", "status": "open"}})
			var inst struct{ ID int64 }
			resp.JSON(t, &inst)
			join := func() (id, label string) {
				r := s.Do(testapp.Request{Method: "POST", Path: fmt.Sprintf("/api/v1/institutions/%d/tickets", inst.ID), Body: map[string]any{"near_turn_threshold": 1}})
				var tk struct{ ID, Label string }
				r.JSON(t, &tk)
				return tk.ID, tk.Label
			}
			join()
			join()
			id, label := join()

			ps := newPushService(t)
			b := newBrowser(t)
			bad := s.Do(testapp.Request{Method: "POST", Path: "/api/v1/tickets/" + id + "/push", Body: map[string]any{"endpoint": ps.srv.URL + "/s", "keys": map[string]string{"p256dh": "short", "auth": "x"}}})
			if bad.Status != 400 || !strings.Contains(string(bad.Body), "invalid_request") {
				t.Fatalf("bad subscription: %d %s, want 400 invalid_request", bad.Status, bad.Body)
			}
			sub := s.Do(testapp.Request{Method: "POST", Path: "/api/v1/tickets/" + id + "/push", Body: b.subscriptionJSON(ps.srv.URL + "/wpush/t1")})
			if sub.Status != http.StatusCreated {
				t.Fatalf("subscribe: %d %s", sub.Status, sub.Body)
			}

			advance := func() {
				r := s.Do(testapp.Request{Method: "POST", Path: fmt.Sprintf("/api/v1/institutions/%d/advance", inst.ID), Token: testapp.AdminToken, Body: map[string]any{"counter": "7"}})
				if r.Status != 200 {
					t.Fatalf("advance: %d %s", r.Status, r.Body)
				}
			}
			waitPush := func(n int) received {
				deadline := time.Now().Add(30 * time.Second)
				for time.Now().Before(deadline) {
					if got := ps.received(); len(got) >= n {
						return got[n-1]
					}
					time.Sleep(50 * time.Millisecond)
				}
				t.Fatalf("push #%d never arrived", n)
				return received{}
			}
			open := func(r received) push.Message {
				if _, err := checkVAPID(r.header.Get("Authorization"), applicationServerKey); err != nil {
					t.Fatalf("VAPID: %v", err)
				}
				m, err := b.decrypt(r.body)
				if err != nil {
					t.Fatalf("decrypt: %v", err)
				}
				var msg push.Message
				if err := json.Unmarshal(m.plaintext, &msg); err != nil {
					t.Fatal(err)
				}
				return msg
			}

			advance() // one ahead: near turn
			near := open(waitPush(1))
			if near.Event != "near_turn" || !strings.Contains(near.Title, label) || !strings.HasSuffix(near.URL, "/?ticket="+id) {
				t.Errorf("near-turn push %+v: want near_turn, label %q, the ticket's link", near, label)
			}
			advance()
			advance() // called at counter 7
			called := open(waitPush(2))
			if called.Event != "turn_called" || !strings.Contains(called.Body, "counter 7") || !strings.Contains(called.Body, "Civic Center") {
				t.Errorf("called push %+v: want turn_called at counter 7 of Civic Center", called)
			}

			// The subscription is gone: the next push deletes it and fails.
			ps.mu.Lock()
			ps.status = http.StatusGone
			ps.mu.Unlock()
			s.Do(testapp.Request{Method: "POST", Path: "/api/v1/tickets/" + id + "/recall", Token: testapp.AdminToken})
			waitPush(3)
			deadline := time.Now().Add(20 * time.Second)
			for {
				var out struct {
					Items []struct {
						Event      string
						Deliveries []struct{ Channel, Status string }
					}
				}
				s.Do(testapp.Request{Method: "GET", Path: "/api/v1/tickets/" + id + "/notifications"}).JSON(t, &out)
				last := out.Items[len(out.Items)-1]
				if len(last.Deliveries) == 1 && last.Deliveries[0].Status == "failed" {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("after 410 the last delivery is %+v, want push failed", last)
				}
				time.Sleep(50 * time.Millisecond)
			}
			advance() // the ticket expires or is served later: no subscription, no push
			s.Do(testapp.Request{Method: "POST", Path: "/api/v1/tickets/" + id + "/recall", Token: testapp.AdminToken})
			time.Sleep(500 * time.Millisecond)
			if n := len(ps.received()); n != 3 {
				t.Errorf("push service got %d pushes after the subscription was gone, want 3", n)
			}
		})
	}
}
