package push_test

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/queueless/queueless/push"
)

// received is one push as the push service saw it.
type received struct {
	method, path string
	header       http.Header
	body         []byte
}

// pushService is a browser's push service: it hands out an endpoint per
// subscription, remembers the applicationServerKey the subscription was
// made with, and takes pushes to it, answering with status.
type pushService struct {
	srv    *httptest.Server
	mu     sync.Mutex
	got    []received
	status int
	header http.Header
}

func newPushService(t *testing.T) *pushService {
	t.Helper()
	ps := &pushService{status: http.StatusCreated, header: http.Header{}}
	ps.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		ps.mu.Lock()
		ps.got = append(ps.got, received{r.Method, r.URL.Path, r.Header.Clone(), body})
		status := ps.status
		for k, v := range ps.header {
			w.Header()[k] = v
		}
		ps.mu.Unlock()
		w.WriteHeader(status)
		if status >= 400 {
			_, _ = io.WriteString(w, `{"reason":"status `+http.StatusText(status)+`"}`)
		}
	}))
	t.Cleanup(ps.srv.Close)
	return ps
}

func (ps *pushService) received() []received {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	return append([]received(nil), ps.got...)
}

// The whole round: the server's key as GET /api/v1/push/key gives it, a
// browser's subscription made with it and posted as the browser posts it,
// a push through the Sender, checked and opened by the push service and
// the browser with their own code.
func TestPushReachesTheBrowser(t *testing.T) {
	t.Parallel()
	keys, err := push.KeySource{Store: &push.MemoryKeyStore{}}.Keys(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	applicationServerKey := mustB64(t, keys.PublicKey()) // what pushManager.subscribe is given
	if len(applicationServerKey) != 65 || applicationServerKey[0] != 0x04 {
		t.Fatalf("public key is %d bytes starting %#x, want 65 starting 0x04", len(applicationServerKey), applicationServerKey[0])
	}
	ps := newPushService(t)
	b := newBrowser(t)
	endpoint := ps.srv.URL + "/wpush/v2/gAAAAABk-subscription-42"
	policy := push.Policy{AllowLoopback: true}
	sub, err := policy.ParseSubscription(b.subscriptionJSON(endpoint))
	if err != nil {
		t.Fatal(err)
	}
	const subject = "mailto:ops@queueless.example"
	sender := &push.Sender{Keys: keys, Subject: subject, Policy: policy}

	msgs := []push.Message{
		{Event: "near_turn", Title: "Almost your turn: A-042", Body: "3 people ahead of you at City Hall.", URL: "https://queue.example/?ticket=7f3c"},
		{Event: "turn_called", Title: "Your turn! Counter 4", Body: "Número A-042 — acérquese al mostrador 4 ✅ <b>&</b>", URL: "https://queue.example/?ticket=7f3c"},
	}
	opts := push.Options{TTL: 10 * time.Minute, Urgency: push.UrgencyHigh, Topic: "ticket-7f3c"}
	for _, m := range msgs {
		before := time.Now()
		if err := sender.Send(context.Background(), sub, m, opts); err != nil {
			t.Fatalf("Send(%s) = %v", m.Event, err)
		}
		got := ps.received()
		r := got[len(got)-1]
		if r.method != http.MethodPost || r.path != "/wpush/v2/gAAAAABk-subscription-42" {
			t.Errorf("%s %s, want POST to the endpoint's path", r.method, r.path)
		}
		for h, want := range map[string]string{
			"Content-Encoding": "aes128gcm",
			"Content-Type":     "application/octet-stream",
			"TTL":              "600",
			"Urgency":          "high",
			"Topic":            "ticket-7f3c",
		} {
			if got := r.header.Get(h); got != want {
				t.Errorf("%s: %s = %q, want %q", m.Event, h, got, want)
			}
		}

		// The push service's check.
		c, err := checkVAPID(r.header.Get("Authorization"), applicationServerKey)
		if err != nil {
			t.Fatalf("%s: VAPID: %v (Authorization %q)", m.Event, err, r.header.Get("Authorization"))
		}
		if c.Aud != ps.srv.URL {
			t.Errorf("aud = %q, want the endpoint's origin %q", c.Aud, ps.srv.URL)
		}
		if c.Sub != subject {
			t.Errorf("sub = %q, want %q", c.Sub, subject)
		}
		if exp := time.Unix(c.Exp, 0); !exp.After(before) || exp.After(before.Add(24*time.Hour)) {
			t.Errorf("exp = %s: want after now and within 24 h of it (now %s)", exp, before)
		}

		// The browser's decryption.
		opened, err := b.decrypt(r.body)
		if err != nil {
			t.Fatalf("%s: decrypt: %v", m.Event, err)
		}
		if opened.rs != 4096 || opened.records != 1 {
			t.Errorf("rs %d in %d records, want 4096 in one", opened.rs, opened.records)
		}
		var back push.Message
		if err := json.Unmarshal(opened.plaintext, &back); err != nil {
			t.Fatalf("plaintext %q is not JSON: %v", opened.plaintext, err)
		}
		if back != m {
			t.Errorf("decrypted %+v, want %+v", back, m)
		}
		var fields map[string]any
		_ = json.Unmarshal(opened.plaintext, &fields)
		if len(fields) != 4 {
			t.Errorf("plaintext has fields %v, want event, title, body, url", fields)
		}
	}

	// Each message has its own salt and sender key.
	got := ps.received()
	if len(got) != 2 {
		t.Fatalf("push service got %d pushes, want 2", len(got))
	}
	if string(got[0].body[:16]) == string(got[1].body[:16]) || string(got[0].body[21:86]) == string(got[1].body[21:86]) {
		t.Error("two messages share a salt or a sender key")
	}
	if string(got[0].body[21:86]) == string(applicationServerKey) {
		t.Error("the message's key id is the VAPID key; it must be a fresh ECDH key")
	}
	if rs := binary.BigEndian.Uint32(got[0].body[16:20]); rs != 4096 {
		t.Errorf("rs = %d, want 4096", rs)
	}

	// Another browser cannot read it.
	if _, err := newBrowser(t).decrypt(got[0].body); err == nil {
		t.Error("another browser's keys decrypted the push")
	}
	// A push service that a subscription made with another key receives
	// cannot accept it.
	other, _ := push.GenerateKeys()
	if _, err := checkVAPID(got[0].header.Get("Authorization"), mustB64(t, other.PublicKey())); err == nil {
		t.Error("the push passed VAPID for a subscription made with another key")
	}
}

// The stored subscription (its JSON) is what the worker sends to, later.
func TestSubscriptionSurvivesStorage(t *testing.T) {
	t.Parallel()
	ps := newPushService(t)
	b := newBrowser(t)
	policy := push.Policy{AllowLoopback: true}
	sub, err := policy.ParseSubscription(b.subscriptionJSON(ps.srv.URL + "/s/1"))
	if err != nil {
		t.Fatal(err)
	}
	stored, err := json.Marshal(sub)
	if err != nil {
		t.Fatal(err)
	}
	again, err := policy.ParseSubscription(stored)
	if err != nil {
		t.Fatalf("reparse %s: %v", stored, err)
	}
	keys, _ := push.GenerateKeys()
	s := &push.Sender{Keys: keys, Subject: "https://queue.example/contact", Policy: policy}
	if err := s.Send(context.Background(), again, push.Message{Event: "expired", Title: "t", Body: "b", URL: "u"}, push.Options{}); err != nil {
		t.Fatal(err)
	}
	r := ps.received()[0]
	m, err := b.decrypt(r.body)
	if err != nil || !strings.Contains(string(m.plaintext), `"event":"expired"`) {
		t.Fatalf("decrypt: %q, %v", m.plaintext, err)
	}
	if got := r.header.Get("TTL"); got != "600" {
		t.Errorf("default TTL = %q, want 600 (DefaultTTL)", got)
	}
	if got := r.header.Get("Urgency"); got != "" {
		t.Errorf("Urgency = %q with none asked for, want none", got)
	}
	if c, err := checkVAPID(r.header.Get("Authorization"), mustB64(t, keys.PublicKey())); err != nil || c.Sub != "https://queue.example/contact" {
		t.Errorf("VAPID: %+v, %v", c, err)
	}
}
