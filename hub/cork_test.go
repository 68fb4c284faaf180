package hub

import (
	"bytes"
	"io"
	"net"
	"testing"
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
