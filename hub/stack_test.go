package hub_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/queueless/queueless/hub"
	"github.com/queueless/queueless/internal/testenv"
	"github.com/queueless/queueless/migrations"
	"github.com/queueless/queueless/queue"
)

// stack is several in-process server instances (service, Redis broker,
// hub, HTTP server) on one migrated PostgreSQL schema and one Redis prefix.
type stack struct {
	t      *testing.T
	store  queue.Store
	inst   []*instance
	prefix string        // Redis key and channel prefix
	redis  *redis.Client // for looking at Redis from the test
}

type instance struct {
	svc *queue.Service
	hub *hub.Hub
	reg *prometheus.Registry
	srv *httptest.Server
}

// stackOption adjusts a stack's HTTP servers.
type stackOption func(*httptest.Server)

// withSmallSendBuffers gives every accepted connection a 4 KiB socket send
// buffer (no autotuning), so that a client that stops reading blocks the
// server's writes after a few frames rather than megabytes.
func withSmallSendBuffers() stackOption {
	return func(srv *httptest.Server) {
		srv.Config.ConnState = func(c net.Conn, state http.ConnState) {
			if tc, ok := c.(*net.TCPConn); ok && state == http.StateNew {
				_ = tc.SetWriteBuffer(4096)
			}
		}
	}
}

// newStack starts n instances; tune adjusts each hub's config.
func newStack(t *testing.T, n int, tune func(*hub.Config), srvOpts ...stackOption) *stack {
	t.Helper()
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, testenv.NewSchema(t))
	if err != nil {
		t.Fatalf("open pool: %v", err)
	}
	t.Cleanup(pool.Close)
	db := migrations.OpenDB(pool)
	if err := migrations.Up(ctx, db); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	_ = db.Close()
	opts, err := redis.ParseURL(testenv.RedisURL(t))
	if err != nil {
		t.Fatalf("parse redis url: %v", err)
	}
	prefix := testenv.RedisPrefix(t)
	s := &stack{t: t, store: queue.NewPostgresStore(pool), prefix: prefix, redis: redis.NewClient(opts)}
	t.Cleanup(func() { _ = s.redis.Close() })
	for range n {
		client := redis.NewClient(opts)
		t.Cleanup(func() { _ = client.Close() })
		reg := prometheus.NewRegistry()
		broker, err := hub.NewRedisBroker(client, hub.RedisBrokerConfig{Prefix: prefix, HealthInterval: time.Second, Registerer: reg})
		if err != nil {
			t.Fatalf("redis broker: %v", err)
		}
		cfg := hub.Config{Store: s.store, Broker: broker, Registerer: reg}
		if tune != nil {
			tune(&cfg)
		}
		h, err := hub.New(cfg)
		if err != nil {
			t.Fatalf("new hub: %v", err)
		}
		svc := queue.NewService(s.store, queue.Config{})
		svc.OnEvent(h.Publish)
		srv := httptest.NewUnstartedServer(liveMux(h))
		for _, o := range srvOpts {
			o(srv)
		}
		srv.Start()
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			h.Close(ctx)
			srv.Close()
		})
		s.inst = append(s.inst, &instance{svc: svc, hub: h, reg: reg, srv: srv})
	}
	return s
}

// liveMux serves the two streams without the rest of the API.
func liveMux(h *hub.Hub) http.Handler {
	mux := http.NewServeMux()
	serve := func(w http.ResponseWriter, r *http.Request, sub *hub.Subscription, err error) {
		if err != nil {
			code, msg := queue.ErrorCode(err)
			status := map[queue.Code]int{queue.CodeNotFound: 404, queue.CodeRateLimited: 429}[code]
			if status == 0 {
				status = 503
			}
			http.Error(w, msg, status)
			return
		}
		sub.Serve(w, r)
	}
	mux.HandleFunc("GET /inst/{id}", func(w http.ResponseWriter, r *http.Request) {
		id, _ := strconv.ParseInt(r.PathValue("id"), 10, 64)
		sub, err := h.SubscribeInstitution(r.Context(), id, "127.0.0.1")
		serve(w, r, sub, err)
	})
	mux.HandleFunc("GET /ticket/{id}", func(w http.ResponseWriter, r *http.Request) {
		sub, err := h.SubscribeTicket(r.Context(), r.PathValue("id"), "127.0.0.1")
		serve(w, r, sub, err)
	})
	return mux
}

func (s *stack) institution() queue.Institution {
	s.t.Helper()
	inst, err := s.inst[0].svc.CreateInstitution(context.Background(), queue.Fields{
		Name: "Live Office", Kind: "government", Status: queue.StatusOpen,
	}, queue.Meta{Actor: "test"})
	if err != nil {
		s.t.Fatalf("create institution: %v", err)
	}
	return inst
}

func (s *stack) join(i int, instID int64) queue.Ticket {
	s.t.Helper()
	res, err := s.inst[i].svc.Join(context.Background(), instID, queue.JoinRequest{}, queue.Meta{Actor: queue.ActorCitizen})
	if err != nil {
		s.t.Fatalf("join: %v", err)
	}
	return res.Ticket
}

func (s *stack) advance(i int, instID int64) queue.AdvanceResult {
	s.t.Helper()
	c := "3"
	res, err := s.inst[i].svc.Advance(context.Background(), instID, queue.AdvanceRequest{Count: 1, Counter: &c}, queue.Meta{Actor: "token:1"})
	if err != nil {
		s.t.Fatalf("advance: %v", err)
	}
	return res
}

// liveFrame is any frame of the two streams.
type liveFrame struct {
	Type         string              `json:"type"`
	Institution  *queue.Institution  `json:"institution"`
	Ticket       *queue.Ticket       `json:"ticket"`
	Notification *queue.Notification `json:"notification"`
	Message      string              `json:"message"`
	Raw          string              `json:"-"`
}

// client is a test WebSocket client that reads every frame in the
// background.
type client struct {
	t      testing.TB
	ws     *websocket.Conn
	mu     sync.Mutex
	frames []liveFrame
	err    error // why reading stopped
	done   chan struct{}
}

func dialURL(t testing.TB, url string, opts *websocket.DialOptions) (*client, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, url, opts)
	if err != nil {
		return nil, err
	}
	c := &client{t: t, ws: ws, done: make(chan struct{})}
	t.Cleanup(func() { _ = ws.CloseNow(); <-c.done })
	go c.readLoop()
	return c, nil
}

func (s *stack) dial(i int, path string) *client {
	s.t.Helper()
	c, err := dialURL(s.t, "ws"+strings.TrimPrefix(s.inst[i].srv.URL, "http")+path, nil)
	if err != nil {
		s.t.Fatalf("dial %s: %v", path, err)
	}
	return c
}

func (c *client) readLoop() {
	defer close(c.done)
	for {
		_, b, err := c.ws.Read(context.Background())
		if err != nil {
			c.mu.Lock()
			c.err = err
			c.mu.Unlock()
			return
		}
		var f liveFrame
		if err := json.Unmarshal(b, &f); err != nil {
			f.Type = "undecodable"
		}
		f.Raw = string(b)
		c.mu.Lock()
		c.frames = append(c.frames, f)
		c.mu.Unlock()
	}
}

func (c *client) all() []liveFrame {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]liveFrame(nil), c.frames...)
}

// waitFor waits until some frame satisfies ok and returns it.
func (c *client) waitFor(what string, within time.Duration, ok func(f liveFrame) bool) liveFrame {
	c.t.Helper()
	deadline := time.Now().Add(within)
	for {
		frames := c.all()
		for i := len(frames) - 1; i >= 0; i-- {
			if ok(frames[i]) {
				return frames[i]
			}
		}
		c.mu.Lock()
		err := c.err
		c.mu.Unlock()
		if err != nil || time.Now().After(deadline) {
			c.t.Fatalf("waiting for %s: reading stopped (%v) or timed out after %v; got %d frames, last %q", what, err, within, len(frames), last(frames).Raw)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// waitLast waits until the last state frame (institution or ticket, not
// a notification or announcement) satisfies ok.
func (c *client) waitLast(what string, within time.Duration, ok func(f liveFrame) bool) liveFrame {
	c.t.Helper()
	deadline := time.Now().Add(within)
	for {
		frames := c.all()
		if f := lastWith(frames, isState); isState(f) && ok(f) {
			return f
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("waiting for last frame to be %s: timed out after %v; got %d frames, last %q", what, within, len(frames), last(frames).Raw)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func last(fs []liveFrame) liveFrame {
	if len(fs) == 0 {
		return liveFrame{Raw: "(none)"}
	}
	return fs[len(fs)-1]
}

// closeErr waits until the server ends the connection and returns why.
func (c *client) closeErr(within time.Duration) error {
	select {
	case <-c.done:
	case <-time.After(within):
		return errors.New("still open")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// smallReceiveBuffer dials with a 4 KiB socket receive buffer, so that a
// client that stops reading fills up quickly.
func smallReceiveBuffer() *websocket.DialOptions {
	d := &net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		err := rc.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
		})
		return errors.Join(err, serr)
	}}
	return &websocket.DialOptions{HTTPClient: &http.Client{Transport: &http.Transport{DialContext: d.DialContext}}}
}

// metric returns the value of a counter or gauge, summed over labels.
func metric(t testing.TB, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			switch {
			case m.Counter != nil:
				sum += m.Counter.GetValue()
			case m.Gauge != nil:
				sum += m.Gauge.GetValue()
			}
		}
	}
	return sum
}

func instPath(id int64) string { return fmt.Sprintf("/inst/%d", id) }

func isState(f liveFrame) bool { return f.Institution != nil || f.Ticket != nil }

func lastWith(fs []liveFrame, ok func(liveFrame) bool) liveFrame {
	for i := len(fs) - 1; i >= 0; i-- {
		if ok(fs[i]) {
			return fs[i]
		}
	}
	return liveFrame{}
}

// ticketJSON and instJSON compare objects as the contract shows them.
func ticketJSON(t testing.TB, tk *queue.Ticket) string {
	t.Helper()
	if tk == nil {
		return "null"
	}
	b, err := json.Marshal(tk)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func instJSON(t testing.TB, inst *queue.Institution) string {
	t.Helper()
	if inst == nil {
		return "null"
	}
	b, err := json.Marshal(inst)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// subscribers returns how many Redis subscriptions institution id's
// channel has, across the stack's instances.
func (s *stack) subscribers(id int64) int64 {
	s.t.Helper()
	name := fmt.Sprintf("%slive:inst:%d", s.prefix, id)
	res, err := s.redis.PubSubNumSub(context.Background(), name).Result()
	if err != nil {
		s.t.Fatalf("pubsub numsub: %v", err)
	}
	return res[name]
}
