package hub_test

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// TestCloseWhileClientsConnect closes a hub while clients keep connecting:
// every stream that was opened ends with 1001, including those upgraded
// while the hub was closing, and Close does not wait out its deadline for
// any of them.
func TestCloseWhileClientsConnect(t *testing.T) {
	t.Parallel()
	s := newStack(t, 1, nil)
	inst := s.institution()
	url := "ws" + strings.TrimPrefix(s.inst[0].srv.URL, "http") + instPath(inst.ID)
	stop := make(chan struct{})
	var (
		mu     sync.Mutex
		opened int
		ends   = map[string]int{}
		wg     sync.WaitGroup
	)
	for range 16 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				ws, _, err := websocket.Dial(ctx, url, nil)
				cancel()
				if err != nil {
					continue // refused once the hub is closing: 503
				}
				mu.Lock()
				opened++
				mu.Unlock()
				wg.Go(func() {
					defer ws.CloseNow()
					ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
					defer cancel()
					var err error
					for err == nil {
						_, _, err = ws.Read(ctx)
					}
					mu.Lock()
					ends[websocket.CloseStatus(err).String()]++
					mu.Unlock()
				})
			}
		})
	}
	// Close once streams are open and more keep coming, not after a
	// guess at how long that takes (300ms once saw none on a loaded
	// machine).
	for wait := time.Now().Add(20 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		mu.Lock()
		n := opened
		mu.Unlock()
		if n >= 32 {
			break
		}
		if time.Now().After(wait) {
			close(stop)
			wg.Wait()
			t.Fatalf("only %d streams opened in 20s", n)
		}
	}
	begin := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Second)
	s.inst[0].hub.Close(ctx)
	cancel()
	took := time.Since(begin)
	time.Sleep(100 * time.Millisecond) // dials under way when Close returned
	close(stop)
	wg.Wait()
	t.Logf("%d streams opened; ends %v; Close took %s", opened, ends, took)
	if opened == 0 {
		t.Fatal("no stream opened before the hub closed")
	}
	if ends[websocket.StatusGoingAway.String()] != opened {
		t.Errorf("streams ended %v, want all %d with %v", ends, opened, websocket.StatusGoingAway)
	}
	if took > 6*time.Second {
		t.Errorf("Close took %s: it waited out its deadline for a stream", took)
	}
}

// TestFrameSentWithTheUpgradeIsRead: a client may send its first frame in
// the same packet as its upgrade request, so net/http has read it already
// when the connection is handed over. The server must still read it: here
// a ping, which it answers with a pong carrying the same payload.
func TestFrameSentWithTheUpgradeIsRead(t *testing.T) {
	t.Parallel()
	s := newStack(t, 1, nil)
	inst := s.institution()
	host := strings.TrimPrefix(s.inst[0].srv.URL, "http://")
	nc, err := net.DialTimeout("tcp", host, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = nc.Close() })
	_ = nc.SetDeadline(time.Now().Add(10 * time.Second))

	payload := []byte("early-ping")
	mask := [4]byte{1, 2, 3, 4}
	frame := []byte{0x89, 0x80 | byte(len(payload))} // FIN + ping, masked
	frame = append(frame, mask[:]...)
	for i, b := range payload {
		frame = append(frame, b^mask[i%4])
	}
	req := fmt.Sprintf("GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n", instPath(inst.ID), host)
	// One write: the request and the frame reach the server together.
	if _, err := nc.Write(append([]byte(req), frame...)); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(nc)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("upgrade answered %s", resp.Status)
	}
	for {
		op, data, err := readServerFrame(br)
		if err != nil {
			t.Fatalf("no pong for the ping sent with the upgrade: %v", err)
		}
		if op == 0xA {
			if string(data) != string(payload) {
				t.Fatalf("pong payload %q, want %q", data, payload)
			}
			return
		}
		if op == 0x8 {
			t.Fatalf("the server closed the connection: %q", data)
		}
	}
}

// readServerFrame reads one unmasked frame and returns its opcode and
// payload.
func readServerFrame(r *bufio.Reader) (byte, []byte, error) {
	var h [2]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return 0, nil, err
	}
	n := uint64(h[1] & 0x7f)
	switch n {
	case 126:
		var b [2]byte
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return 0, nil, err
		}
		n = uint64(binary.BigEndian.Uint16(b[:]))
	case 127:
		var b [8]byte
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return 0, nil, err
		}
		n = binary.BigEndian.Uint64(b[:])
	}
	if h[1]&0x80 != 0 || n > 1<<20 {
		return 0, nil, fmt.Errorf("unexpected frame header %x, length %d", h, n)
	}
	data := make([]byte, n)
	_, err := io.ReadFull(r, data)
	return h[0] & 0x0f, data, err
}
