package loadtest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/google/uuid"
)

// Client sends the requests of a run and records each one. Every request
// can carry a client address in X-Forwarded-For: a server that trusts the
// driver's address as a proxy (TRUSTED_PROXIES) then sees many clients,
// each with its own rate limits, as it would behind a load balancer.
type Client struct {
	base    *url.URL
	http    *http.Client
	rec     *Recorder
	admin   string
	timeout time.Duration
	dialer  *sourceDialer
	ws      *http.Client // handshakes: the same dialer, no pooling
}

// ClientConfig configures a Client.
type ClientConfig struct {
	BaseURL    string
	AdminToken string
	// Timeout bounds each request; default 10s.
	Timeout time.Duration
	// Conns is the most connections kept open to the server; default 256.
	Conns int
	// SourceCIDR, when set, spreads connections over local source
	// addresses of that range (loopback targets only): past ~28,000
	// connections one source address runs out of ports, and a server that
	// caps connections per address sees many.
	SourceCIDR string
}

// NewClient returns a client recording into rec.
func NewClient(cfg ClientConfig, rec *Recorder) (*Client, error) {
	u, err := url.Parse(strings.TrimRight(cfg.BaseURL, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("base URL %q: want http(s)://host[:port]", cfg.BaseURL)
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	if cfg.Conns <= 0 {
		cfg.Conns = 256
	}
	d, err := newSourceDialer(cfg.SourceCIDR, u.Hostname())
	if err != nil {
		return nil, err
	}
	tr := &http.Transport{
		DialContext:         d.DialContext,
		MaxIdleConns:        cfg.Conns,
		MaxIdleConnsPerHost: cfg.Conns,
		MaxConnsPerHost:     cfg.Conns,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
		ForceAttemptHTTP2:   false,
	}
	ws := &http.Client{Transport: &http.Transport{DialContext: d.DialContext, DisableKeepAlives: true, DisableCompression: true}}
	return &Client{base: u, http: &http.Client{Transport: tr}, ws: ws, rec: rec, admin: cfg.AdminToken, timeout: cfg.Timeout, dialer: d}, nil
}

// Close closes idle connections.
func (c *Client) Close() { c.http.CloseIdleConnections() }

// Recorder is where the client records.
func (c *Client) Recorder() *Recorder { return c.rec }

// URL returns the absolute URL of path.
func (c *Client) URL(path string) string { return c.base.String() + path }

// Req is one request.
type Req struct {
	Op     string // recorded under this name; not recorded when empty
	Method string
	Path   string
	Body   any    // JSON-encoded unless nil or []byte
	Admin  bool   // send the admin token
	Addr   string // X-Forwarded-For, when set
	Header http.Header
}

// Resp is an answer: its status and, for JSON bodies, the body.
type Resp struct {
	Status int
	Header http.Header
	Body   []byte
}

// Decode decodes the JSON body into v.
func (r *Resp) Decode(v any) error {
	if err := json.Unmarshal(r.Body, v); err != nil {
		return fmt.Errorf("decode %d answer %.200q: %w", r.Status, r.Body, err)
	}
	return nil
}

// Do sends req and reads the answer. A transport error is returned and
// recorded as "error:<kind>"; any HTTP answer is recorded by its status and
// returned without error.
func (c *Client) Do(ctx context.Context, req Req) (*Resp, error) {
	var body io.Reader
	switch b := req.Body.(type) {
	case nil:
	case []byte:
		body = bytes.NewReader(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			return nil, err
		}
		body = bytes.NewReader(data)
	}
	parent := ctx
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	hr, err := http.NewRequestWithContext(ctx, req.Method, c.URL(req.Path), body)
	if err != nil {
		return nil, err
	}
	for k, v := range req.Header {
		hr.Header[k] = v
	}
	if body != nil || req.Method != http.MethodGet {
		hr.Header.Set("Content-Type", "application/json") // the server wants it on every change, body or not
	}
	if req.Method == http.MethodPost && strings.HasSuffix(req.Path, "/tickets") && hr.Header.Get("Idempotency-Key") == "" {
		// Every join carries a key of its own, as a real client's must.
		hr.Header.Set("Idempotency-Key", "lg-"+uuid.NewString())
	}
	if req.Admin && c.admin != "" {
		hr.Header.Set("Authorization", "Bearer "+c.admin)
	}
	if req.Addr != "" {
		hr.Header.Set("X-Forwarded-For", req.Addr)
	}
	start := time.Now()
	resp, err := c.http.Do(hr)
	var data []byte
	if err == nil {
		data, err = io.ReadAll(resp.Body)
		resp.Body.Close()
	}
	d := time.Since(start)
	if err != nil {
		if parent.Err() == nil { // not the run stopping
			c.record(req.Op, ErrorKind(err), d)
		}
		return nil, fmt.Errorf("%s %s: %w", req.Method, req.Path, err)
	}
	c.record(req.Op, strconv.Itoa(resp.StatusCode), d)
	return &Resp{Status: resp.StatusCode, Header: resp.Header, Body: data}, nil
}

func (c *Client) record(op, status string, d time.Duration) {
	if op != "" && c.rec != nil {
		c.rec.Observe(op, status, d)
	}
}

// ErrorKind classifies a transport error for the status breakdown.
func ErrorKind(err error) string {
	var netErr net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &netErr) && netErr.Timeout():
		return "error:timeout"
	case errors.Is(err, context.Canceled):
		return "error:cancelled"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "error:refused"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "error:reset"
	case errors.Is(err, syscall.EADDRNOTAVAIL), errors.Is(err, syscall.EADDRINUSE):
		return "error:no_port"
	case errors.Is(err, syscall.EMFILE), errors.Is(err, syscall.ENFILE):
		return "error:too_many_files"
	}
	return "error:other"
}

// sourceDialer dials TCP, taking local source addresses in turn from a
// range when one is set.
type sourceDialer struct {
	d     net.Dialer
	addrs []netip.Addr
	next  atomic.Uint64
}

func newSourceDialer(cidr, targetHost string) (*sourceDialer, error) {
	s := &sourceDialer{d: net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}}
	if cidr == "" {
		return s, nil
	}
	addrs, err := SourceAddrs(cidr)
	if err != nil {
		return nil, err
	}
	if !isLoopbackHost(targetHost) {
		return nil, fmt.Errorf("source addresses %s are for loopback targets; %s is not one", cidr, targetHost)
	}
	s.addrs = addrs
	return s, nil
}

// DialContext implements the transport's dial.
func (s *sourceDialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	if len(s.addrs) == 0 {
		return s.d.DialContext(ctx, network, addr)
	}
	d := s.d
	src := s.addrs[(s.next.Add(1)-1)%uint64(len(s.addrs))]
	d.LocalAddr = &net.TCPAddr{IP: src.AsSlice()}
	return d.DialContext(ctx, network, addr)
}

// SourceAddrs lists the usable loopback addresses of cidr: every address
// of a 127.0.0.0/8 range but those ending in .0 and .255, at most 65,536.
func SourceAddrs(cidr string) ([]netip.Addr, error) {
	p, err := netip.ParsePrefix(cidr)
	if err != nil {
		return nil, fmt.Errorf("source addresses: %w", err)
	}
	p = p.Masked()
	if !p.Addr().Is4() || !p.Addr().IsLoopback() || p.Bits() < 8 {
		return nil, fmt.Errorf("source addresses %s: want a range inside 127.0.0.0/8", cidr)
	}
	var out []netip.Addr
	for a := p.Addr(); p.Contains(a) && len(out) < 1<<16; a = a.Next() {
		if b := a.As4(); b[3] != 0 && b[3] != 255 {
			out = append(out, a)
		}
	}
	return out, nil
}

func isLoopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.IsLoopback()
}

// ClientAddr returns the i-th made-up client address, from 100.64.0.0/10
// (carrier-grade NAT space: what phones' addresses often are). It is only
// ever sent in X-Forwarded-For.
func ClientAddr(i int) string {
	v := uint32(100)<<24 | uint32(64)<<16 + uint32(i)%(1<<22)
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}).String()
}
