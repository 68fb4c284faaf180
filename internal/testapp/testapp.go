// Package testapp starts a whole QueueLess server in a test, on a loopback
// port, in embedded or production mode: the end-to-end tests' entry point
// (wtf's MustRunMain). It is imported by tests only.
package testapp

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/ulule/limiter/v3"

	"github.com/queueless/queueless/internal/app"
	"github.com/queueless/queueless/internal/testenv"
)

// Mode is how a test server stores its data.
type Mode string

// Modes.
const (
	Embedded   Mode = "embedded"   // memory store, in-process pub/sub
	Production Mode = "production" // PostgreSQL (own schema) and Redis (own prefix)
)

// Modes lists every mode: contract tests run against each.
var Modes = []Mode{Embedded, Production}

// AdminToken is the admin token of every test server.
const AdminToken = "test-admin-token-0123456789"

// Server is a running test server.
type Server struct {
	URL    string
	App    *app.App
	Config app.Config
	Client *http.Client
	t      testing.TB
}

// Option changes a test server's configuration.
type Option func(*app.Config)

// Config returns the configuration Start would use for mode, with a fresh
// schema and Redis prefix in production mode.
func Config(t testing.TB, mode Mode, opts ...Option) app.Config {
	t.Helper()
	cfg, err := app.LoadConfig(func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	cfg.Addr = "127.0.0.1:0"
	cfg.AdminToken = AdminToken
	cfg.SweepInterval = 100 * time.Millisecond
	cfg.ShutdownTimeout = 5 * time.Second
	// Stopping a test server tells its live clients to reconnect (1012)
	// over DRAIN_SPREAD: quickly here, tests stop many servers.
	cfg.DrainSpread = 100 * time.Millisecond
	// No join throttle or admission control unless a test asks for them:
	// tests send every request from 127.0.0.1, often hundreds at once.
	cfg.JoinRate, cfg.JoinPhoneRate, cfg.JoinAddressRate, cfg.JoinMaxInFlight = limiter.Rate{}, limiter.Rate{}, limiter.Rate{}, 0
	// Nor are deliveries held back while joins are in flight
	// (JOBS_YIELD_MAX) unless a test asks: tests that join many at once
	// then wait for a text or webhook would wait for the hold.
	cfg.Jobs.YieldMax = 0
	if mode == Production {
		cfg.DatabaseURL = testenv.NewSchema(t)
		cfg.RedisURL = testenv.RedisURL(t)
		cfg.RedisPrefix = testenv.RedisPrefix(t)
	}
	for _, o := range opts {
		o(&cfg)
	}
	return cfg
}

// PrivateRedis starts a redis-server of the test's own (testenv) and
// returns an option that points a production server at it: for tests that
// assert exact shared counts, which the shared TEST_REDIS_URL server,
// loaded by every other test, could make late.
func PrivateRedis(t testing.TB) Option {
	t.Helper()
	addr, _, _ := testenv.StartRedisServer(t)
	return func(c *app.Config) { c.RedisURL = "redis://" + addr + "/0" }
}

// Start starts a server in mode and stops it when the test ends.
func Start(t testing.TB, mode Mode, opts ...Option) *Server {
	t.Helper()
	return StartConfig(t, Config(t, mode, opts...))
}

// StartConfig starts a server with cfg and stops it when the test ends.
func StartConfig(t testing.TB, cfg app.Config) *Server {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	level := slog.LevelError
	if os.Getenv("TEST_LOG") != "" {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: level}))
	a, err := app.New(ctx, cfg, log)
	if err != nil {
		cancel()
		t.Fatalf("start test server: %v", err)
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		cancel()
		a.Close(context.Background())
		t.Fatalf("listen: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- a.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	s := &Server{URL: "http://" + ln.Addr().String(), App: a, Config: cfg, t: t,
		Client: &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 256}}}
	// Before the server stops (cleanups run last first): a connection the
	// client dialled but never used counts as active for 5s in the server's
	// graceful shutdown, which would wait for it.
	t.Cleanup(s.Client.CloseIdleConnections)
	return s
}

// testWriter sends server logs to the test log, so they show only on failure.
type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// Response is a decoded test response.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body into v, failing the test when it cannot.
func (r Response) JSON(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("decode %d response %q: %v", r.Status, r.Body, err)
	}
}

// Map decodes the body as a JSON object.
func (r Response) Map(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	r.JSON(t, &m)
	return m
}

// Request is a request to send; Body is JSON-encoded unless it is a string
// or []byte, sent as is.
type Request struct {
	Method string
	Path   string
	Body   any
	Token  string
	Header map[string]string
}

// Do sends req and reads the whole response. Transport errors fail the test.
func (s *Server) Do(req Request) Response {
	s.t.Helper()
	resp, err := s.Try(req)
	if err != nil {
		s.t.Fatalf("%s %s: %v", req.Method, req.Path, err)
	}
	return resp
}

// Try is Do without failing the test on transport errors (for goroutines).
func (s *Server) Try(req Request) (Response, error) {
	var body io.Reader
	switch b := req.Body.(type) {
	case nil:
	case string:
		body = strings.NewReader(b)
	case []byte:
		body = bytes.NewReader(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			return Response{}, err
		}
		body = bytes.NewReader(data)
	}
	hr, err := http.NewRequest(req.Method, s.URL+req.Path, body)
	if err != nil {
		return Response{}, err
	}
	if body != nil || (req.Method != http.MethodGet && req.Method != http.MethodHead) {
		hr.Header.Set("Content-Type", "application/json") // the server wants it on every change, body or not
	}
	if req.Token != "" {
		hr.Header.Set("Authorization", "Bearer "+req.Token)
	}
	for k, v := range req.Header {
		if v == "" {
			hr.Header.Del(k)
		} else {
			hr.Header.Set(k, v)
		}
	}
	resp, err := s.Client.Do(hr)
	if err != nil {
		return Response{}, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return Response{}, err
	}
	return Response{Status: resp.StatusCode, Header: resp.Header, Body: data}, nil
}

// CreateInstitution creates an open institution with the admin token and
// returns its id; extra fields override the defaults.
func (s *Server) CreateInstitution(extra map[string]any) int64 {
	s.t.Helper()
	body := map[string]any{"name": "Test Office", "kind": "government", "address": "Somewhere", "status": "open"}
	for k, v := range extra {
		body[k] = v
	}
	r := s.Do(Request{Method: "POST", Path: "/api/v1/institutions", Body: body, Token: AdminToken})
	if r.Status != http.StatusCreated {
		s.t.Fatalf("create institution: %d %s", r.Status, r.Body)
	}
	var inst struct{ ID int64 }
	r.JSON(s.t, &inst)
	return inst.ID
}

// StaffToken creates a staff token for the institutions.
func (s *Server) StaffToken(ids ...int64) string {
	s.t.Helper()
	r := s.Do(Request{Method: "POST", Path: "/api/v1/tokens", Token: AdminToken,
		Body: map[string]any{"name": "counter staff", "role": "staff", "institution_ids": ids}})
	if r.Status != http.StatusCreated {
		s.t.Fatalf("create token: %d %s", r.Status, r.Body)
	}
	var tok struct{ Token string }
	r.JSON(s.t, &tok)
	return tok.Token
}

// Path formats a path.
func Path(format string, args ...any) string { return fmt.Sprintf(format, args...) }
