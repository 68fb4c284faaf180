package hub

import (
	"net"
	"sync"
)

// corkConn batches the writes of one outbox batch into one: the WebSocket
// library flushes each message to the connection (a write(2) each), and a
// batch of several frames (a call frame and the update that goes with it,
// a few notifications) would cost a system call per frame per subscriber.
// Between cork and uncork, what the library writes is kept in a buffer
// (taken from a pool for the batch only: an idle connection holds none)
// and uncork writes it at once. Control frames the library writes from
// other goroutines meanwhile (a pong, a close) join the buffer, and go out
// with it when the batch ends.
type corkConn struct {
	net.Conn
	mu     sync.Mutex
	corked bool
	buf    *[]byte
}

var corkPool = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

func (c *corkConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	if c.corked {
		*c.buf = append(*c.buf, p...)
		c.mu.Unlock()
		return len(p), nil
	}
	c.mu.Unlock()
	return c.Conn.Write(p)
}

// cork starts keeping writes.
func (c *corkConn) cork() {
	c.mu.Lock()
	if !c.corked {
		c.corked = true
		c.buf = corkPool.Get().(*[]byte)
	}
	c.mu.Unlock()
}

// uncork writes what was kept, in one write, and stops keeping writes.
// It holds the lock while it writes, so that no later write overtakes it.
func (c *corkConn) uncork() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.corked {
		return nil
	}
	c.corked = false
	b := c.buf
	c.buf = nil
	var err error
	if len(*b) > 0 {
		_, err = c.Conn.Write(*b)
	}
	if cap(*b) <= 64<<10 {
		*b = (*b)[:0]
		corkPool.Put(b)
	}
	return err
}
