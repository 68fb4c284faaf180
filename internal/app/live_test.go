package app

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/queueless/queueless/internal/testenv"
	"github.com/queueless/queueless/queue"
)

const testAdminToken = "live-test-admin-token-0123456789"

// newLiveApp builds an app in production mode (PostgreSQL, Redis) on its
// own schema and key prefix.
func newLiveApp(t *testing.T, env map[string]string) *App {
	t.Helper()
	vars := map[string]string{
		"DATABASE_URL": testenv.NewSchema(t), "REDIS_URL": testenv.RedisURL(t), "REDIS_PREFIX": testenv.RedisPrefix(t),
		"ADMIN_TOKEN": testAdminToken, "JOIN_RATE": "off", "JOIN_PHONE_RATE": "off",
		"ALLOWED_ORIGINS": "https://board.example.org", "WS_MAX_PER_IP": "2",
	}
	for k, v := range env {
		vars[k] = v
	}
	cfg, err := LoadConfig(func(k string) string { return vars[k] })
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	a, err := New(context.Background(), cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("new app: %v", err)
	}
	return a
}

func openInstitution(t *testing.T, a *App) queue.Institution {
	t.Helper()
	inst, err := a.Queue.CreateInstitution(context.Background(), queue.Fields{Name: "Live", Kind: "health", Status: queue.StatusOpen}, queue.Meta{Actor: "test"})
	if err != nil {
		t.Fatalf("create institution: %v", err)
	}
	return inst
}

func wsURL(base, path string) string { return "ws" + strings.TrimPrefix(base, "http") + path }

// TestLiveRefusals: every refusal is an ordinary HTTP error with the
// contract's body, before any upgrade.
func TestLiveRefusals(t *testing.T) {
	t.Parallel()
	a := newLiveApp(t, nil)
	srv := httptest.NewServer(a.HTTP)
	t.Cleanup(func() { a.Close(context.Background()); srv.Close() })
	inst := openInstitution(t, a)
	instPath := fmt.Sprintf("/api/v1/institutions/%d/live", inst.ID)

	tests := []struct {
		name     string
		path     string
		origin   string
		noUpgrad bool
		status   int
		code     queue.Code
	}{
		{name: "unknown institution", path: "/api/v1/institutions/999999/live", status: 404, code: queue.CodeNotFound},
		{name: "institution id not a number", path: "/api/v1/institutions/abc/live", status: 400, code: queue.CodeInvalid},
		{name: "unknown ticket", path: "/api/v1/tickets/0e78ab8f-1111-4222-8333-444455556666/live", status: 404, code: queue.CodeNotFound},
		{name: "malformed ticket id", path: "/api/v1/tickets/not-a-uuid/live", status: 400, code: queue.CodeInvalid},
		{name: "foreign origin", path: instPath, origin: "https://evil.example.com", status: 403, code: queue.CodeForbidden},
		{name: "not an upgrade", path: instPath, noUpgrad: true, status: 426, code: queue.CodeInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			status, body := attempt(t, srv.URL, tt.path, tt.origin, tt.noUpgrad)
			if status != tt.status {
				t.Fatalf("status %d, want %d (body %s)", status, tt.status, body)
			}
			var e struct {
				Code      queue.Code `json:"code"`
				Message   string     `json:"message"`
				RequestID string     `json:"request_id"`
			}
			if err := json.Unmarshal(body, &e); err != nil || e.Code != tt.code || e.Message == "" || e.RequestID == "" {
				t.Errorf("body %s, want the contract's error body with code %s", body, tt.code)
			}
		})
	}

	t.Run("allowed and same origins upgrade; the address cap answers 429", func(t *testing.T) {
		// The refusals above run once this returns, from the same address:
		// the server must have let go of these two by then, or they would
		// meet the cap.
		defer waitLiveClients(t, srv.URL, 0)
		for _, origin := range []string{"https://board.example.org", srv.URL} {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			ws, _, err := websocket.Dial(ctx, wsURL(srv.URL, instPath), &websocket.DialOptions{HTTPHeader: http.Header{"Origin": {origin}}})
			cancel()
			if err != nil {
				t.Fatalf("origin %s: %v", origin, err)
			}
			defer ws.CloseNow()
		}
		resp, body := dialFail(t, wsURL(srv.URL, instPath), "")
		if resp.StatusCode != http.StatusTooManyRequests || !strings.Contains(string(body), `"rate_limited"`) {
			t.Fatalf("third connection: %d %s, want 429 rate_limited", resp.StatusCode, body)
		}
		if resp.Header.Get("Retry-After") == "" || resp.Header.Get("X-RateLimit-Limit") != "2" {
			t.Errorf("429 headers %v, want Retry-After and X-RateLimit-Limit: 2", resp.Header)
		}
	})
}

// waitLiveClients waits until the server at base counts n connected live
// clients of each stream.
func waitLiveClients(t *testing.T, base string, n int) {
	t.Helper()
	want := fmt.Sprintf(`queueless_live_clients{stream="institution"} %d`, n)
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get(base + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if strings.Contains(string(b), want+"\n") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("live clients: no %q in /metrics within 10s", want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func attempt(t *testing.T, base, path, origin string, noUpgrade bool) (int, []byte) {
	t.Helper()
	if noUpgrade {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	resp, body := dialFail(t, wsURL(base, path), origin)
	return resp.StatusCode, body
}

// dialFail attempts an upgrade that must be refused.
func dialFail(t *testing.T, url, origin string) (*http.Response, []byte) {
	t.Helper()
	h := http.Header{}
	if origin != "" {
		h.Set("Origin", origin)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ws, resp, err := websocket.Dial(ctx, url, &websocket.DialOptions{HTTPHeader: h})
	if err == nil {
		ws.CloseNow()
		t.Fatalf("%s: upgraded, want a refusal", url)
	}
	if resp == nil {
		t.Fatalf("%s: %v, and no response", url, err)
	}
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

// TestLiveShutdownSaysReconnect: stopping the server (SIGTERM) tells every
// stream to reconnect (1012, service restart) and does not wait for
// clients to leave by themselves. (The hub's own Close says 1001 to what
// is left: hub tests.)
func TestLiveShutdownSaysReconnect(t *testing.T) {
	t.Parallel()
	a := newLiveApp(t, map[string]string{"SHUTDOWN_TIMEOUT": "10s"})
	inst := openInstitution(t, a)
	tk, err := a.Queue.Join(context.Background(), inst.ID, queue.JoinRequest{}, queue.Meta{Actor: queue.ActorCitizen})
	if err != nil {
		t.Fatalf("join: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- a.Serve(ctx, ln) }()
	base := "http://" + ln.Addr().String()

	var conns []*websocket.Conn
	for _, path := range []string{fmt.Sprintf("/api/v1/institutions/%d/live", inst.ID), "/api/v1/tickets/" + tk.Ticket.ID + "/live"} {
		dctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		ws, _, err := websocket.Dial(dctx, wsURL(base, path), nil)
		cancel()
		if err != nil {
			t.Fatalf("dial %s: %v", path, err)
		}
		if _, _, err := ws.Read(context.Background()); err != nil {
			t.Fatalf("snapshot of %s: %v", path, err)
		}
		conns = append(conns, ws)
	}
	start := time.Now()
	stop()
	for i, ws := range conns {
		rctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, _, err := ws.Read(rctx)
		cancel()
		if got := websocket.CloseStatus(err); got != websocket.StatusServiceRestart {
			t.Errorf("stream %d ended with %v (%v), want 1012 service restart", i, got, err)
		}
	}
	select {
	case err := <-served:
		if err != nil {
			t.Errorf("serve: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("server still shutting down after 10s")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("shutdown took %v with two live clients, want it prompt", d)
	}
}
