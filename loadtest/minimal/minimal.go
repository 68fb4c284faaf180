// Package minimal holds the reference servers of the benchmarks: the least
// a Go server must do for the same traffic, measured beside QueueLess. It
// knows nothing of queues, PostgreSQL or Redis, and imports no server code.
//
// GET /live subscribes to the broadcast (one {"type":"snapshot"} frame,
// then every message) and POST /publish sends the body to every
// subscriber: the smallest broadcast server coder/websocket makes, after
// its chat example (the fan-out reference). POST
// /api/v1/institutions/{id}/tickets answers 201 with a ticket-shaped body
// (the hot join reference, join.go).
package minimal

import (
	"context"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/coder/websocket"
)

// Server is the reference server: broadcast and joins.
type Server struct {
	mux *http.ServeMux

	mu   sync.Mutex
	subs map[*subscriber]struct{}

	joins *joins
}

type subscriber struct {
	msgs      chan []byte
	closeSlow func()
}

// New returns a server with no subscribers and no tickets issued.
func New() *Server {
	s := &Server{mux: http.NewServeMux(), subs: map[*subscriber]struct{}{}, joins: newJoins()}
	s.mux.HandleFunc("GET /live", s.subscribe)
	s.mux.HandleFunc("POST /publish", s.publish)
	s.mux.HandleFunc("POST /api/v1/institutions/{id}/tickets", s.joins.join)
	return s
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

func (s *Server) publish(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 64<<10))
	if err != nil {
		http.Error(w, err.Error(), http.StatusRequestEntityTooLarge)
		return
	}
	s.mu.Lock()
	for sub := range s.subs {
		select {
		case sub.msgs <- body:
		default:
			go sub.closeSlow()
		}
	}
	s.mu.Unlock()
	w.WriteHeader(http.StatusAccepted)
}

func (s *Server) subscribe(w http.ResponseWriter, r *http.Request) {
	c, err := websocket.Accept(w, r, &websocket.AcceptOptions{CompressionMode: websocket.CompressionDisabled})
	if err != nil {
		return
	}
	defer c.CloseNow()
	ctx := c.CloseRead(context.Background())
	sub := &subscriber{msgs: make(chan []byte, 16), closeSlow: func() {
		c.Close(websocket.StatusPolicyViolation, "connection too slow to keep up with messages")
	}}
	s.mu.Lock()
	s.subs[sub] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.subs, sub)
		s.mu.Unlock()
	}()
	msg := []byte(`{"type":"snapshot"}`)
	for {
		wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err := c.Write(wctx, websocket.MessageText, msg)
		cancel()
		if err != nil {
			return
		}
		select {
		case msg = <-sub.msgs:
		case <-ctx.Done():
			return
		}
	}
}
