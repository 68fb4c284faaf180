package httpapi_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/queueless/queueless/internal/app"
	"github.com/queueless/queueless/internal/testapp"
)

// TestOriginsOneMatcher: CORS and the live streams' Origin check read
// ALLOWED_ORIGINS the same way, patterns included: an origin may make
// cross-origin API calls exactly when it may open live streams.
func TestOriginsOneMatcher(t *testing.T) {
	t.Parallel()
	s := testapp.Start(t, testapp.Embedded, func(c *app.Config) {
		c.AllowedOrigins = []string{"https://queue.example.gov.ph", "*.example.org", "HTTP://Board.Example.NET/"}
	})
	id := s.CreateInstitution(nil)
	for origin, want := range map[string]bool{
		"https://queue.example.gov.ph":      true,
		"https://board.example.org":         true,
		"http://hall-2.example.org":         true,
		"http://board.example.net":          true,
		"https://example.org":               false,
		"https://board.example.org.evil.io": false,
		"https://evil.example":              false,
		"http://queue.example.gov.ph":       false,
		"null":                              false,
	} {
		r := sendHostile(t, s, hostile{method: "OPTIONS", path: testapp.Path("/api/v1/institutions/%d/tickets", id), header: map[string]string{
			"Origin": origin, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"}})
		cors := r.Header.Get("Access-Control-Allow-Origin") == origin
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		ws, resp, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(s.URL, "http")+testapp.Path("/api/v1/institutions/%d/live", id),
			&websocket.DialOptions{HTTPHeader: http.Header{"Origin": {origin}}})
		cancel()
		live := err == nil
		if live {
			ws.CloseNow()
		} else if resp == nil || resp.StatusCode != http.StatusForbidden {
			t.Fatalf("%s: live stream failed otherwise than 403: %v", origin, err)
		}
		if cors != want || live != want {
			t.Errorf("%s: CORS allowed %v, live stream allowed %v; want both %v", origin, cors, live, want)
		}
	}
}
