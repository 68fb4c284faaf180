package loadtest

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"time"
)

// rawPool sends one kind of request (a join) over persistent HTTP/1.1
// connections written and parsed by hand. net/http's client spends about as
// much CPU per request as the server under test (two goroutines and a
// channel handoff per connection, header maps both ways); on a machine
// whose CPUs the driver shares with the server, that is throughput taken
// from the server. It speaks only what the joins need: a request with a
// body, an answer with Content-Length or chunked, keep-alive.
type rawPool struct {
	c    *Client
	addr string // host:port to dial
	host string // Host header

	mu   sync.Mutex
	idle []*rawConn
}

type rawConn struct {
	nc     net.Conn
	br     *bufio.Reader
	bw     *bufio.Writer
	reused bool // has answered before: the server may have closed it since
}

func newRawPool(c *Client) (*rawPool, error) {
	if c.base.Scheme != "http" {
		return nil, fmt.Errorf("the join driver speaks plain HTTP; %s is %s", c.base, c.base.Scheme)
	}
	addr := c.base.Host
	if c.base.Port() == "" {
		addr = net.JoinHostPort(c.base.Hostname(), "80")
	}
	return &rawPool{c: c, addr: addr, host: c.base.Host}, nil
}

func (p *rawPool) get(ctx context.Context) (*rawConn, error) {
	p.mu.Lock()
	if n := len(p.idle); n > 0 {
		rc := p.idle[n-1]
		p.idle = p.idle[:n-1]
		p.mu.Unlock()
		rc.reused = true
		return rc, nil
	}
	p.mu.Unlock()
	nc, err := p.c.dialer.DialContext(ctx, "tcp", p.addr)
	if err != nil {
		return nil, err
	}
	return &rawConn{nc: nc, br: bufio.NewReaderSize(nc, 4096), bw: bufio.NewWriterSize(nc, 1024)}, nil
}

func (p *rawPool) put(rc *rawConn) {
	p.mu.Lock()
	p.idle = append(p.idle, rc)
	p.mu.Unlock()
}

// close closes the idle connections.
func (p *rawPool) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, rc := range p.idle {
		_ = rc.nc.Close()
	}
	p.idle = nil
}

// rawRequest builds a POST with a JSON body and extra header lines.
func (p *rawPool) rawRequest(path string, body []byte, headers ...string) []byte {
	b := make([]byte, 0, 256+len(body))
	b = fmt.Appendf(b, "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n", path, p.host, len(body))
	for i := 0; i+1 < len(headers); i += 2 {
		if headers[i+1] != "" {
			b = fmt.Appendf(b, "%s: %s\r\n", headers[i], headers[i+1])
		}
	}
	b = append(b, "\r\n"...)
	return append(b, body...)
}

// do sends req and records it under op, like Client.Do; the body is
// returned only when keepBody is set.
func (p *rawPool) do(ctx context.Context, op string, req []byte, keepBody bool) (int, []byte, error) {
	start := time.Now()
	status, body, err := p.roundTrip(ctx, req, keepBody)
	d := time.Since(start)
	if err != nil {
		if ctx.Err() == nil {
			p.c.record(op, ErrorKind(err), d)
		}
		return 0, nil, err
	}
	p.c.record(op, strconv.Itoa(status), d)
	return status, body, nil
}

func (p *rawPool) roundTrip(ctx context.Context, req []byte, keepBody bool) (int, []byte, error) {
	// A kept-alive connection that the server closed while it was idle
	// ends without an answer byte: that request is sent again on a fresh
	// connection, once, as net/http does. A fresh connection's request is
	// never sent twice: a join is not idempotent.
	for attempt := 0; ; attempt++ {
		rc, err := p.get(ctx)
		if err != nil {
			return 0, nil, err
		}
		status, body, reused, err := rc.roundTrip(ctx, req, keepBody, p.c.timeout)
		if err == nil {
			if reused {
				p.put(rc)
			} else {
				_ = rc.nc.Close()
			}
			return status, body, nil
		}
		_ = rc.nc.Close()
		if attempt == 0 && rc.reused && errors.Is(err, errStale) {
			continue
		}
		return 0, nil, err
	}
}

// errStale: the connection was closed before any answer byte came.
var errStale = errors.New("connection closed before the answer")

func (rc *rawConn) roundTrip(ctx context.Context, req []byte, keepBody bool, timeout time.Duration) (status int, body []byte, keep bool, err error) {
	deadline := time.Now().Add(timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	if err := rc.nc.SetDeadline(deadline); err != nil {
		return 0, nil, false, err
	}
	if _, err := rc.bw.Write(req); err != nil {
		return 0, nil, false, err
	}
	if err := rc.bw.Flush(); err != nil {
		return 0, nil, false, err
	}
	line, err := rc.br.ReadSlice('\n')
	if err != nil {
		if len(line) == 0 && (errors.Is(err, io.EOF) || isReset(err)) {
			return 0, nil, false, fmt.Errorf("%w: %w", errStale, err)
		}
		return 0, nil, false, err
	}
	// "HTTP/1.1 201 Created\r\n"
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) {
		return 0, nil, false, fmt.Errorf("malformed status line %q", line)
	}
	status, err = strconv.Atoi(string(line[9:12]))
	if err != nil {
		return 0, nil, false, fmt.Errorf("malformed status line %q", line)
	}
	length, chunked, keep := -1, false, line[7] == '1'
	for {
		h, err := rc.br.ReadSlice('\n')
		if err != nil {
			return 0, nil, false, err
		}
		h = bytes.TrimRight(h, "\r\n")
		if len(h) == 0 {
			break
		}
		k, v, ok := bytes.Cut(h, []byte(":"))
		if !ok {
			continue
		}
		v = bytes.TrimSpace(v)
		switch {
		case bytes.EqualFold(k, []byte("Content-Length")):
			if length, err = strconv.Atoi(string(v)); err != nil {
				return 0, nil, false, fmt.Errorf("malformed Content-Length %q", v)
			}
		case bytes.EqualFold(k, []byte("Transfer-Encoding")):
			chunked = bytes.EqualFold(v, []byte("chunked"))
		case bytes.EqualFold(k, []byte("Connection")):
			keep = keep && !bytes.EqualFold(v, []byte("close"))
		}
	}
	switch {
	case chunked:
		body, err = readChunked(rc.br, keepBody)
	case length >= 0:
		body, err = readN(rc.br, length, keepBody)
	default: // until the connection closes
		keep = false
		var b []byte
		b, err = io.ReadAll(rc.br)
		if keepBody {
			body = b
		}
	}
	if err != nil {
		return 0, nil, false, err
	}
	return status, body, keep, nil
}

func readN(br *bufio.Reader, n int, keep bool) ([]byte, error) {
	if !keep {
		_, err := br.Discard(n)
		return nil, err
	}
	b := make([]byte, n)
	_, err := io.ReadFull(br, b)
	return b, err
}

func readChunked(br *bufio.Reader, keep bool) ([]byte, error) {
	var body []byte
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			return nil, err
		}
		size, _, _ := bytes.Cut(bytes.TrimSpace(line), []byte(";"))
		n, err := strconv.ParseInt(string(size), 16, 32)
		if err != nil {
			return nil, fmt.Errorf("malformed chunk size %q", line)
		}
		if n == 0 {
			for { // trailers, then the blank line
				t, err := br.ReadSlice('\n')
				if err != nil {
					return nil, err
				}
				if len(bytes.TrimSpace(t)) == 0 {
					return body, nil
				}
			}
		}
		chunk, err := readN(br, int(n), keep)
		if err != nil {
			return nil, err
		}
		body = append(body, chunk...)
		if _, err := br.Discard(2); err != nil { // CRLF
			return nil, err
		}
	}
}

func isReset(err error) bool { return ErrorKind(err) == "error:reset" }
