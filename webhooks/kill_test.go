package webhooks_test

import (
	"fmt"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/queueless/queueless/internal/testenv"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testenv.RemoveServerBinaries()
	os.Exit(code)
}

const killAdminToken = "webhooks-e2e-admin-token-0123456789"

// proc is one queueless process (testenv.Server: the real binary, built
// with -race when the tests have it).
type proc struct {
	*testenv.Server
	t *testing.T
}

func startProc(t *testing.T, env ...string) *proc {
	t.Helper()
	s := testenv.StartServer(t, "queueless", testenv.ServerBinary(t, testenv.Race), append([]string{
		"ADMIN_TOKEN=" + killAdminToken, "JOIN_RATE=off", "JOIN_PHONE_RATE=off", "SHUTDOWN_TIMEOUT=10s"}, env...)...)
	return &proc{Server: s, t: t}
}

// call makes an API request as the admin and decodes a 2xx answer into
// out.
func (p *proc) call(method, path string, body, out any) {
	p.t.Helper()
	p.Call(killAdminToken, method, path, body, out)
}

// An instance killed with deliveries in flight (its POSTs held by the
// receiver): another instance on the same database delivers every one of
// them, once River's leader finds them stuck.
func TestWebhookInstanceKilledAnotherDelivers(t *testing.T) {
	t.Parallel()
	env := []string{
		"DATABASE_URL=" + testenv.NewSchema(t),
		"REDIS_URL=" + testenv.RedisURL(t), "REDIS_PREFIX=" + testenv.RedisPrefix(t),
		"WEBHOOK_TIMEOUT=5s", "JOBS_RESCUE_AFTER=11s", "JOBS_YIELD_MAX=0", "WEBHOOK_RETRY_BASE=100ms",
	}
	r := newReceiver(t)
	r.mu.Lock()
	r.hang = make(chan struct{})
	r.mu.Unlock()

	a := startProc(t, env...)
	var inst struct{ ID int64 }
	a.call("POST", "/api/v1/institutions", map[string]any{"name": "Kill Office", "kind": "bank", "address": "x", "status": "open"}, &inst)
	var hook hookOut
	a.call("POST", "/api/v1/webhooks", map[string]any{"url": r.srv.URL, "events": []string{"ticket.created"}}, &hook)
	r.setSecret(hook.Secret)
	const joins = 5
	for range joins {
		a.call("POST", fmt.Sprintf("/api/v1/institutions/%d/tickets", inst.ID), map[string]any{}, nil)
	}
	waitFor(t, 30*time.Second, "every delivery in flight at the receiver", func() bool {
		ids := map[string]bool{}
		for _, at := range r.attempts() {
			ids[at.delivery] = true
		}
		return len(ids) == joins
	})
	a.Signal(syscall.SIGKILL, 10*time.Second)
	r.mu.Lock()
	close(r.hang)
	r.hang = nil
	r.mu.Unlock()
	if n := len(r.accepted()); n != 0 {
		t.Fatalf("%d deliveries accepted before the kill, want none (all held)", n)
	}

	b := startProc(t, env...)
	waitFor(t, 90*time.Second, "the other instance to deliver every delivery", func() bool { return len(r.accepted()) == joins })
	time.Sleep(300 * time.Millisecond)
	for id, n := range r.accepted() {
		if n != 1 {
			t.Errorf("delivery %s accepted %d times, want once", id, n)
		}
	}
	for _, at := range r.attempts() {
		if !at.sigOK {
			t.Errorf("delivery %s: bad signature", at.delivery)
		}
	}
	waitFor(t, 15*time.Second, "every delivery recorded as delivered", func() bool {
		var out struct{ Items []deliveryOut }
		b.call("GET", fmt.Sprintf("/api/v1/webhooks/%d/deliveries?status=delivered", hook.ID), nil, &out)
		return len(out.Items) == joins
	})
}
