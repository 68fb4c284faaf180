package hub

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"net"
	"slices"
	"strconv"
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
//
// Over a *redis.ClusterClient the broker uses sharded pub/sub (SPUBLISH,
// SSUBSCRIBE): a message goes to the one shard that owns its channel's slot
// rather than to every node. Channels are spread over a fixed set of
// buckets, each a hash tag of its own slot ({b17}queueless:inst:42), and
// each bucket in use has one subscription connection to its slot's
// master: SSUBSCRIBE takes channels of one slot only, so one connection per
// bucket is what lets go-redis resubscribe them all after a failover in one
// command. A bucket whose subscription fails with a cluster error (MOVED
// after a failover, CLUSTERDOWN, a server-side SUNSUBSCRIBE when its slot
// moves) reloads the cluster's layout and starts a fresh connection.
type RedisBroker struct {
	client  redis.UniversalClient
	cluster *redis.ClusterClient // non-nil: sharded pub/sub
	cfg     RedisBrokerConfig
	log     *slog.Logger
	origin  string // marks this broker's messages, which it delivered locally

	mu       sync.RWMutex
	shards   []*redisShard            // one unsharded, else one per bucket (started on first use)
	channels map[string]*redisChannel // by full (prefixed) name
	closed   bool

	out     chan outMsg
	pubDone chan struct{} // closed when publishLoop has returned
	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup

	reconnects prometheus.Counter
	dropped    prometheus.Counter
}

var _ Broker = (*RedisBroker)(nil)

type redisChannel struct {
	shard     *redisShard
	handlers  []*redisSub
	confirmed bool
	waiters   []chan struct{}
}

// redisShard is one subscription connection and its loops: the only one
// over a single Redis, one per bucket over a cluster.
type redisShard struct {
	b       *RedisBroker
	tag     string // the bucket's hash tag, "" unsharded
	started bool   // under b.mu: loops running
	// Under b.mu. cmds are (S)SUBSCRIBE and (S)UNSUBSCRIBE commands in the
	// order they were decided under mu, sent by commandLoop: no network I/O
	// under mu, which Publish takes, and no reordering of a channel's
	// commands. unsubs counts the unsubscriptions sent per channel, so that
	// their confirmations are told from a server dropping the channel.
	ps        *redis.PubSub
	ready     chan struct{} // closed once ps has been sent a subscription
	cmds      []redisCmd
	unsubs    map[string]int
	cmdSignal chan struct{}
	// down: this shard's subscription connection is known to be lost, so
	// a new subscription on it does not wait for Redis to confirm it.
	down atomic.Bool
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
	shard   *redisShard
	channel string
	payload string
}

// originLen is the length of the origin tag in front of every payload.
const originLen = 16

// clusterBuckets is how many slots a cluster's live channels are spread
// over, and so the most subscription connections one instance opens; the
// buckets' slots are evenly spaced, so every shard of a cluster of up to
// this many masters with even slot ranges gets its share.
const clusterBuckets = 64

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
		client:   client,
		cfg:      cfg,
		log:      cfg.Logger,
		origin:   hex.EncodeToString(tag),
		channels: map[string]*redisChannel{},
		out:      make(chan outMsg, cfg.PublishQueue),
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
	if cc, ok := client.(*redis.ClusterClient); ok {
		b.cluster = cc
		for _, t := range bucketTags() {
			b.shards = append(b.shards, b.newShard(t))
		}
	} else {
		b.shards = []*redisShard{b.newShard("")}
	}
	b.pubDone = make(chan struct{})
	go b.publishLoop()
	return b, nil
}

func (b *RedisBroker) newShard(tag string) *redisShard {
	return &redisShard{b: b, tag: tag, unsubs: map[string]int{}, cmdSignal: make(chan struct{}, 1)}
}

// fullName is the name of channel in Redis, and the shard that carries it.
// Over a cluster the bucket's hash tag comes first, so that no brace in
// the prefix can take its place.
func (b *RedisBroker) fullName(channel string) (string, *redisShard) {
	if b.cluster == nil {
		return b.cfg.Prefix + channel, b.shards[0]
	}
	h := fnv.New32a()
	_, _ = h.Write([]byte(channel))
	sh := b.shards[h.Sum32()%uint32(len(b.shards))]
	return "{" + sh.tag + "}" + b.cfg.Prefix + channel, sh
}

// start starts the shard's loops on first use; the caller holds b.mu.
func (sh *redisShard) start() {
	if sh.started {
		return
	}
	sh.started = true
	sh.ps, sh.ready = sh.newPubSub()
	sh.b.wg.Add(2)
	go sh.receiveLoop()
	go sh.commandLoop()
}

// newPubSub returns a subscription with no channel yet (no network I/O)
// and the channel that says it may be read from. A cluster's subscription
// connects to the owner of its first channel's slot, and to a random node
// when it has none: reading it before its first SSUBSCRIBE would pin it to
// the wrong node.
func (sh *redisShard) newPubSub() (*redis.PubSub, chan struct{}) {
	ready := make(chan struct{})
	if sh.b.cluster != nil {
		return sh.b.cluster.SSubscribe(sh.b.ctx), ready
	}
	close(ready)
	return sh.b.client.Subscribe(sh.b.ctx), ready
}

// Publish implements Broker: local handlers at once, other instances
// through Redis in the background.
func (b *RedisBroker) Publish(ctx context.Context, channel string, payload []byte) error {
	full, sh := b.fullName(channel)
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
	case b.out <- outMsg{shard: sh, channel: full, payload: b.origin + string(payload)}:
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
	// Over a cluster each bucket's messages go to one node in a pipeline
	// of their own: a pipeline cut by a failover fails as a whole (go-redis
	// then marks every command of it failed, sent or not), so a bucket is
	// retried alone and the other buckets' subscribers get no copy.
	groups := [][]outMsg{batch}
	if b.cluster != nil {
		byShard := map[*redisShard][]outMsg{}
		for _, m := range batch {
			byShard[m.shard] = append(byShard[m.shard], m)
		}
		groups = groups[:0]
		for _, g := range byShard {
			groups = append(groups, g)
		}
	}
	deadline := time.Now().Add(2 * b.cfg.HealthInterval)
	backoff := 50 * time.Millisecond
	for {
		errs := make([]error, len(groups))
		var wg sync.WaitGroup
		for i, g := range groups {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[i] = b.sendGroup(g)
			}()
		}
		wg.Wait()
		var failed [][]outMsg
		var lastErr error
		lost := 0
		for i, err := range errs {
			if err != nil {
				failed = append(failed, groups[i])
				lastErr = err
				lost += len(groups[i])
			}
		}
		if len(failed) == 0 {
			return
		}
		groups = failed
		b.reloadLayout()
		if b.ctx.Err() != nil || time.Now().After(deadline) {
			b.dropped.Add(float64(lost))
			if b.ctx.Err() == nil {
				b.log.Warn("live: dropped messages for other instances: redis did not take them", "count", lost, "error", lastErr.Error())
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

// sendGroup sends messages in one pipeline.
func (b *RedisBroker) sendGroup(msgs []outMsg) error {
	ctx, cancel := context.WithTimeout(b.ctx, b.cfg.HealthInterval)
	defer cancel()
	_, err := b.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, m := range msgs {
			if b.cluster != nil {
				p.SPublish(ctx, m.channel, m.payload)
			} else {
				p.Publish(ctx, m.channel, m.payload)
			}
		}
		return nil
	})
	return err
}

// Subscribe implements Broker.
func (b *RedisBroker) Subscribe(ctx context.Context, channel string, h Handler) (func(), error) {
	full, sh := b.fullName(channel)
	sub := &redisSub{h: h}
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil, ErrBrokerClosed
	}
	ch := b.channels[full]
	var wait chan struct{}
	if ch == nil {
		sh.start()
		ch = &redisChannel{shard: sh}
		b.channels[full] = ch
		sh.enqueue(redisCmd{subscribe: true, channel: full})
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
	if sh.down.Load() {
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
	if b.cluster != nil {
		ch.shard.unsubs[full]++
	}
	ch.shard.enqueue(redisCmd{channel: full})
}

// enqueue queues a command; the caller holds b.mu.
func (sh *redisShard) enqueue(c redisCmd) {
	sh.cmds = append(sh.cmds, c)
	select {
	case sh.cmdSignal <- struct{}{}:
	default:
	}
}

// reloadLayout makes a cluster client learn the slots' owners afresh (in
// the background), after an error that may mean they changed.
func (b *RedisBroker) reloadLayout() {
	if b.cluster != nil {
		b.cluster.ReloadState(b.ctx)
	}
}

// commandLoop sends subscription commands in order. An error (Redis away)
// is not final: go-redis has recorded the change and applies it when it
// reconnects, and a new subscription is confirmed then.
func (sh *redisShard) commandLoop() {
	b := sh.b
	defer b.wg.Done()
	for {
		select {
		case <-b.ctx.Done():
			return
		case <-sh.cmdSignal:
		}
		b.mu.Lock()
		cmds := sh.cmds
		sh.cmds = nil
		ps, ready := sh.ps, sh.ready
		b.mu.Unlock()
		for _, c := range cmds {
			names := []string{c.channel}
			if c.channel == "" {
				b.mu.RLock()
				names = names[:0]
				for name, ch := range b.channels {
					if ch.shard == sh {
						names = append(names, name)
					}
				}
				b.mu.RUnlock()
				if len(names) == 0 {
					continue
				}
			}
			ctx, cancel := context.WithTimeout(b.ctx, b.cfg.HealthInterval)
			var err error
			switch {
			case c.subscribe && b.cluster != nil:
				err = ps.SSubscribe(ctx, names...)
			case c.subscribe:
				err = ps.Subscribe(ctx, names...)
			case b.cluster != nil:
				err = ps.SUnsubscribe(ctx, names...)
			default:
				err = ps.Unsubscribe(ctx, names...)
			}
			if c.subscribe {
				select {
				case <-ready:
				default:
					close(ready) // only this goroutine closes it
				}
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
func (sh *redisShard) receiveLoop() {
	b := sh.b
	defer b.wg.Done()
	pinged := false
	down := false
	backoff := 50 * time.Millisecond
	for {
		b.mu.RLock()
		ps, ready := sh.ps, sh.ready
		b.mu.RUnlock()
		select {
		case <-ready:
		case <-b.ctx.Done():
			return
		}
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
					sh.down.Store(false)
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
				sh.restart()
				pinged = false
				continue
			}
			if !down {
				down = true
				sh.down.Store(true)
				b.log.Warn("live: redis subscription lost; reconnecting", "shard", sh.tag, "error", err.Error())
			}
			b.reloadLayout()
			select {
			case <-b.ctx.Done():
				return
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, time.Second)
			// An error reply (MOVED, CLUSTERDOWN) leaves the connection
			// open and subscribed to nothing: go-redis would not
			// reconnect, so start afresh on the slot's present owner.
			var rerr redis.Error
			if errors.As(err, &rerr) {
				sh.restart()
			}
			continue
		}
		pinged = false
		backoff = 50 * time.Millisecond
		if down {
			down = false
			sh.down.Store(false)
			b.reconnects.Inc()
			b.log.Info("live: redis subscription re-established")
		}
		switch m := msg.(type) {
		case *redis.Subscription:
			switch m.Kind {
			case "subscribe", "ssubscribe":
				b.confirm(m.Channel)
			case "sunsubscribe":
				if sh.serverUnsubscribed(m.Channel) {
					// The slot moved (or its master became a replica):
					// Redis dropped the subscription by itself.
					b.log.Warn("live: redis dropped a sharded subscription; resubscribing", "shard", sh.tag, "channel", m.Channel)
					b.reloadLayout()
					sh.restart()
				}
			}
		case *redis.Message:
			b.dispatch(m.Channel, m.Payload)
		}
	}
}

// serverUnsubscribed reports whether an unsubscription of full came from
// the server rather than from this broker.
func (sh *redisShard) serverUnsubscribed(full string) bool {
	b := sh.b
	b.mu.Lock()
	defer b.mu.Unlock()
	if sh.unsubs[full] > 0 {
		sh.unsubs[full]--
		if sh.unsubs[full] == 0 {
			delete(sh.unsubs, full)
		}
		return false
	}
	_, wanted := b.channels[full]
	return wanted
}

// restart replaces a subscription connection that stopped answering with a
// new one subscribed to every channel; the confirmations that follow resync
// them all.
func (sh *redisShard) restart() {
	b := sh.b
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return
	}
	old := sh.ps
	sh.ps, sh.ready = sh.newPubSub()
	sh.cmds = nil // whatever was pending, the new connection subscribes all
	clear(sh.unsubs)
	sh.enqueue(redisCmd{subscribe: true})
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
	var pss []*redis.PubSub
	for _, sh := range b.shards {
		if sh.started {
			pss = append(pss, sh.ps)
		}
	}
	close(b.out) // no Publish sends any more: they check closed under b.mu
	b.mu.Unlock()
	select {
	case <-b.pubDone:
	case <-time.After(closeDrain):
	}
	b.cancel()
	<-b.pubDone
	var errs []error
	for _, ps := range pss {
		errs = append(errs, ps.Close())
	}
	b.wg.Wait()
	return errors.Join(errs...)
}

// bucketTags returns, for each bucket, a hash tag whose slot lies in the
// bucket's share of the 16384 slots, so that the buckets are spread evenly
// over the shards.
func bucketTags() []string {
	tags := make([]string, clusterBuckets)
	const slots = 16384
	for k := range clusterBuckets {
		lo, hi := k*slots/clusterBuckets, (k+1)*slots/clusterBuckets
		for i := 0; ; i++ {
			t := "b" + strconv.Itoa(i)
			if s := int(crc16([]byte(t)) % slots); s >= lo && s < hi {
				tags[k] = t
				break
			}
		}
	}
	return tags
}

// crc16 is Redis Cluster's key hash (CRC-16/XMODEM).
func crc16(data []byte) uint16 {
	var crc uint16
	for _, c := range data {
		crc ^= uint16(c) << 8
		for range 8 {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x1021
			} else {
				crc <<= 1
			}
		}
	}
	return crc
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
