package hub

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/time/rate"
)

// Streams, as metric labels.
const (
	streamInstitution = "institution"
	streamTicket      = "ticket"
)

// An idle connection costs what it holds while nobody writes to it, times
// the connections a server keeps (tens of thousands). So a served
// connection holds one goroutine, its reader, which the WebSocket needs
// anyway to answer pings and closes. The writer is started when frames
// are queued and ends when the outbox is empty; the ping is a timer; the
// write deadline is kept by one goroutine for the whole hub
// (watchWrites), not a timer per write; and the handler returns once the
// connection is upgraded, which frees its deep stack and net/http's
// per-request buffers.
//
// conn is one live client: its subscription in a room, its outbox and,
// once served, its WebSocket.
type conn struct {
	h        *Hub
	room     *room
	stream   string
	ticketID string // ticket stream only
	addr     string
	out      *outbox
	subAt    int // index in room.subs (institution stream), guarded by room.mu

	finishOnce   sync.Once
	ending       atomic.Bool   // end has started
	ended        chan struct{} // closed when end has finished
	writingSince atomic.Int64  // Unix ns when the batch being written began; 0: none

	ws     atomic.Pointer[websocket.Conn] // set by Serve
	cork   *corkConn                      // the socket under ws, set by Serve before ws
	frames prometheus.Counter             // frames written, of this stream

	mu     sync.Mutex
	gauge  prometheus.Gauge // connected clients, once upgraded
	pinger *time.Timer      // next ping
}

func newConn(h *Hub, r *room, stream, ticketID, addr string) *conn {
	return &conn{h: h, room: r, stream: stream, ticketID: ticketID, addr: addr, out: newOutbox(h.cfg.OutboxSize), subAt: -1,
		ended: make(chan struct{}), frames: h.m.frames.WithLabelValues(stream)}
}

// push queues a frame; called by the room under its lock, never blocks.
// When no writer runs, it writes what waits at once (sendNow).
func (c *conn) push(f *frame, state bool) {
	if c.out.push(f, state) {
		c.sendNow(nil)
	}
}

// pushAll queues the frames of one fan-out, in order, as one batch.
func (c *conn) pushAll(fs []queued) {
	if c.out.pushAll(fs) {
		c.sendNow(nil)
	}
}

// deliver gives the connection the frames of one fan-out (fs, and the
// same frames as frames). When nothing waits for it and no writer runs,
// the caller writes them itself, without queueing them; otherwise they
// queue behind what waits, for the writer that runs.
func (c *conn) deliver(fs []queued, frames []*frame) {
	if !c.out.claimEmpty() {
		c.pushAll(fs)
		return
	}
	// The slot was free, so the connection is served: c.cork is set.
	if c.cork == nil || !c.cork.canTry() {
		c.out.queueAll(fs)
		go c.write(nil)
		return
	}
	c.sendNow(frames)
}

// sendNow writes, as the holder of the writer slot, batch and then what
// the outbox holds, each batch in one non-blocking write, and frees the
// slot when nothing is left. It never waits on the client: what the
// socket does not take is left, with the slot, to a writer goroutine
// (write), which sends it under the hub's write deadline. It may be called
// under the room's lock.
func (c *conn) sendNow(batch []*frame) {
	if c.cork == nil || !c.cork.canTry() {
		go c.write(nil)
		return
	}
	ws := c.socket()
	for {
		if len(batch) == 0 {
			var overflow bool
			batch, overflow = c.out.take()
			if overflow {
				go c.end(closeReason{code: websocket.StatusPolicyViolation, reason: "too slow to keep up", slow: true})
				return
			}
			if len(batch) == 0 {
				c.leftBacklog()
				return
			}
		}
		c.cork.cork()
		var err error
		for _, f := range batch {
			if err = ws.Write(context.Background(), websocket.MessageText, f.data); err != nil {
				break
			}
		}
		all, serr := c.cork.trySend()
		if err == nil {
			err = serr
		}
		if err != nil {
			c.out.close()
			go ws.CloseNow() // the reader ends the connection
			return
		}
		if !all {
			go c.write(batch)
			return
		}
		c.count(batch, time.Now())
		batch = nil
	}
}

// leftBacklog is called by a writer that has just freed the writer slot:
// when a write made meanwhile by another goroutine (a ping, a pong) left a
// backlog, the writer slot is taken again and a writer started for it,
// unless someone took the slot first (who then sends it).
func (c *conn) leftBacklog() {
	if c.cork != nil && c.cork.backlog() && c.out.claimSlot() {
		go c.write(nil)
	}
}

// kick starts a writer for a backlog a write outside a batch left, when
// none runs (corkConn.kick).
func (c *conn) kick() {
	if c.out.claimSlot() {
		go c.write(nil)
	}
}

// count records frames written.
func (c *conn) count(batch []*frame, now time.Time) {
	for _, f := range batch {
		c.frames.Inc()
		if f.at != 0 {
			c.h.m.lag.Observe(now.Sub(time.Unix(0, f.at)).Seconds())
		}
	}
}

// finish unsubscribes the connection and releases what it holds. Safe to
// call more than once.
func (c *conn) finish() {
	c.finishOnce.Do(func() {
		c.out.close()
		c.mu.Lock()
		if c.gauge != nil {
			c.gauge.Dec()
		}
		c.mu.Unlock()
		c.room.detach(c)
		c.h.release(c.room)
		c.h.unadmit(c.addr)
	})
}

// abort drops the connection without a close handshake (shutdown past
// its deadline).
func (c *conn) abort() {
	if ws := c.socket(); ws != nil {
		_ = ws.CloseNow()
	}
}

func (c *conn) socket() *websocket.Conn { return c.ws.Load() }

// Serve upgrades the request to a WebSocket and returns; the stream is
// written until the client goes, falls behind, stops answering pings, or
// the hub closes. The caller has checked the Origin. When the upgrade
// fails, Accept has written the HTTP error. The request's context ends
// when Serve returns; the connection does not depend on it.
func (s *Subscription) Serve(w http.ResponseWriter, r *http.Request) {
	c, h := s.c, s.c.h
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		c.finish()
		http.Error(w, "the server is shutting down", http.StatusServiceUnavailable)
		return
	}
	h.connWG.Add(1)
	h.conns[c] = struct{}{}
	h.mu.Unlock()

	ws, err := websocket.Accept(smallBuffers{w, c}, r, &websocket.AcceptOptions{
		// The Origin was checked against ALLOWED_ORIGINS before the upgrade.
		InsecureSkipVerify: true,
		// Compression would make each connection encode its own copy.
		CompressionMode: websocket.CompressionDisabled,
	})
	if err != nil {
		c.finish()
		c.done()
		return
	}
	if h.afterAccept != nil {
		h.afterAccept()
	}
	ws.SetReadLimit(h.cfg.ReadLimit)
	c.mu.Lock()
	c.gauge = h.m.clients.WithLabelValues(c.stream)
	c.gauge.Inc()
	c.pinger = time.AfterFunc(h.cfg.PingInterval, c.ping)
	c.mu.Unlock()
	// From here on the connection can be ended (end needs the gauge and
	// the ping timer set).
	c.ws.Store(ws)
	go c.read(ws)
	// Frames queued before the upgrade (the snapshot) started no writer:
	// the outbox keeps its writer slot taken until this one.
	go c.write(nil)
	// The hub may have started closing during the upgrade, and then found
	// no socket to say 1001 on: say it now. (Close cancels h.ctx before it
	// looks at the connections, so one of the two sees the other.)
	if h.ctx.Err() != nil {
		go c.goingAway()
		return
	}
	// Likewise for a drain that began during the upgrade.
	h.mu.Lock()
	draining := h.draining
	h.mu.Unlock()
	if draining {
		go c.restart()
	}
}

// done marks a served connection as gone for the hub.
func (c *conn) done() {
	h := c.h
	h.mu.Lock()
	delete(h.conns, c)
	h.mu.Unlock()
	h.connWG.Done()
}

// closeReason is how a connection ends.
type closeReason struct {
	code   websocket.StatusCode // 0: drop without a close handshake
	reason string
	slow   bool
}

// end closes the connection once, whoever notices first: the reader (the
// client went, or broke the inbound limits), the writer (the outbox
// overflowed), a missed pong, or the hub shutting down. Later callers
// return at once; the reader waits for the first to finish.
func (c *conn) end(why closeReason) {
	if !c.ending.CompareAndSwap(false, true) {
		return
	}
	defer close(c.ended)
	if why.slow {
		c.h.m.slow.Inc()
	}
	ws := c.socket()
	c.mu.Lock()
	if c.pinger != nil {
		c.pinger.Stop()
	}
	c.mu.Unlock()
	c.finish() // stop queueing frames while the close handshake runs
	if why.code == 0 {
		_ = ws.CloseNow()
		return
	}
	_ = ws.Close(why.code, why.reason)
}

// read is the connection's one long-lived goroutine. It discards inbound
// messages within the limits (reading is what answers pings and closes)
// and, when reading stops, ends the connection.
func (c *conn) read(ws *websocket.Conn) {
	defer c.done()
	var lim *rate.Limiter // made on the first message: most clients send none
	var why closeReason
	for {
		_, r, err := ws.Reader(context.Background())
		if err != nil {
			// The client closed, the network failed, a message was over
			// the read limit (the library has sent 1009 then), or another
			// goroutine closed the connection.
			break
		}
		if lim == nil {
			lim = rate.NewLimiter(c.h.cfg.InboundRate, c.h.cfg.InboundBurst)
		}
		if !lim.Allow() {
			why = closeReason{code: websocket.StatusPolicyViolation, reason: "too many messages"}
			break
		}
		if _, err := io.Copy(io.Discard, r); err != nil && !errors.Is(err, io.EOF) {
			break
		}
	}
	c.end(why)
	<-c.ended
}

// write sends what the connection's socket did not take yet (the
// backlog), then what the outbox holds until it is empty, blocking on the
// socket under the hub's write deadline. It runs as a goroutine that holds
// the writer slot: at most one writer runs per connection. sent are frames
// in the backlog, counted as written once it is sent.
func (c *conn) write(sent []*frame) {
	ws := c.socket()
	for {
		if c.cork != nil && c.cork.backlog() {
			since := time.Now().UnixNano()
			c.writingSince.Store(since)
			err := c.cork.send()
			c.writingSince.CompareAndSwap(since, 0)
			if err != nil {
				_ = ws.CloseNow() // the reader ends the connection
				c.out.close()
				return
			}
		}
		if sent != nil {
			c.count(sent, time.Now())
			sent = nil
		}
		batch, overflow := c.out.take()
		if overflow {
			c.end(closeReason{code: websocket.StatusPolicyViolation, reason: "too slow to keep up", slow: true})
			return
		}
		if len(batch) == 0 {
			c.leftBacklog()
			return
		}
		// No deadline on the writes' context: the hub's watchWrites
		// closes the connection when the batch takes longer than
		// WriteTimeout.
		c.writingSince.Store(time.Now().UnixNano())
		// Several frames go out in one write (corkConn); so does one
		// frame larger than the write buffer, which the library would
		// otherwise send in two (bufio writes what fills its buffer, then
		// the rest). A single small frame is not corked: it would take a
		// buffer from the pool for nothing.
		if c.cork != nil && (len(batch) > 1 || len(batch[0].data) > wsWriteBuffer-maxFrameHeader) {
			c.cork.cork()
		}
		var err error
		for _, f := range batch {
			if err = ws.Write(context.Background(), websocket.MessageText, f.data); err != nil {
				break
			}
		}
		if c.cork != nil {
			// What was corked, or what an uncorked write left unsent.
			if serr := c.cork.send(); err == nil {
				err = serr
			}
		}
		if err != nil {
			c.writingSince.Store(0)
			_ = ws.CloseNow() // the reader ends the connection
			c.out.close()
			return
		}
		c.count(batch, time.Now())
		c.writingSince.Store(0)
	}
}

// writeTimedOut closes the connection if the batch that began at since is
// still being written: the client stopped reading. A connection already
// ending is left to end (its close handshake has its own timeout).
func (c *conn) writeTimedOut(since int64) {
	if !c.ending.Load() && c.writingSince.CompareAndSwap(since, 0) {
		c.h.m.slow.Inc()
		go c.abort() // CloseNow may wait for the connection's goroutines
	}
}

// ping checks that the client still answers, every PingInterval.
func (c *conn) ping() {
	ws := c.socket()
	if ws == nil { // fired before the socket was stored (a very short PingInterval)
		c.mu.Lock()
		if !c.ending.Load() {
			c.pinger.Reset(c.h.cfg.PingInterval)
		}
		c.mu.Unlock()
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.h.cfg.PongTimeout)
	err := ws.Ping(ctx)
	timedOut := errors.Is(ctx.Err(), context.DeadlineExceeded)
	cancel()
	if err != nil {
		if timedOut && !c.ending.Load() {
			c.end(closeReason{code: websocket.StatusPolicyViolation, reason: "no pong", slow: true})
		}
		return // otherwise the connection is closing already
	}
	c.mu.Lock()
	if !c.ending.Load() {
		c.pinger.Reset(c.h.cfg.PingInterval)
	}
	c.mu.Unlock()
}

// goingAway ends the connection with 1001 (the hub is closing).
func (c *conn) goingAway() {
	if c.socket() == nil {
		return
	}
	c.end(closeReason{code: websocket.StatusGoingAway, reason: "server shutting down"})
}

// Buffer sizes of a served WebSocket. net/http hands a hijacked
// connection a 4 KiB reader and a 4 KiB writer, kept for the connection's
// life. Clients send next to nothing. The library's write buffer only
// stages what is written uncorked: control frames (a ping, a pong, a
// close: a few bytes) and a lone frame that fits it; every data frame
// larger than it, and every batch of several (a fan-out's frames always),
// is corked (corkConn), so it still goes out in one write(2) whatever
// this size. An institution frame is about 700 bytes. Every byte counts
// twice in resident memory: the heap grows to twice what is live before
// the collector runs (GOGC=100).
const (
	wsReadBuffer  = 256
	wsWriteBuffer = 256
	// maxFrameHeader is the longest header of a frame the server sends
	// (unmasked, 64-bit length).
	maxFrameHeader = 10
)

// smallBuffers hands websocket.Accept the hijacked connection with
// smaller buffers. What the client sent after its request (already in
// net/http's reader) is read first.
type smallBuffers struct {
	http.ResponseWriter
	c *conn // gets the corkConn the WebSocket writes through
}

func (w smallBuffers) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	nc, brw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	// The server's read deadline bounded the request; the stream has its
	// own (pings, write deadlines) and must outlive it.
	if err := nc.SetDeadline(time.Time{}); err != nil {
		_ = nc.Close()
		return nil, nil, err
	}
	if err := brw.Writer.Flush(); err != nil {
		_ = nc.Close()
		return nil, nil, err
	}
	cc := newCorkConn(nc)
	cc.kick = w.c.kick
	w.c.cork = cc
	n := brw.Reader.Buffered()
	if n == 0 {
		return cc, bufio.NewReadWriter(bufio.NewReaderSize(nc, wsReadBuffer), bufio.NewWriterSize(cc, wsWriteBuffer)), nil
	}
	// The client wrote past its request (a first frame in the same
	// packet). Accept keeps only what the returned reader has buffered,
	// so the early bytes go into its buffer now.
	early, _ := brw.Reader.Peek(n)
	br := bufio.NewReaderSize(io.MultiReader(bytes.NewReader(bytes.Clone(early)), nc), max(wsReadBuffer, n))
	if _, err := br.Peek(n); err != nil {
		_ = nc.Close()
		return nil, nil, err
	}
	return cc, bufio.NewReadWriter(br, bufio.NewWriterSize(cc, wsWriteBuffer)), nil
}

func (w smallBuffers) Unwrap() http.ResponseWriter { return w.ResponseWriter }
