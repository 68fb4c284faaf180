package hub_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"go.uber.org/goleak"
)

// TestConnectDisconnectLeavesNoGoroutines runs 1,000 connect/disconnect
// cycles, half of them creating and dropping the institution's room (and
// its Redis subscription), and then finds no goroutine the cycles started.
// It does not call t.Parallel: goleak looks at every goroutine of the
// process, and Go runs sequential tests while parallel ones are paused.
func TestConnectDisconnectLeavesNoGoroutines(t *testing.T) {
	s := newStack(t, 1, nil)
	inst := s.institution()
	tk := s.join(0, inst.ID)
	paths := []string{instPath(inst.ID), "/ticket/" + tk.ID}
	cycle := func(path string) error {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		ws, _, err := websocket.Dial(ctx, "ws"+s.inst[0].srv.URL[len("http"):]+path, nil)
		if err != nil {
			return fmt.Errorf("dial %s: %w", path, err)
		}
		defer ws.CloseNow()
		if _, _, err := ws.Read(ctx); err != nil {
			return fmt.Errorf("read snapshot of %s: %w", path, err)
		}
		return ws.Close(websocket.StatusNormalClosure, "bye")
	}
	// Warm up the pools, so that their connections are not counted.
	for _, p := range paths {
		if err := cycle(p); err != nil {
			t.Fatal(err)
		}
	}
	waitClients(t, s, 0)
	ignore := goleak.IgnoreCurrent()

	run := func(n, parallel int) {
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for w := range parallel {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := w; i < n; i += parallel {
					if err := cycle(paths[i%2]); err != nil {
						errs <- err
						return
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
	}
	start := time.Now()
	run(500, 1) // each cycle creates and drops the room
	holder := s.dial(0, paths[0])
	holder.waitFor("holder snapshot", 5*time.Second, func(f liveFrame) bool { return f.Type == "snapshot" })
	if got := s.subscribers(inst.ID); got != 1 {
		t.Errorf("with one client, the channel has %d Redis subscriptions, want 1", got)
	}
	run(500, 8) // the room stays; connections come and go concurrently
	_ = holder.ws.Close(websocket.StatusNormalClosure, "bye")
	<-holder.done
	t.Logf("1000 cycles in %v", time.Since(start))

	waitClients(t, s, 0)
	goleak.VerifyNone(t, ignore)
	// The last client gone, the channel is unsubscribed.
	deadline := time.Now().Add(5 * time.Second)
	for s.subscribers(inst.ID) != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("with no client left, the channel has %d Redis subscriptions, want 0", s.subscribers(inst.ID))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func waitClients(t *testing.T, s *stack, want float64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for metric(t, s.inst[0].reg, "queueless_live_clients") != want {
		if time.Now().After(deadline) {
			t.Fatalf("connected clients = %v, want %v", metric(t, s.inst[0].reg, "queueless_live_clients"), want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
