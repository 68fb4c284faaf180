package httpapi_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/queueless/queueless/internal/app"
	"github.com/queueless/queueless/internal/testapp"
)

// TestLiveStreamOutlivesReadDeadline: every request is read under a
// deadline (REQUEST_TIMEOUT, and the server's read timeout), but a live
// stream, once upgraded, is not a request any more: it goes on delivering
// long after.
func TestLiveStreamOutlivesReadDeadline(t *testing.T) {
	t.Parallel()
	s := testapp.Start(t, testapp.Embedded, func(c *app.Config) { c.RequestTimeout = 200 * time.Millisecond })
	id := s.CreateInstitution(nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(s.URL, "http")+testapp.Path("/api/v1/institutions/%d/live", id), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	if _, _, err := ws.Read(ctx); err != nil { // the snapshot
		t.Fatal(err)
	}
	time.Sleep(1500 * time.Millisecond) // several read deadlines (200ms + 200ms) later
	if r := s.Do(testapp.Request{Method: "POST", Path: testapp.Path("/api/v1/institutions/%d/tickets", id)}); r.Status != 201 {
		t.Fatalf("join: %d %s", r.Status, r.Body)
	}
	_, data, err := ws.Read(ctx)
	if err != nil {
		t.Fatalf("the stream died with the request's deadline: %v", err)
	}
	if !strings.Contains(string(data), `"last_issued":1`) {
		t.Fatalf("frame after the join: %s", data)
	}
}
