package loadtest

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestRawPool(t *testing.T) {
	t.Parallel()
	var requests atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := requests.Add(1)
		body, _ := io.ReadAll(r.Body)
		if r.Method != http.MethodPost || string(body) != `{"a":1}` || r.Header.Get("X-Forwarded-For") != "100.64.0.9" ||
			r.Header.Get("Content-Type") != "application/json" || r.Header.Get("Idempotency-Key") != "" {
			http.Error(w, fmt.Sprintf("bad request %s %q %v", r.Method, body, r.Header), http.StatusBadRequest)
			return
		}
		switch r.URL.Path {
		case "/chunked": // flushed in parts: Transfer-Encoding chunked
			w.WriteHeader(http.StatusCreated)
			io.WriteString(w, `{"id":"x",`)
			w.(http.Flusher).Flush()
			io.WriteString(w, fmt.Sprintf(`"number":%d}`, n))
		case "/close":
			w.Header().Set("Connection", "close")
			w.WriteHeader(http.StatusServiceUnavailable)
			io.WriteString(w, `{"code":"unavailable"}`)
		default:
			w.WriteHeader(http.StatusCreated)
			io.WriteString(w, `{"id":"y"}`)
		}
	}))
	defer srv.Close()
	rec := NewRecorder(false)
	c, err := NewClient(ClientConfig{BaseURL: srv.URL, Timeout: 5 * time.Second}, rec)
	if err != nil {
		t.Fatal(err)
	}
	pool, err := newRawPool(c)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.close()
	ctx := context.Background()
	send := func(path string) (int, string) {
		t.Helper()
		status, body, err := pool.do(ctx, "join", pool.rawRequest(path, []byte(`{"a":1}`), "X-Forwarded-For", "100.64.0.9", "Idempotency-Key", ""), true)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		return status, string(body)
	}
	for i := range 3 {
		if status, body := send("/plain"); status != 201 || body != `{"id":"y"}` {
			t.Fatalf("plain %d: %d %q", i, status, body)
		}
	}
	if got := len(pool.idle); got != 1 {
		t.Errorf("%d idle connections after three requests in turn, want 1 (kept alive)", got)
	}
	if status, body := send("/chunked"); status != 201 || !strings.HasPrefix(body, `{"id":"x","number":`) {
		t.Errorf("chunked: %d %q", status, body)
	}
	if status, body := send("/close"); status != 503 || body != `{"code":"unavailable"}` {
		t.Errorf("close: %d %q", status, body)
	}
	if got := len(pool.idle); got != 0 {
		t.Errorf("%d idle connections after Connection: close, want 0", got)
	}
	// The server drops its idle connections: the next request goes out
	// again, once, on a fresh one.
	if status, _ := send("/plain"); status != 201 {
		t.Fatalf("plain: %d", status)
	}
	srv.CloseClientConnections()
	time.Sleep(50 * time.Millisecond)
	before := requests.Load()
	if status, _ := send("/plain"); status != 201 {
		t.Errorf("after the server closed the idle connection: %d", status)
	}
	if got := requests.Load() - before; got != 1 {
		t.Errorf("the server got %d requests for one join", got)
	}
	s := rec.Snapshot(false)
	if got, want := s.Op("join").Statuses["201"], uint64(6); got != want {
		t.Errorf("recorded %d 201s, want %d (%v)", got, want, s.Op("join").Statuses)
	}
}
