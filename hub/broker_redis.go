package hub

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
)

// RedisBrokerConfig tunes a RedisBroker.
type RedisBrokerConfig struct {
	// Prefix goes in front of every channel name, so that deployments (and
	// tests) sharing one Redis do not hear each other.
	Prefix string
	// HealthInterval: when nothing arrives for this long the broker pings
	// Redis, and when the ping goes unanswered as long again it drops the
	// connection and subscribes afresh. Default 5s.
	HealthInterval time.Duration
	// PublishQueue bounds the messages waiting to be sent to Redis; past it
	// they are dropped (and counted), as Redis being away would lose them
	// anyway. Default 4096.
	PublishQueue int
	// ConfirmWait is how long Subscribe waits for Redis to confirm a new
	// subscription before it returns with the subscription pending (at
	// once while Redis is known to be away); the handler gets Resync when
	// it is confirmed. Default 1s.
	ConfirmWait time.Duration
	Logger      *slog.Logger
	// Registerer receives the broker's metrics; none when nil.
	Registerer prometheus.Registerer
}

// RedisBroker is a Broker over Redis pub/sub, for several server instances.
// Publish delivers to this instance's handlers at once and sends the
// message to Redis from a background goroutine, so that a slow or absent
// Redis never holds up the caller nor this instance's own clients. A channel
// is subscribed in Redis while it has at least one local handler. When the
// subscription connection is re-established (go-redis resubscribes by
// itself, silently), every handler of a re-confirmed channel gets Resync.
type RedisBroker struct {
	client redis.UniversalClient
	cfg    RedisBrokerConfig
	log    *slog.Logger
	origin string // marks this broker's messages, which it delivered locally

	mu       sync.RWMutex
	ps       *redis.PubSub
	channels map[string]*redisChannel // by full (prefixed) name
	closed   bool
	// cmds are SUBSCRIBE and UNSUBSCRIBE commands in the order they were
	// decided under mu, sent by commandLoop: no network I/O under mu, which
	// Publish takes, and no reordering of a channel's commands.
	cmds      []redisCmd
	cmdSignal chan struct{}

	out     chan outMsg
	pubDone chan struct{} // closed when publishLoop has returned
	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup

	reconnects prometheus.Counter
	dropped    prometheus.Counter

	down atomic.Bool // the subscription connection is known to be lost
}

var _ Broker = (*RedisBroker)(nil)

type redisChannel struct {
	handlers  []*redisSub
	confirmed bool
	waiters   []chan struct{}
}

// redisSub is one handler of a channel; pending while its Subscribe
// returned before Redis confirmed the channel (guarded by b.mu).
type redisSub struct {
	h       Handler
	pending bool
}

// redisCmd is a subscription command; an empty channel with subscribe set
// means every channel (after a new connection).
type redisCmd struct {
	subscribe bool
	channel   string
}

type outMsg struct {
	channel string
	payload string
}

// originLen is the length of the origin tag in front of every payload.
const originLen = 16

// NewRedisBroker starts a broker over client; Close stops it (client stays
// open).
func NewRedisBroker(client redis.UniversalClient, cfg RedisBrokerConfig) (*RedisBroker, error) {
	if cfg.HealthInterval <= 0 {
		cfg.HealthInterval = 5 * time.Second
	}
	if cfg.PublishQueue <= 0 {
		cfg.PublishQueue = 4096
	}
	if cfg.ConfirmWait <= 0 {
		cfg.ConfirmWait = time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	tag := make([]byte, originLen/2)
	if _, err := rand.Read(tag); err != nil {
		return nil, fmt.Errorf("redis broker: origin tag: %w", err)
	}
	b := &RedisBroker{
		client:    client,
		cfg:       cfg,
		log:       cfg.Logger,
		origin:    hex.EncodeToString(tag),
		channels:  map[string]*redisChannel{},
		cmdSignal: make(chan struct{}, 1),
		out:       make(chan outMsg, cfg.PublishQueue),
		reconnects: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "queueless_live_broker_reconnects_total",
			Help: "Times the Redis pub/sub connection was re-established (every subscribed channel is then resynced).",
		}),
		dropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "queueless_live_broker_publish_dropped_total",
			Help: "Live messages not sent to Redis (queue full or Redis away); other instances resync.",
		}),
	}
	if cfg.Registerer != nil {
		if err := registerAll(cfg.Registerer, b.reconnects, b.dropped); err != nil {
			return nil, fmt.Errorf("redis broker: %w", err)
		}
	}
	b.ctx, b.cancel = context.WithCancel(context.Background())
	b.ps = client.Subscribe(b.ctx)
	b.pubDone = make(chan struct{})
	b.wg.Add(2)
	go b.receiveLoop()
	go b.commandLoop()
	go b.publishLoop()
	return b, nil
}

// Publish implements Broker: local handlers at once, other instances
// through Redis in the background.
func (b *RedisBroker) Publish(ctx context.Context, channel string, payload []byte) error {
	full := b.cfg.Prefix + channel
	b.mu.RLock()
	defer b.mu.RUnlock()
	if b.closed {
		return ErrBrokerClosed
	}
	if ch := b.channels[full]; ch != nil {
		for _, s := range ch.handlers {
			s.h.Deliver(slices.Clone(payload))
		}
	}
	// Under the read lock: Close closes b.out under the write lock.
	select {
	case b.out <- outMsg{channel: full, payload: b.origin + string(payload)}:
		return nil
	default:
		b.dropped.Inc()
		return errors.New("redis broker: publish queue full")
	}
}

// publishLoop sends queued messages to Redis, many to a round trip. A batch
// that fails is retried for a while: pub/sub has no replay, and what is
// dropped costs other instances a reload.
func (b *RedisBroker) publishLoop() {
	defer close(b.pubDone)
	const maxBatch = 256
	batch := make([]outMsg, 0, maxBatch)
	for {
		m, ok := <-b.out
		if !ok {
			return
		}
		batch = append(batch[:0], m)
	fill:
		for len(batch) < maxBatch {
			select {
			case m, ok := <-b.out:
				if !ok {
					break fill
				}
				batch = append(batch, m)
			default:
				break fill
			}
		}
		b.sendBatch(batch)
	}
}

func (b *RedisBroker) sendBatch(batch []outMsg) {
	deadline := time.Now().Add(2 * b.cfg.HealthInterval)
	backoff := 50 * time.Millisecond
	for {
		ctx, cancel := context.WithTimeout(b.ctx, b.cfg.HealthInterval)
		_, err := b.client.Pipelined(ctx, func(p redis.Pipeliner) error {
			for _, m := range batch {
				p.Publish(ctx, m.channel, m.payload)
			}
			return nil
		})
		cancel()
		if err == nil {
			return
		}
		if b.ctx.Err() != nil || time.Now().After(deadline) {
			b.dropped.Add(float64(len(batch)))
			if b.ctx.Err() == nil {
				b.log.Warn("live: dropped messages for other instances: redis did not take them", "count", len(batch), "error", err.Error())
			}
			return
		}
		select {
		case <-b.ctx.Done():
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, time.Second)
	}
}

// Subscribe implements Broker.
func (b *RedisBroker) Subscribe(ctx context.Context, channel string, h Handler) (func(), error) {
	full := b.cfg.Prefix + channel
	sub := &redisSub{h: h}
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil, ErrBrokerClosed
	}
	ch := b.channels[full]
	var wait chan struct{}
	if ch == nil {
		ch = &redisChannel{}
		b.channels[full] = ch
		b.enqueue(redisCmd{subscribe: true, channel: full})
	}
	ch.handlers = append(ch.handlers, sub)
	if !ch.confirmed {
		wait = make(chan struct{})
		ch.waiters = append(ch.waiters, wait)
	}
	b.mu.Unlock()

	var once sync.Once
	unsubscribe := func() { once.Do(func() { b.unsubscribe(full, sub) }) }
	if wait == nil {
		return unsubscribe, nil
	}
	// While Redis is away (or slow to confirm) the subscription starts
	// pending: this instance's own messages reach it at once, and when
	// Redis confirms it the handler resyncs from the source of truth,
	// which covers whatever other instances published meanwhile. A
	// client is not kept waiting on Redis.
	giveUp := make(chan time.Time)
	if b.down.Load() {
		close(giveUp) // known away: no wait at all
	} else {
		t := time.AfterFunc(b.cfg.ConfirmWait, func() { close(giveUp) })
		defer t.Stop()
	}
	select {
	case <-wait:
		return unsubscribe, nil
	case <-ctx.Done():
		unsubscribe()
		return nil, fmt.Errorf("subscribe %s: not confirmed by redis: %w", channel, ctx.Err())
	case <-b.ctx.Done():
		unsubscribe()
		return nil, ErrBrokerClosed
	case <-giveUp:
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if ch := b.channels[full]; ch != nil && !ch.confirmed {
		sub.pending = true
		b.log.Debug("live: redis has not confirmed a subscription yet; it starts locally and resyncs when confirmed", "channel", channel)
	}
	return unsubscribe, nil
}

func (b *RedisBroker) unsubscribe(full string, sub *redisSub) {
	b.mu.Lock()
	defer b.mu.Unlock()
	ch := b.channels[full]
	if ch == nil {
		return
	}
	ch.handlers = slices.DeleteFunc(ch.handlers, func(s *redisSub) bool { return s == sub })
	if len(ch.handlers) > 0 || b.closed {
		return
	}
	delete(b.channels, full)
	b.enqueue(redisCmd{channel: full})
}

// enqueue queues a command; the caller holds b.mu.
func (b *RedisBroker) enqueue(c redisCmd) {
	b.cmds = append(b.cmds, c)
	select {
	case b.cmdSignal <- struct{}{}:
	default:
	}
}

// commandLoop sends subscription commands in order. An error (Redis away)
// is not final: go-redis has recorded the change and applies it when it
// reconnects, and a new subscription is confirmed then.
func (b *RedisBroker) commandLoop() {
	defer b.wg.Done()
	for {
		select {
		case <-b.ctx.Done():
			return
		case <-b.cmdSignal:
		}
		b.mu.Lock()
		cmds := b.cmds
		b.cmds = nil
		ps := b.ps
		b.mu.Unlock()
		for _, c := range cmds {
			names := []string{c.channel}
			if c.channel == "" {
				b.mu.RLock()
				names = names[:0]
				for name := range b.channels {
					names = append(names, name)
				}
				b.mu.RUnlock()
				if len(names) == 0 {
					continue
				}
			}
			ctx, cancel := context.WithTimeout(b.ctx, b.cfg.HealthInterval)
			var err error
			if c.subscribe {
				err = ps.Subscribe(ctx, names...)
			} else {
				err = ps.Unsubscribe(ctx, names...)
			}
			cancel()
			if err != nil && b.ctx.Err() == nil {
				b.log.Debug("live: redis subscription command deferred", "subscribe", c.subscribe, "channels", len(names), "error", err.Error())
			}
		}
	}
}

// receiveLoop reads the subscription connection. Receive (not Channel) is
// used because subscription confirmations are the only sign go-redis gives of
// a silent reconnect-and-resubscribe.
func (b *RedisBroker) receiveLoop() {
	defer b.wg.Done()
	pinged := false
	down := false
	backoff := 50 * time.Millisecond
	for {
		b.mu.RLock()
		ps := b.ps
		b.mu.RUnlock()
		msg, err := ps.ReceiveTimeout(b.ctx, b.cfg.HealthInterval)
		if b.ctx.Err() != nil {
			return
		}
		if err != nil {
			if isReadTimeout(err) {
				// A read deadline passed on an open connection: Redis was
				// reachable, if silent.
				if down {
					down = false
					b.down.Store(false)
					b.reconnects.Inc()
					b.log.Info("live: redis subscription re-established")
				}
				if !pinged {
					pctx, cancel := context.WithTimeout(b.ctx, b.cfg.HealthInterval)
					_ = ps.Ping(pctx)
					cancel()
					pinged = true
					continue
				}
				b.log.Warn("live: redis subscription silent after a ping; reconnecting")
				b.restart()
				pinged = false
				continue
			}
			if !down {
				down = true
				b.down.Store(true)
				b.log.Warn("live: redis subscription lost; reconnecting", "error", err.Error())
			}
			select {
			case <-b.ctx.Done():
				return
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, time.Second)
			continue
		}
		pinged = false
		backoff = 50 * time.Millisecond
		if down {
			down = false
			b.down.Store(false)
			b.reconnects.Inc()
			b.log.Info("live: redis subscription re-established")
		}
		switch m := msg.(type) {
		case *redis.Subscription:
			if m.Kind == "subscribe" {
				b.confirm(m.Channel)
			}
		case *redis.Message:
			b.dispatch(m.Channel, m.Payload)
		}
	}
}

// restart replaces a subscription connection that stopped answering with a
// new one subscribed to every channel; the confirmations that follow resync
// them all.
func (b *RedisBroker) restart() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return
	}
	old := b.ps
	b.ps = b.client.Subscribe(b.ctx) // no channel yet: no network I/O
	b.cmds = nil                     // whatever was pending, the new connection subscribes all
	b.enqueue(redisCmd{subscribe: true})
	go func() { _ = old.Close() }()
	b.reconnects.Inc()
}

// confirm handles Redis's confirmation of a subscription: the first one
// releases the waiting Subscribe calls, any later one means the connection
// was re-established and messages may have been lost.
func (b *RedisBroker) confirm(full string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	ch := b.channels[full]
	if ch == nil {
		return
	}
	if !ch.confirmed {
		ch.confirmed = true
		for _, w := range ch.waiters {
			close(w)
		}
		ch.waiters = nil
		// Handlers that started before the confirmation may have missed
		// other instances' messages.
		for _, s := range ch.handlers {
			if s.pending {
				s.pending = false
				s.h.Resync()
			}
		}
		return
	}
	for _, s := range ch.handlers {
		s.h.Resync()
	}
}

func (b *RedisBroker) dispatch(full, payload string) {
	if len(payload) < originLen || payload[:originLen] == b.origin {
		return
	}
	b.mu.RLock()
	defer b.mu.RUnlock()
	ch := b.channels[full]
	if ch == nil {
		return
	}
	for _, s := range ch.handlers {
		s.h.Deliver([]byte(payload[originLen:]))
	}
}

// closeDrain bounds how long Close waits for queued messages to reach Redis.
const closeDrain = time.Second

// Close implements Broker. Messages still queued for Redis get a moment to
// go out; what Redis has not taken by then is dropped.
func (b *RedisBroker) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	clear(b.channels)
	ps := b.ps
	close(b.out) // no Publish sends any more: they check closed under b.mu
	b.mu.Unlock()
	select {
	case <-b.pubDone:
	case <-time.After(closeDrain):
	}
	b.cancel()
	<-b.pubDone
	err := ps.Close()
	b.wg.Wait()
	return err
}

// isReadTimeout reports whether err is a read deadline passing on an open
// connection, not a failure to connect.
func isReadTimeout(err error) bool {
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		return false
	}
	var oe *net.OpError
	return !errors.As(err, &oe) || oe.Op != "dial"
}

// registerAll registers every collector, or none.
func registerAll(reg prometheus.Registerer, cs ...prometheus.Collector) error {
	for i, c := range cs {
		if err := reg.Register(c); err != nil {
			for _, done := range cs[:i] {
				reg.Unregister(done)
			}
			return err
		}
	}
	return nil
}
