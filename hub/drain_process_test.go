package hub_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/queueless/queueless/internal/testenv"
	"github.com/queueless/queueless/queue"
)

// TestSIGTERMDrains: an instance sent SIGTERM refuses new live
// connections, tells every live client to reconnect (1012) spread over
// DRAIN_SPREAD, finishes the joins in flight, and exits within
// SHUTDOWN_TIMEOUT; the clients reconnect to the other instance and see
// the current state.
func TestSIGTERMDrains(t *testing.T) {
	t.Parallel()
	schema, prefix := testenv.NewSchema(t), testenv.RedisPrefix(t)
	env := []string{"DATABASE_URL=" + schema, "REDIS_URL=" + testenv.RedisURL(t), "REDIS_PREFIX=" + prefix, "DRAIN_SPREAD=2s", "SHUTDOWN_TIMEOUT=8s"}
	a, b := startServer(t, env...), startServer(t, env...)
	var inst queue.Institution
	a.call("POST", "/api/v1/institutions", map[string]any{"name": "Drain", "kind": "health", "status": "open"}, &inst)
	livePath := fmt.Sprintf("/api/v1/institutions/%d/live", inst.ID)

	const clients = 10
	ends := watchEnds(t, a.ws(livePath), clients)

	// Joins keep arriving while the instance stops: each is refused at
	// the door or answered in full. A connection still in the kernel's
	// backlog when the listener closes is reset before the server read
	// it (EOF, ECONNRESET): not served, and below last_issued proves that
	// no ticket was made without its 201.
	joinClient := &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	stopJoins := make(chan struct{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	statuses := map[int]int{}
	var cut []error
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stopJoins:
					return
				default:
				}
				resp, err := joinClient.Post(a.base+fmt.Sprintf("/api/v1/institutions/%d/tickets", inst.ID), "application/json", strings.NewReader("{}"))
				mu.Lock()
				switch {
				case err == nil:
					statuses[resp.StatusCode]++
					resp.Body.Close()
				case errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET), errors.Is(err, io.EOF):
					statuses[0]++
				default:
					cut = append(cut, err)
				}
				mu.Unlock()
				time.Sleep(5 * time.Millisecond)
			}
		}()
	}
	time.Sleep(300 * time.Millisecond)

	term := time.Now()
	aDone := a.Done()
	if err := a.SignalNoWait(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	// A new live connection is not taken any more.
	time.Sleep(100 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	if ws, _, err := websocket.Dial(ctx, a.ws(livePath), nil); err == nil {
		ws.CloseNow()
		t.Error("a draining instance took a new live connection")
	}
	cancel()

	var first, last time.Time
	for i := range clients {
		select {
		case e := <-ends:
			if e.code != websocket.StatusServiceRestart {
				t.Errorf("client %d: stream ended with %v, want 1012 service restart", i, e.code)
			}
			if first.IsZero() {
				first = e.at
			}
			last = e.at
		case <-time.After(10 * time.Second):
			t.Fatalf("only %d of %d streams ended within 10s of SIGTERM", i, clients)
		}
	}
	if spread := last.Sub(first); spread < 900*time.Millisecond {
		t.Errorf("%d streams told to reconnect within %v, want them spread over about DRAIN_SPREAD (2s)", clients, spread)
	}
	select {
	case <-aDone:
	case <-time.After(9 * time.Second):
		t.Fatalf("instance still running %v after SIGTERM (SHUTDOWN_TIMEOUT=8s)", time.Since(term))
	}
	close(stopJoins)
	wg.Wait()
	if len(cut) > 0 {
		t.Errorf("%d joins were cut off mid-request during shutdown, first: %v", len(cut), cut[0])
	}
	for st, n := range statuses {
		if st != 0 && st != http.StatusCreated {
			t.Errorf("%d joins answered %d during shutdown, want only 201 (or a refused connection)", n, st)
		}
		if st == 0 {
			t.Logf("%d joins refused at the door", n)
		}
	}
	if statuses[http.StatusCreated] == 0 {
		t.Fatalf("no join succeeded: %v", statuses)
	}

	// Every client reconnects to the other instance and sees every join.
	var want queue.Institution
	b.call("GET", fmt.Sprintf("/api/v1/institutions/%d", inst.ID), nil, &want)
	if got := int(want.LastIssued); got != statuses[http.StatusCreated] {
		t.Errorf("last_issued %d, but %d joins got 201", got, statuses[http.StatusCreated])
	}
	for i := range clients {
		c, err := dialURL(t, b.ws(livePath), nil)
		if err != nil {
			t.Fatalf("client %d: reconnect to the other instance: %v", i, err)
		}
		c.waitFor("the current state", 10*time.Second, func(f liveFrame) bool {
			return f.Institution != nil && f.Institution.Version == want.Version
		})
	}
}
