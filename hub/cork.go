package hub

import (
	"errors"
	"net"
	"sync"
	"syscall"
	"time"
)

// corkConn is the socket under a WebSocket. It does two things.
//
// It batches the writes of one outbox batch into one: the WebSocket
// library flushes each message to the connection (a write(2) each), and a
// batch of several frames (a call frame and the update that goes with it,
// a few notifications) would cost a system call per frame per subscriber.
// Between cork and send (or trySend), what the library writes is kept in a
// buffer (taken from a pool for the batch only: an idle connection holds
// none), then written at once.
//
// And it lets a fan-out write without ever blocking on a client: trySend
// makes one non-blocking write(2), and what the socket does not take stays
// kept, as the connection's backlog, for the connection's writer
// goroutine to send (send, which blocks, under the hub's write deadline).
// Writes the library makes from other goroutines (a ping, a pong, a
// close) join what is kept while there is any; otherwise they too are
// written without blocking, and a remainder becomes the backlog, which
// kick hands to the writer. So no goroutine but the writer ever waits on
// a client's socket, and no library lock is held while one does.
type corkConn struct {
	net.Conn
	// raw writes without blocking; nil when the connection offers no file
	// descriptor (then every write blocks, and fan-outs leave the writing
	// to the writer goroutine).
	raw syscall.RawConn
	// kick is called, with no lock held, when a write outside a batch left
	// a backlog: the connection's writer must come and send it.
	kick func()

	mu     sync.Mutex
	corked bool    // a batch is being written: keep what comes
	buf    *[]byte // kept: the batch, and the backlog the socket did not take
	// sending: send is writing bytes taken out of buf, without the lock;
	// what is written meanwhile is kept behind them.
	sending bool
	// sent, when not nil, is closed when send has written everything
	// (Close waits on it).
	sent chan struct{}
}

// closeFlushWait bounds how long Close waits for a send in progress to
// write what is kept behind it (a close frame, say) before it closes the
// socket under it. A client that reads gets it well within; one that does
// not is being closed for that.
const closeFlushWait = time.Second

var corkPool = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

// newCorkConn wraps nc, with non-blocking writes when it is a socket.
func newCorkConn(nc net.Conn) *corkConn {
	c := &corkConn{Conn: nc}
	if sc, ok := nc.(syscall.Conn); ok {
		if raw, err := sc.SyscallConn(); err == nil {
			c.raw = raw
		}
	}
	return c
}

// keeps reports whether writes are kept now; the caller holds mu.
func (c *corkConn) keeps() bool {
	return c.corked || c.sending || (c.buf != nil && len(*c.buf) > 0)
}

func (c *corkConn) keep(p []byte) {
	if c.buf == nil {
		c.buf = corkPool.Get().(*[]byte)
	}
	*c.buf = append(*c.buf, p...)
}

func (c *corkConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	if c.keeps() {
		c.keep(p)
		c.mu.Unlock()
		return len(p), nil
	}
	if c.raw == nil {
		c.mu.Unlock()
		return c.Conn.Write(p)
	}
	n, err := c.writeNow(p)
	if err != nil {
		c.mu.Unlock()
		return n, err
	}
	left := n < len(p)
	if left {
		c.keep(p[n:])
	}
	c.mu.Unlock()
	if left && c.kick != nil {
		c.kick()
	}
	return len(p), nil
}

// writeNow makes one non-blocking write of p and returns what the socket
// took; a full socket is no error. The caller holds mu.
func (c *corkConn) writeNow(p []byte) (int, error) {
	var n int
	var werr error
	err := c.raw.Write(func(fd uintptr) bool {
		for {
			n, werr = syscall.Write(int(fd), p)
			if werr != syscall.EINTR {
				break
			}
		}
		return true // never wait: what is left is kept
	})
	if n < 0 {
		n = 0
	}
	if errors.Is(werr, syscall.EAGAIN) {
		werr = nil
	}
	if err == nil {
		err = werr
	}
	if err != nil {
		return n, &net.OpError{Op: "write", Net: "tcp", Addr: c.RemoteAddr(), Err: err}
	}
	return n, nil
}

// cork starts keeping writes.
func (c *corkConn) cork() {
	c.mu.Lock()
	c.corked = true
	c.mu.Unlock()
}

// canTry reports whether trySend can write without blocking.
func (c *corkConn) canTry() bool { return c.raw != nil }

// backlog reports whether something kept waits to be sent.
func (c *corkConn) backlog() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return !c.corked && c.keeps()
}

// trySend ends the batch and writes what is kept in one non-blocking
// write. It reports whether everything went; what did not stays kept (the
// backlog), for send. Only with canTry.
func (c *corkConn) trySend() (all bool, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.corked = false
	if c.sending {
		return false, nil // behind the bytes send is writing, which sends these next
	}
	if c.buf == nil || len(*c.buf) == 0 {
		c.release()
		return true, nil
	}
	n, err := c.writeNow(*c.buf)
	if err != nil {
		c.release()
		return false, err
	}
	if n == len(*c.buf) {
		c.release()
		return true, nil
	}
	rest := copy(*c.buf, (*c.buf)[n:])
	*c.buf = (*c.buf)[:rest]
	return false, nil
}

// send ends the batch and writes what is kept, the backlog first; it
// blocks on the socket. The bytes it writes are taken out of the buffer
// and written without the lock: a write made meanwhile (a ping, a pong, a
// close frame the library writes from another goroutine) is kept behind
// them at once, never waits for the client, and goes out next, in order.
// (Holding the lock across the write made such a write wait, and the
// library, which gives a control frame 5 s, closed the connection in the
// middle of a frame when a slow client took longer.)
func (c *corkConn) send() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.corked = false
	var err error
	for err == nil && c.buf != nil && len(*c.buf) > 0 {
		out := c.buf
		c.buf = nil
		c.sending = true
		c.mu.Unlock()
		_, err = c.Conn.Write(*out)
		putBuf(out)
		c.mu.Lock()
	}
	c.sending = false
	if c.sent != nil {
		close(c.sent)
		c.sent = nil
	}
	c.release()
	return err
}

// Close closes the socket. What is kept goes first, as far as the socket
// takes it without waiting: the library writes a close frame and closes
// at once, and the frame may have joined a batch. A send in progress is
// waited for at most closeFlushWait (it holds no lock while it writes);
// after that, closing is what ends it.
func (c *corkConn) Close() error {
	c.mu.Lock()
	if c.sending {
		// What is kept is behind the bytes being sent: let the send write
		// it, for a while.
		if c.sent == nil {
			c.sent = make(chan struct{})
		}
		sent := c.sent
		c.mu.Unlock()
		t := time.NewTimer(closeFlushWait)
		select {
		case <-sent:
		case <-t.C:
		}
		t.Stop()
		c.mu.Lock()
	}
	// Never in the middle of bytes a send is writing.
	if !c.sending && c.raw != nil && c.buf != nil && len(*c.buf) > 0 {
		_, _ = c.writeNow(*c.buf)
	}
	if !c.sending {
		c.release()
	}
	c.mu.Unlock()
	return c.Conn.Close()
}

// release returns the buffer to the pool; the caller holds mu.
func (c *corkConn) release() {
	if c.buf != nil {
		putBuf(c.buf)
		c.buf = nil
	}
}

func putBuf(b *[]byte) {
	if cap(*b) <= 64<<10 {
		*b = (*b)[:0]
		corkPool.Put(b)
	}
}
