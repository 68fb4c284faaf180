package testenv

import (
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// TCPProxy forwards connections from a local address to a target, and can
// cut them all to simulate a network failure between the code under test and
// a server, while the server itself stays up.
type TCPProxy struct {
	target string
	ln     net.Listener
	ctx    context.Context // cancelled by Close, aborts dials in progress
	cancel context.CancelFunc
	wg     sync.WaitGroup // every goroutine the proxy started

	mu     sync.Mutex
	cut    bool
	closed bool
	conns  map[net.Conn]struct{} // both ends of every live link
}

// NewTCPProxy starts a proxy on 127.0.0.1:0 that forwards to target
// (host:port). It is closed, and all its goroutines gone, when the test ends.
func NewTCPProxy(t testing.TB, target string) *TCPProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("tcp proxy: listen: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &TCPProxy{
		target: target,
		ln:     ln,
		ctx:    ctx,
		cancel: cancel,
		conns:  make(map[net.Conn]struct{}),
	}
	p.wg.Add(1)
	go p.acceptLoop()
	t.Cleanup(p.Close)
	return p
}

// Addr returns the host:port clients should dial instead of the target.
func (p *TCPProxy) Addr() string { return p.ln.Addr().String() }

// Cut resets every open connection, in both directions, and resets each new
// one as soon as it is accepted, until Restore. Clients see ECONNRESET or
// EOF, as when a network path fails.
func (p *TCPProxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = true
	p.resetAllLocked()
}

// Restore lets new connections through again. Connections cut earlier stay
// closed: clients must reconnect, as they would after a real failure.
func (p *TCPProxy) Restore() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = false
}

// Close stops the proxy, closes every connection and waits for its
// goroutines to exit. It is safe to call more than once.
func (p *TCPProxy) Close() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	p.cancel()
	_ = p.ln.Close()
	p.resetAllLocked()
	p.mu.Unlock()
	p.wg.Wait()
}

func (p *TCPProxy) resetAllLocked() {
	for c := range p.conns {
		reset(c)
	}
	clear(p.conns)
}

func (p *TCPProxy) acceptLoop() {
	defer p.wg.Done()
	for {
		client, err := p.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// A transient error (out of descriptors, say): back off rather
			// than spin.
			time.Sleep(10 * time.Millisecond)
			continue
		}
		p.mu.Lock()
		if p.closed || p.cut {
			p.mu.Unlock()
			reset(client)
			continue
		}
		// Add under the lock and only while open, so that Close's Wait never
		// races with an Add.
		p.wg.Add(1)
		p.mu.Unlock()
		go p.link(client)
	}
}

// link dials the target for one client and copies bytes both ways.
func (p *TCPProxy) link(client net.Conn) {
	defer p.wg.Done()
	var d net.Dialer
	dialCtx, cancel := context.WithTimeout(p.ctx, 5*time.Second)
	upstream, err := d.DialContext(dialCtx, "tcp", p.target)
	cancel()
	if err != nil {
		// The target is down: the client sees what it would see from it.
		reset(client)
		return
	}

	p.mu.Lock()
	if p.closed || p.cut { // Cut or Close came while dialling.
		p.mu.Unlock()
		reset(client)
		reset(upstream)
		return
	}
	p.conns[client] = struct{}{}
	p.conns[upstream] = struct{}{}
	p.wg.Add(1)
	p.mu.Unlock()

	done := make(chan struct{})
	go func() {
		defer p.wg.Done()
		defer close(done)
		pipe(upstream, client)
	}()
	pipe(client, upstream)
	<-done

	_ = client.Close()
	_ = upstream.Close()
	p.mu.Lock()
	delete(p.conns, client)
	delete(p.conns, upstream)
	p.mu.Unlock()
}

// pipe copies src to dst. A clean EOF is passed on as a half close, so a
// client that shuts down its write side still gets its answer; an error
// closes both ends, which also ends the copy in the other direction.
func pipe(dst, src net.Conn) {
	_, err := io.Copy(dst, src)
	if err == nil {
		if cw, ok := dst.(interface{ CloseWrite() error }); ok {
			_ = cw.CloseWrite()
			return
		}
	}
	_ = dst.Close()
	_ = src.Close()
}

// reset closes c with an RST rather than a FIN where it can, so the peer
// learns at once that the connection is gone.
func reset(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = c.Close()
}
