package hub

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/time/rate"

	"github.com/queueless/queueless/queue"
)

// Config tunes a Hub; zero values take the defaults in brackets.
type Config struct {
	Store  queue.Store
	Broker Broker
	Logger *slog.Logger
	// Registerer receives the hub's metrics; none when nil.
	Registerer prometheus.Registerer

	// MaxPerAddr caps the live connections of one client address (the
	// caller's key for it: an IPv6 client by its /64); 0: no cap.
	MaxPerAddr int
	// MaxConns caps the live connections of this hub; 0: no cap.
	MaxConns int
	// OutboxSize bounds the frames waiting for one connection besides the
	// newest state, which conflates [64].
	OutboxSize int
	// WriteTimeout bounds the writing of every batch of frames (what a
	// connection's outbox held when its writer took it) [10s].
	WriteTimeout time.Duration
	// PingInterval is how often clients are pinged [30s]; PongTimeout how
	// long a pong may take [15s].
	PingInterval time.Duration
	PongTimeout  time.Duration
	// ReadLimit bounds an inbound message [1 KiB]; clients have nothing to
	// say on these streams.
	ReadLimit int64
	// InboundRate and InboundBurst limit inbound messages per connection
	// [1/s, burst 10]; past them the connection is closed.
	InboundRate  rate.Limit
	InboundBurst int
	// GapWait is how long an event that skipped a version waits for the
	// missing ones before the state is reloaded [250ms].
	GapWait time.Duration
	// CheckInterval is how often a room compares its version with the
	// store's, to catch an event lost without a reconnect [30s].
	CheckInterval time.Duration
	// InboxSize bounds a room's undelivered events; past it the room
	// reloads instead [10000].
	InboxSize int
}

func (c *Config) defaults() {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&c.WriteTimeout, 10*time.Second)
	def(&c.PingInterval, 30*time.Second)
	def(&c.PongTimeout, 15*time.Second)
	def(&c.GapWait, 250*time.Millisecond)
	def(&c.CheckInterval, 30*time.Second)
	if c.OutboxSize <= 0 {
		c.OutboxSize = 64
	}
	if c.ReadLimit <= 0 {
		c.ReadLimit = 1024
	}
	if c.InboundRate <= 0 {
		c.InboundRate = 1
	}
	if c.InboundBurst <= 0 {
		c.InboundBurst = 10
	}
	if c.InboxSize <= 0 {
		c.InboxSize = 10000
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

// Hub serves the live streams of one server instance.
type Hub struct {
	cfg    Config
	store  queue.Store
	broker Broker
	log    *slog.Logger
	m      *metrics

	ctx    context.Context // cancelled when the hub closes
	cancel context.CancelFunc

	mu     sync.Mutex
	closed bool
	// draining: new subscriptions are refused and every connection is
	// being told to reconnect elsewhere (Drain).
	draining bool
	rooms    map[int64]*room
	conns    map[*conn]struct{}
	perAddr  map[string]int
	total    int // admitted connections, every address

	connWG  sync.WaitGroup // served connections
	roomWG  sync.WaitGroup // room goroutines
	watchWG sync.WaitGroup // watchWrites

	afterAccept func() // tests: runs between the upgrade and the setup
}

// Errors a subscription may fail with, besides the store's.
var (
	// ErrTooManyConnections: the client address holds MaxPerAddr streams.
	ErrTooManyConnections = queue.Errorf(queue.CodeRateLimited, "too many live connections from this address")
	// ErrTooManyLive: the hub holds MaxConns streams.
	ErrTooManyLive = queue.Errorf(queue.CodeUnavailable, "this server holds as many live connections as it may; please retry shortly")
	// ErrClosed: the hub is shutting down.
	ErrClosed = queue.Errorf(queue.CodeUnavailable, "the server is shutting down")
)

// New returns a hub over cfg.Store and cfg.Broker; Close stops it and
// closes the broker.
func New(cfg Config) (*Hub, error) {
	if cfg.Store == nil || cfg.Broker == nil {
		return nil, errors.New("hub: Store and Broker are required")
	}
	cfg.defaults()
	m, err := newMetrics(cfg.Registerer)
	if err != nil {
		return nil, fmt.Errorf("hub: metrics: %w", err)
	}
	m.limit.Set(float64(cfg.MaxConns))
	h := &Hub{
		cfg: cfg, store: cfg.Store, broker: cfg.Broker, log: cfg.Logger, m: m,
		rooms: map[int64]*room{}, conns: map[*conn]struct{}{}, perAddr: map[string]int{},
	}
	h.ctx, h.cancel = context.WithCancel(context.Background())
	h.watchWG.Add(1)
	go h.watchWrites()
	return h, nil
}

// watchWrites keeps the write deadline of every connection: a batch of
// frames still being written WriteTimeout after it began means the client
// stopped reading, and its connection is closed. One goroutine for the
// hub instead of a timer per write keeps a fan-out to thousands of
// connections from arming and stopping thousands of timers per event; a
// connection is closed between WriteTimeout and WriteTimeout plus a tenth
// of it (at most a second) after its write began.
func (h *Hub) watchWrites() {
	defer h.watchWG.Done()
	tick := time.NewTicker(min(max(h.cfg.WriteTimeout/10, 50*time.Millisecond), time.Second))
	defer tick.Stop()
	type late struct {
		c     *conn
		since int64
	}
	var overdue []late
	for {
		select {
		case <-h.ctx.Done():
			return
		case now := <-tick.C:
			cutoff := now.Add(-h.cfg.WriteTimeout).UnixNano()
			overdue = overdue[:0]
			h.mu.Lock()
			for c := range h.conns {
				if since := c.writingSince.Load(); since != 0 && since <= cutoff && !c.ending.Load() {
					overdue = append(overdue, late{c, since})
				}
			}
			h.mu.Unlock()
			for _, l := range overdue {
				l.c.writeTimedOut(l.since)
			}
			clear(overdue)
		}
	}
}

// Publish sends a committed event to every instance's live clients. It is
// meant for queue.Service.OnEvent: it encodes the event once and hands it
// to the broker without waiting for the network.
func (h *Hub) Publish(ev queue.Event) {
	payload, err := encodeEvent(ev, time.Now())
	if err != nil {
		h.log.Error("live: encode event", "institution_id", ev.Institution.ID, "error", err.Error())
		return
	}
	if err := h.broker.Publish(h.ctx, channelName(ev.Institution.ID), payload); err != nil && !errors.Is(err, ErrBrokerClosed) {
		h.log.Warn("live: publish event", "institution_id", ev.Institution.ID, "error", err.Error())
	}
}

// acquire returns the loaded room of institution id, creating it (which
// subscribes its channel) for the first subscriber.
func (h *Hub) acquire(ctx context.Context, id int64) (*room, error) {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return nil, ErrClosed
	}
	r := h.rooms[id]
	if r == nil {
		r = newRoom(h, id)
		h.rooms[id] = r
		h.roomWG.Add(1)
		go r.run()
	}
	r.refs++
	h.mu.Unlock()
	select {
	case <-r.ready:
	case <-ctx.Done():
		h.release(r)
		return nil, errors.Join(queue.ErrUnavailable, ctx.Err())
	}
	if r.err != nil {
		h.release(r)
		return nil, r.err
	}
	return r, nil
}

// release drops a reference to r; the last one stops the room, which
// unsubscribes its channel.
func (h *Hub) release(r *room) {
	h.mu.Lock()
	defer h.mu.Unlock()
	r.refs--
	if r.refs == 0 {
		if h.rooms[r.id] == r {
			delete(h.rooms, r.id)
		}
		close(r.stop)
	}
}

// admit counts a connection of addr, or refuses it past the cap.
func (h *Hub) admit(addr string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return ErrClosed
	}
	if h.draining {
		return ErrDraining
	}
	if h.cfg.MaxConns > 0 && h.total >= h.cfg.MaxConns {
		h.m.refused.WithLabelValues("instance_cap").Inc()
		return ErrTooManyLive
	}
	if h.cfg.MaxPerAddr > 0 && h.perAddr[addr] >= h.cfg.MaxPerAddr {
		h.m.refused.WithLabelValues("per_address").Inc()
		return ErrTooManyConnections
	}
	h.perAddr[addr]++
	h.total++
	return nil
}

func (h *Hub) unadmit(addr string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.total--
	if h.perAddr[addr]--; h.perAddr[addr] <= 0 {
		delete(h.perAddr, addr)
	}
}

// Subscription is a live stream subscribed before the WebSocket upgrade,
// so that an unknown institution or ticket, or a client over its cap, is
// refused with an HTTP error. Its first frame, the snapshot, is queued.
// Serve it, or Close it.
type Subscription struct{ c *conn }

// attachTimeout bounds loading a room for a new subscriber.
const attachTimeout = 15 * time.Second

// SubscribeInstitution subscribes to institution id for a client at addr.
func (h *Hub) SubscribeInstitution(ctx context.Context, id int64, addr string) (*Subscription, error) {
	if err := h.admit(addr); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, attachTimeout)
	defer cancel()
	r, err := h.acquire(ctx, id)
	if err != nil {
		h.unadmit(addr)
		return nil, err
	}
	c := newConn(h, r, streamInstitution, "", addr)
	r.attachInstitution(c)
	return &Subscription{c: c}, nil
}

// SubscribeTicket subscribes to ticket id (canonical form) for a client at
// addr.
func (h *Hub) SubscribeTicket(ctx context.Context, id, addr string) (*Subscription, error) {
	if err := h.admit(addr); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, attachTimeout)
	defer cancel()
	t, err := h.store.Ticket(ctx, id)
	if err != nil {
		h.unadmit(addr)
		return nil, err
	}
	r, err := h.acquire(ctx, t.InstitutionID)
	if err != nil {
		h.unadmit(addr)
		return nil, err
	}
	c := newConn(h, r, streamTicket, id, addr)
	if err := r.attachTicket(ctx, c, id); err != nil {
		h.release(r)
		h.unadmit(addr)
		return nil, err
	}
	return &Subscription{c: c}, nil
}

// Close releases a subscription that was not served.
func (s *Subscription) Close() { s.c.finish() }

// Close closes every live connection with a going-away close frame, waits
// for them (until ctx ends, then drops the rest), stops the rooms and
// closes the broker. New subscriptions are refused from the start.
func (h *Hub) Close(ctx context.Context) {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return
	}
	h.closed = true
	h.mu.Unlock()
	h.cancel()
	h.mu.Lock()
	for c := range h.conns {
		go c.goingAway()
	}
	h.mu.Unlock()
	if !waitCtx(ctx, &h.connWG) {
		// CloseNow on a connection whose close handshake is under way waits
		// for it: drop them all at once, and not under h.mu.
		h.mu.Lock()
		late := slices.Collect(maps.Keys(h.conns))
		h.mu.Unlock()
		for _, c := range late {
			go c.abort()
		}
		h.log.Warn("live: connections did not close in time; dropped them")
		waitCtx(context.Background(), &h.connWG)
	}
	waitCtx(ctx, &h.roomWG)
	h.watchWG.Wait()
	if err := h.broker.Close(); err != nil {
		h.log.Warn("live: close broker", "error", err.Error())
	}
}

// waitCtx waits for wg or ctx, and reports whether wg finished.
func waitCtx(ctx context.Context, wg *sync.WaitGroup) bool {
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
		return true
	case <-ctx.Done():
		return false
	}
}
