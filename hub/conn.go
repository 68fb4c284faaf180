package hub

import (
	"context"
	"errors"
	"io"
	"net/http"
	"sync"
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

// conn is one live client: its subscription in a room, its outbox and,
// once served, its WebSocket.
type conn struct {
	h        *Hub
	room     *room
	stream   string
	ticketID string // ticket stream only
	addr     string
	out      *outbox

	finishOnce sync.Once
	mu         sync.Mutex
	ws         *websocket.Conn  // set by Serve
	gauge      prometheus.Gauge // connected clients, once upgraded
}

func newConn(h *Hub, r *room, stream, ticketID, addr string) *conn {
	return &conn{h: h, room: r, stream: stream, ticketID: ticketID, addr: addr, out: newOutbox(h.cfg.OutboxSize)}
}

// push queues a frame; called by the room under its lock, never blocks.
func (c *conn) push(f *frame, state bool) { c.out.push(f, state) }

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
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ws != nil {
		_ = c.ws.CloseNow()
	}
}

// Serve upgrades the request to a WebSocket and writes the stream until
// the client goes, falls behind, stops answering pings, or the hub closes.
// The caller has checked the Origin. When the upgrade fails, Accept has
// written the HTTP error.
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
	defer func() {
		h.mu.Lock()
		delete(h.conns, c)
		h.mu.Unlock()
		h.connWG.Done()
	}()
	defer c.finish()

	ws, err := websocket.Accept(w, r, &websocket.AcceptOptions{
		// The Origin was checked against ALLOWED_ORIGINS before the upgrade.
		InsecureSkipVerify: true,
		// Compression would make each connection encode its own copy.
		CompressionMode: websocket.CompressionDisabled,
	})
	if err != nil {
		return
	}
	c.mu.Lock()
	c.ws = ws
	c.gauge = h.m.clients.WithLabelValues(c.stream)
	c.gauge.Inc()
	c.mu.Unlock()
	ws.SetReadLimit(h.cfg.ReadLimit)
	c.run(ws)
}

// closeReason is how the writer ends a connection.
type closeReason struct {
	code   websocket.StatusCode
	reason string
	slow   bool
}

// run is the connection's writer; a second goroutine reads (and so
// answers pings and closes, and notices inbound abuse).
func (c *conn) run(ws *websocket.Conn) {
	h := c.h
	// The reader's context is not the hub's: cancelling a read closes the
	// connection at once, and at shutdown the writer must first send 1001.
	readCtx, stopRead := context.WithCancel(context.Background())
	defer stopRead()
	readDone := make(chan closeReason, 1)
	go c.read(readCtx, ws, readDone)

	pingCtx, stopPing := context.WithCancel(context.Background())
	defer stopPing()
	ping := time.NewTicker(h.cfg.PingInterval)
	defer ping.Stop()
	var pong chan error // non-nil while a ping is out

	frames := h.m.frames.WithLabelValues(c.stream)
	var buf []*frame
	var end closeReason
loop:
	for {
		select {
		case <-h.ctx.Done():
			end = closeReason{code: websocket.StatusGoingAway, reason: "server shutting down"}
			break loop
		case end = <-readDone:
			break loop
		case err := <-pong:
			pong = nil
			if err != nil {
				end = closeReason{code: websocket.StatusPolicyViolation, reason: "no pong", slow: true}
				break loop
			}
		case <-ping.C:
			if pong == nil {
				pong = make(chan error, 1)
				go func(pong chan<- error) {
					ctx, cancel := context.WithTimeout(pingCtx, h.cfg.PongTimeout)
					defer cancel()
					pong <- ws.Ping(ctx)
				}(pong)
			}
		case <-c.out.wake:
			var overflow bool
			buf, overflow = c.out.take(buf)
			if overflow {
				end = closeReason{code: websocket.StatusPolicyViolation, reason: "too slow to keep up", slow: true}
				break loop
			}
			for i, f := range buf {
				ctx, cancel := context.WithTimeout(context.Background(), h.cfg.WriteTimeout)
				err := ws.Write(ctx, websocket.MessageText, f.data)
				cancel()
				buf[i] = nil
				if err != nil {
					if ctx.Err() != nil {
						h.m.slow.Inc() // the write deadline passed: the client stopped reading
					}
					return
				}
				frames.Inc()
				if f.at != 0 {
					h.m.lag.Observe(time.Since(time.Unix(0, f.at)).Seconds())
				}
			}
		}
	}
	if end.slow {
		h.m.slow.Inc()
	}
	if end.code == 0 {
		_ = ws.CloseNow()
		return
	}
	c.finish() // stop queueing frames while the close handshake runs
	_ = ws.Close(end.code, end.reason)
}

// read discards inbound messages within the limits, and reports how the
// connection should end when reading stops.
func (c *conn) read(ctx context.Context, ws *websocket.Conn, done chan<- closeReason) {
	lim := rate.NewLimiter(c.h.cfg.InboundRate, c.h.cfg.InboundBurst)
	for {
		_, r, err := ws.Reader(ctx)
		if err != nil {
			// The client closed, the network failed, or a message was over
			// the read limit (the library has sent 1009 then).
			done <- closeReason{}
			return
		}
		if !lim.Allow() {
			done <- closeReason{code: websocket.StatusPolicyViolation, reason: "too many messages"}
			return
		}
		if _, err := io.Copy(io.Discard, r); err != nil && !errors.Is(err, io.EOF) {
			done <- closeReason{}
			return
		}
	}
}
