package hub_test

import (
	"context"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// streamEnd is how and when a live stream ended.
type streamEnd struct {
	code websocket.StatusCode
	at   time.Time
}

// watchEnds opens n live streams on url, reads each one's snapshot, then
// reads on until it ends and reports how on the returned channel. The
// streams are closed when the test ends.
func watchEnds(t *testing.T, url string, n int) <-chan streamEnd {
	t.Helper()
	ends := make(chan streamEnd, n)
	for range n {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		ws, _, err := websocket.Dial(ctx, url, nil)
		cancel()
		if err != nil {
			t.Fatalf("dial: %v", err)
		}
		t.Cleanup(func() { ws.CloseNow() })
		if _, _, err := ws.Read(context.Background()); err != nil {
			t.Fatalf("snapshot: %v", err)
		}
		go func() {
			for {
				if _, _, err := ws.Read(context.Background()); err != nil {
					ends <- streamEnd{websocket.CloseStatus(err), time.Now()}
					return
				}
			}
		}()
	}
	return ends
}
