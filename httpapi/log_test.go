package httpapi_test

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/queueless/queueless/auth"
	"github.com/queueless/queueless/httpapi"
	"github.com/queueless/queueless/internal/logging"
	"github.com/queueless/queueless/queue"
)

// syncBuffer is a bytes.Buffer safe for the handler and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) lines() []map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(s.b.String()), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(l), &m) == nil {
			out = append(out, m)
		}
	}
	return out
}

// TestRequestLogLines: a request that fails is logged at info or above
// with its request id; one that succeeds only at debug.
func TestRequestLogLines(t *testing.T) {
	t.Parallel()
	for _, level := range []slog.Level{slog.LevelInfo, slog.LevelDebug} {
		t.Run(level.String(), func(t *testing.T) {
			t.Parallel()
			var buf syncBuffer
			srv := httpapi.New(httpapi.Config{
				Queue:  queue.NewService(queue.NewMemoryStore(), queue.Config{}),
				Auth:   auth.NewService(auth.NewMemoryStore(), "log-test-admin-token-0123456789"),
				Logger: logging.New(&buf, "json", level),
			})
			for _, path := range []string{"/healthz", "/api/v1/institutions/999999"} {
				req := httptest.NewRequest(http.MethodGet, path, nil)
				req.Header.Set("X-Request-ID", "log-test"+strings.ReplaceAll(path, "/", "."))
				srv.ServeHTTP(httptest.NewRecorder(), req)
			}
			got := map[string]bool{} // request id -> logged as a request line
			for _, l := range buf.lines() {
				if l["msg"] == "request" {
					got[l["request_id"].(string)] = true
				}
			}
			if !got["log-test.api.v1.institutions.999999"] {
				t.Errorf("the 404 has no request line with its id at %s: %v", level, buf.lines())
			}
			if want := level == slog.LevelDebug; got["log-test.healthz"] != want {
				t.Errorf("the 200 logged as a request line at %s: %v, want %v", level, got["log-test.healthz"], want)
			}
		})
	}
}
