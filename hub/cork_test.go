package hub

import (
	"bytes"
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
// in order, when uncorked; otherwise it writes through.
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
	if err := c.uncork(); err != nil {
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
	// Uncorking twice, or with nothing kept, writes nothing.
	c.cork()
	_ = c.uncork()
	_ = c.uncork()
	if len(under.writes) != len(want) {
		t.Fatalf("an empty batch wrote: %q", under.writes)
	}
}
