package httpapi_test

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/queueless/queueless/auth"
	"github.com/queueless/queueless/httpapi"
	"github.com/queueless/queueless/internal/logging"
	"github.com/queueless/queueless/queue"
)

// TestRequestLogLines: a request that fails is logged at info or above
// with its request id; one that succeeds only at debug.
func TestRequestLogLines(t *testing.T) {
	t.Parallel()
	for _, level := range []slog.Level{slog.LevelInfo, slog.LevelDebug} {
		t.Run(level.String(), func(t *testing.T) {
			t.Parallel()
			var buf bytes.Buffer // ServeHTTP runs on this goroutine
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
			for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
				var l struct {
					Msg       string `json:"msg"`
					RequestID string `json:"request_id"`
				}
				if json.Unmarshal([]byte(line), &l) == nil && l.Msg == "request" {
					got[l.RequestID] = true
				}
			}
			if !got["log-test.api.v1.institutions.999999"] {
				t.Errorf("the 404 has no request line with its id at %s:\n%s", level, buf.String())
			}
			if want := level == slog.LevelDebug; got["log-test.healthz"] != want {
				t.Errorf("the 200 logged as a request line at %s: %v, want %v", level, got["log-test.healthz"], want)
			}
		})
	}
}
