package hub_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/queueless/queueless/hub"
)

// TestDrain: Drain refuses new subscriptions with ErrDraining, tells every
// connection to reconnect with 1012 spread over the given time, and
// returns once they have gone.
func TestDrain(t *testing.T) {
	t.Parallel()
	s := newStack(t, 1, nil)
	inst := s.institution()
	h := s.inst[0].hub
	url := "ws" + strings.TrimPrefix(s.inst[0].srv.URL, "http") + fmt.Sprintf("/inst/%d", inst.ID)
	const conns = 8
	ends := watchEnds(t, url, conns)
	const spread = 700 * time.Millisecond
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	h.Drain(ctx, spread)
	took := time.Since(start)
	if took < spread*(conns-1)/conns || took > 5*time.Second {
		t.Errorf("Drain took %v, want about %v (the spread) until every connection had gone", took, spread)
	}
	var first, last time.Time
	for i := range conns {
		e := <-ends
		if e.code != websocket.StatusServiceRestart {
			t.Errorf("connection %d ended with %v, want 1012", i, e.code)
		}
		if first.IsZero() || e.at.Before(first) {
			first = e.at
		}
		if e.at.After(last) {
			last = e.at
		}
	}
	if last.Sub(first) < spread/2 {
		t.Errorf("the %d closes came within %v, want them spread over about %v", conns, last.Sub(first), spread)
	}
	if _, err := h.SubscribeInstitution(context.Background(), inst.ID, "127.0.0.1"); !errors.Is(err, hub.ErrDraining) {
		t.Errorf("subscribe while draining: %v, want ErrDraining", err)
	}
}
