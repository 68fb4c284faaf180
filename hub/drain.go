package hub

import (
	"context"
	"maps"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/coder/websocket"

	"github.com/queueless/queueless/queue"
)

// ErrDraining refuses a new live connection while the instance drains: the
// load balancer tries another instance (nginx's proxy_next_upstream
// http_503), and a client that got the answer itself retries.
var ErrDraining = queue.Errorf(queue.CodeUnavailable, "the server is restarting: connect again")

// Drain prepares the instance's exit without a gap for its clients: from
// now on new subscriptions are refused, and every live connection is told
// to reconnect (close code 1012, service restart), one after another over
// spread, so that they do not all land on the other instances in the same
// instant. It returns when every connection has gone or ctx ends; Close
// still follows, and says 1001 to whatever is left.
func (h *Hub) Drain(ctx context.Context, spread time.Duration) {
	h.mu.Lock()
	if h.draining || h.closed {
		h.mu.Unlock()
		return
	}
	h.draining = true
	conns := slices.Collect(maps.Keys(h.conns))
	h.mu.Unlock()
	rand.Shuffle(len(conns), func(i, j int) { conns[i], conns[j] = conns[j], conns[i] })
	start := time.Now()
	for i, c := range conns {
		at := start.Add(spread * time.Duration(i) / time.Duration(len(conns)))
		if d := time.Until(at); d > 0 {
			select {
			case <-ctx.Done():
				return
			case <-time.After(d):
			}
		}
		go c.restart()
	}
	waitCtx(ctx, &h.connWG)
}

// restart ends the connection with 1012: reconnect, the service restarts.
func (c *conn) restart() {
	if c.socket() == nil {
		return // not upgraded yet: serve says it once the socket is there
	}
	c.end(closeReason{code: websocket.StatusServiceRestart, reason: "server restarting: reconnect"})
}
