package webhooks_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/queueless/queueless/webhooks"
)

// attempt is one POST a test receiver saw.
type attempt struct {
	at       time.Time
	event    string
	delivery string
	status   int // what the receiver answered
	payload  webhooks.Payload
	sigOK    bool
}

// dropConnection, as an answer, closes the connection without a response.
const dropConnection = -1

// receiver is an institution's system: it checks signatures, answers what
// the test says, and counts, per delivery id, the attempts it accepted.
type receiver struct {
	t      *testing.T
	srv    *httptest.Server
	mu     sync.Mutex
	secret string
	answer func(a attempt) int // status to answer; 200 when nil
	hang   chan struct{}       // when non-nil, handlers wait on it first
	seen   []attempt
}

func newReceiver(t *testing.T) *receiver {
	r := &receiver{t: t}
	r.srv = httptest.NewServer(http.HandlerFunc(r.handle))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) handle(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	a := attempt{at: time.Now(), event: req.Header.Get(webhooks.HeaderEvent), delivery: req.Header.Get(webhooks.HeaderDelivery)}
	_ = json.Unmarshal(body, &a.payload)
	r.mu.Lock()
	a.sigOK = webhooks.Verify(r.secret, body, req.Header.Get(webhooks.HeaderSignature))
	answer, hang := r.answer, r.hang
	r.mu.Unlock()
	if hang != nil {
		r.record(a) // seen, then held
		select {
		case <-hang:
		case <-req.Context().Done():
			return
		}
		return
	}
	a.status = http.StatusOK
	if answer != nil {
		a.status = answer(a)
	}
	r.record(a)
	if a.status == dropConnection {
		if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
			_ = conn.Close()
		}
		return
	}
	w.WriteHeader(a.status)
}

func (r *receiver) record(a attempt) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.seen = append(r.seen, a)
}

func (r *receiver) setSecret(s string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.secret = s
}

func (r *receiver) setAnswer(f func(a attempt) int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.answer = f
}

func (r *receiver) attempts() []attempt {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]attempt(nil), r.seen...)
}

// accepted counts, per delivery id, the attempts answered 2xx.
func (r *receiver) accepted() map[string]int {
	out := map[string]int{}
	for _, a := range r.attempts() {
		if a.status/100 == 2 {
			out[a.delivery]++
		}
	}
	return out
}

// waitFor polls cond until it holds or the timeout passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
