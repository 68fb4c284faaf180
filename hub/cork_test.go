package hub

import (
	"bytes"
	"io"
	"net"
	"runtime"
	"testing"
	"time"
)

// writesConn records each write made to it.
type writesConn struct {
	net.Conn
	writes [][]byte
}

func (w *writesConn) Write(p []byte) (int, error) {
	w.writes = append(w.writes, bytes.Clone(p))
	return len(p), nil
}

// A corked connection sends what was written while corked in one write,
// in order, when sent; otherwise it writes through.
func TestCorkConnOneWritePerBatch(t *testing.T) {
	t.Parallel()
	under := &writesConn{}
	c := &corkConn{Conn: under}
	if _, err := c.Write([]byte("a")); err != nil {
		t.Fatal(err)
	}
	c.cork()
	for _, s := range []string{"bb", "ccc", "dddd"} {
		if n, err := c.Write([]byte(s)); err != nil || n != len(s) {
			t.Fatalf("corked write: %d, %v", n, err)
		}
	}
	if len(under.writes) != 1 {
		t.Fatalf("%d writes reached the connection while corked, want only the one before", len(under.writes))
	}
	if err := c.send(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write([]byte("e")); err != nil {
		t.Fatal(err)
	}
	want := []string{"a", "bbcccdddd", "e"}
	if len(under.writes) != len(want) {
		t.Fatalf("writes %q, want %q", under.writes, want)
	}
	for i, w := range want {
		if string(under.writes[i]) != w {
			t.Fatalf("writes %q, want %q", under.writes, want)
		}
	}
	// Sending twice, or with nothing kept, writes nothing.
	c.cork()
	_ = c.send()
	_ = c.send()
	if len(under.writes) != len(want) {
		t.Fatalf("an empty batch wrote: %q", under.writes)
	}
}

// tcpPair returns both ends of a loopback TCP connection.
func tcpPair(t *testing.T) (server, client net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server = <-accepted
	if server == nil {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { server.Close(); client.Close() })
	return server, client
}

// On a socket whose peer does not read, trySend never blocks: what the
// socket does not take is kept as the backlog, a write outside a batch
// joins it (and asks for a writer), and send delivers it all, in order,
// once the peer reads.
func TestCorkConnNonBlockingBacklog(t *testing.T) {
	t.Parallel()
	server, client := tcpPair(t)
	kicks := 0
	c := newCorkConn(server)
	c.kick = func() { kicks++ }
	if !c.canTry() {
		t.Fatal("a TCP connection offers no non-blocking write")
	}
	chunk := bytes.Repeat([]byte{'x'}, 64<<10)
	var want bytes.Buffer
	sentAll := true
	for i := 0; i < 1000 && sentAll; i++ { // until the socket is full
		c.cork()
		if _, err := c.Write(chunk); err != nil {
			t.Fatal(err)
		}
		want.Write(chunk)
		var err error
		if sentAll, err = c.trySend(); err != nil {
			t.Fatal(err)
		}
	}
	if sentAll {
		t.Fatal("the socket took 64 MiB without being read")
	}
	if !c.backlog() {
		t.Fatal("trySend left bytes unsent but reports no backlog")
	}
	// A write from another goroutine (a pong, say) goes after the
	// backlog, and does not block either.
	if _, err := c.Write([]byte("pong")); err != nil {
		t.Fatal(err)
	}
	want.WriteString("pong")
	got := make(chan []byte, 1)
	go func() {
		b := make([]byte, want.Len())
		_, err := io.ReadFull(client, b)
		if err != nil {
			t.Error(err)
		}
		got <- b
	}()
	if err := c.send(); err != nil {
		t.Fatal(err)
	}
	if b := <-got; !bytes.Equal(b, want.Bytes()) {
		t.Fatal("the peer read other bytes than were written, or in another order")
	}
	if c.backlog() {
		t.Fatal("backlog left after send")
	}
	if kicks != 0 {
		t.Fatalf("%d kicks while a backlog was kept; the holder of the batch sends it", kicks)
	}
	// Outside a batch, a write the full socket does not take asks for a
	// writer.
	for kicks == 0 {
		if _, err := c.Write(chunk); err != nil {
			t.Fatal(err)
		}
	}
	if !c.backlog() {
		t.Fatal("a kick with no backlog")
	}
}

// waitSending waits until c's send has taken its bytes out and writes
// them.
func waitSending(c *corkConn) {
	for {
		c.mu.Lock()
		busy := c.sending
		c.mu.Unlock()
		if busy {
			return
		}
		runtime.Gosched()
	}
}

// A write made while the writer's send is blocked on a client that does
// not read (a ping, a pong, a close frame the library writes from another
// goroutine) returns at once, kept behind the bytes being sent, and goes
// out after them, in order. Closing waits a while for the send to write
// what is kept (a close frame must not be lost), then closes under a send
// that stays blocked. Before, the send held the lock while it wrote, the
// library's control write waited for it, and the library cut the
// connection after its 5 s.
func TestCorkConnWriteDuringBlockedSend(t *testing.T) {
	t.Parallel()
	server, client := net.Pipe() // no file descriptor: every write blocks until read
	defer client.Close()
	c := newCorkConn(server)
	batch := bytes.Repeat([]byte("b"), 1000)
	sent := make(chan error, 1)
	blocked := func() {
		t.Helper()
		c.cork()
		if _, err := c.Write(batch); err != nil {
			t.Fatal(err)
		}
		go func() { sent <- c.send() }()
		waitSending(c)
	}
	write := func(p []byte) {
		t.Helper()
		wrote := make(chan error, 1)
		go func() {
			_, err := c.Write(p)
			wrote <- err
		}()
		select {
		case err := <-wrote:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("a write during a blocked send waited for the client")
		}
	}
	read := func(want []byte) {
		t.Helper()
		got := make([]byte, len(want))
		if _, err := io.ReadFull(client, got); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("the client read %q..., want %q...", got[:8], want[:8])
		}
	}

	blocked()
	write([]byte("PING"))
	read(append(bytes.Clone(batch), "PING"...))
	if err := <-sent; err != nil {
		t.Fatal(err)
	}

	// A close frame written during a send, then Close: the client gets
	// both before the end.
	blocked()
	write([]byte("CLOSE"))
	closed := make(chan error, 1)
	go func() { closed <- c.Close() }()
	read(append(bytes.Clone(batch), "CLOSE"...))
	<-closed
	if err := <-sent; err != nil {
		t.Fatal(err)
	}
	if _, err := client.Read(make([]byte, 1)); err == nil {
		t.Error("the connection is still open after Close")
	}
}

// Close does not wait for ever on a send blocked on a client that never
// reads: after closeFlushWait it closes the socket, which ends the send.
func TestCorkConnCloseUnderStuckSend(t *testing.T) {
	t.Parallel()
	server, client := net.Pipe()
	defer client.Close()
	c := newCorkConn(server)
	c.cork()
	if _, err := c.Write(bytes.Repeat([]byte("b"), 1000)); err != nil {
		t.Fatal(err)
	}
	sent := make(chan error, 1)
	go func() { sent <- c.send() }()
	waitSending(c)
	closed := make(chan error, 1)
	go func() { closed <- c.Close() }()
	select {
	case <-closed:
	case <-time.After(10 * closeFlushWait):
		t.Fatal("Close waited for a send that never ends")
	}
	if err := <-sent; err == nil {
		t.Error("the send cut by Close reported no error")
	}
}
