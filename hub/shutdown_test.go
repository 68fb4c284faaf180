package hub

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/queueless/queueless/queue"
)

// TestUpgradeDuringCloseSaysGoingAway holds a connection between its
// upgrade and its setup while the hub starts closing, so that Close finds
// no socket to send 1001 on: the connection must still end with 1001, and
// Close must not wait out its deadline for it.
func TestUpgradeDuringCloseSaysGoingAway(t *testing.T) {
	t.Parallel()
	store := queue.NewMemoryStore()
	h, err := New(Config{Store: store, Broker: NewMemoryBroker(), Registerer: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	svc := queue.NewService(store, queue.Config{})
	inst, err := svc.CreateInstitution(context.Background(), queue.Fields{Name: "Upgrade", Kind: "bank", Status: queue.StatusOpen}, queue.Meta{})
	if err != nil {
		t.Fatal(err)
	}
	accepted, proceed := make(chan struct{}), make(chan struct{})
	h.afterAccept = func() {
		close(accepted)
		<-proceed
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sub, err := h.SubscribeInstitution(r.Context(), inst.ID, "127.0.0.1")
		if err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		sub.Serve(w, r)
	}))
	t.Cleanup(srv.Close)

	type result struct {
		code websocket.StatusCode
		err  error
	}
	got := make(chan result, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		ws, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http"), nil)
		if err != nil {
			got <- result{err: err}
			return
		}
		defer ws.CloseNow()
		for err == nil {
			_, _, err = ws.Read(ctx)
		}
		got <- result{code: websocket.CloseStatus(err), err: err}
	}()
	<-accepted
	closed := make(chan time.Duration, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		begin := time.Now()
		h.Close(ctx)
		closed <- time.Since(begin)
	}()
	for h.ctx.Err() == nil { // Close has begun
		time.Sleep(time.Millisecond)
	}
	time.Sleep(20 * time.Millisecond) // and has looked at the connections
	close(proceed)
	if r := <-got; r.code != websocket.StatusGoingAway {
		t.Errorf("the stream upgraded while the hub closed ended with %v (%v), want 1001", r.code, r.err)
	}
	if took := <-closed; took > 3*time.Second {
		t.Errorf("Close took %s: it waited out its deadline for the stream", took)
	}
}
