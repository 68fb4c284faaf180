package hub_test

import (
	"bufio"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestIdleConnectionCost: an idle WebSocket costs the server one goroutine
// (its reader) and a few KiB of heap. The clients are raw TCP connections
// that did the handshake by hand and then read nothing, so that they start
// no goroutine of their own and the count is the server's alone; the cost
// is the difference between n and 2n connections, so that what the stack
// holds anyway (pools, the room, the broker) cancels out.
//
// It does not call t.Parallel: the goroutine count and the heap are the
// whole process's, and Go runs sequential tests while parallel ones are
// paused.
func TestIdleConnectionCost(t *testing.T) {
	s := newStack(t, 1, nil)
	inst := s.institution()
	addr := strings.TrimPrefix(s.inst[0].srv.URL, "http://")
	const n = 200
	var conns []net.Conn
	t.Cleanup(func() {
		for _, c := range conns {
			_ = c.Close()
		}
	})
	open := func(k int) {
		for range k {
			conns = append(conns, rawUpgrade(t, addr, instPath(inst.ID)))
		}
		waitClients(t, s, float64(len(conns)))
	}

	open(n)
	g1, heap1, stack1 := settledCost(t)
	open(n)
	g2, heap2, stack2 := settledCost(t)

	perConn := float64(int64(heap2)-int64(heap1)) / n
	stackPerConn := float64(int64(stack2)-int64(stack1)) / n
	t.Logf("%d more idle connections: %d more goroutines; each %.1f KiB more heap, %.1f KiB more stack",
		n, g2-g1, perConn/1024, stackPerConn/1024)
	// Exactly one goroutine each; a little slack, either way, for a
	// goroutine of the runtime or a pool that happened to be running at
	// one count only (seen: 199 under a loaded machine, one such goroutine
	// gone by the second count).
	if d := g2 - g1; d < n-3 || d > n+3 {
		t.Errorf("%d more idle connections made %d more goroutines, want %d (one each)", n, d, n)
	}
	// Loose bounds: today about 4 KiB of heap (the hijacked connection's
	// small buffers, the websocket.Conn, the outbox) and one goroutine
	// stack (8 KiB, more under -race) each; a buffer per connection that
	// grew to the usual 32 KiB or 64 KiB, or a copy of the state per
	// connection, would cross them.
	const heapBound, stackBound = 24 << 10, 32 << 10
	if perConn > heapBound {
		t.Errorf("an idle connection holds %.1f KiB of heap, want under %d KiB", perConn/1024, heapBound>>10)
	}
	if stackPerConn > stackBound {
		t.Errorf("an idle connection holds %.1f KiB of goroutine stack, want under %d KiB", stackPerConn/1024, stackBound>>10)
	}
}

// settledCost returns the goroutine count once it has stopped moving (a
// connection's writer goroutine ends once the snapshot is written), and the
// live heap after a collection and the goroutine stacks in use.
func settledCost(t *testing.T) (goroutines int, heap, stack uint64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	last, same := -1, 0
	for same < 5 {
		if time.Now().After(deadline) {
			t.Fatalf("goroutine count still moving after 10s (last %d)", last)
		}
		time.Sleep(20 * time.Millisecond)
		g := runtime.NumGoroutine()
		if g == last {
			same++
		} else {
			last, same = g, 0
		}
	}
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return last, ms.HeapAlloc, ms.StackInuse
}

// rawUpgrade opens a WebSocket to path by hand (RFC 6455 handshake) and
// returns the bare connection, which nobody reads: an idle client that
// costs this process no goroutine.
func rawUpgrade(t *testing.T, addr, path string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	key := make([]byte, 16)
	_, _ = rand.Read(key)
	req := fmt.Sprintf("GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n", path, addr, base64.StdEncoding.EncodeToString(key))
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write([]byte(req)); err != nil {
		c.Close()
		t.Fatalf("write upgrade request: %v", err)
	}
	// Read the response head byte by byte, so that nothing after it (the
	// snapshot frame) is taken off the socket into a buffer of ours.
	var head strings.Builder
	b := make([]byte, 1)
	for !strings.HasSuffix(head.String(), "\r\n\r\n") {
		if _, err := c.Read(b); err != nil {
			c.Close()
			t.Fatalf("read upgrade response (%q so far): %v", head.String(), err)
		}
		head.WriteByte(b[0])
	}
	_ = c.SetDeadline(time.Time{})
	resp, err := http.ReadResponse(bufio.NewReader(strings.NewReader(head.String())), nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		c.Close()
		t.Fatalf("upgrade %s: %v %q", path, err, head.String())
	}
	return c
}
