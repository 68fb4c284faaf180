// Package minimal is the reference of the fan-out benchmark: the smallest
// broadcast server coder/websocket makes, after its chat example. GET /live
// subscribes (one {"type":"snapshot"} frame, then every message), POST
// /publish sends the body to every subscriber. It knows nothing of queues.
package minimal

import (
	"context"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/coder/websocket"
)

// Server is the broadcast server.
type Server struct {
	mu   sync.Mutex
	subs map[*subscriber]struct{}
}

type subscriber struct {
	msgs      chan []byte
	closeSlow func()
}

// New returns a server with no subscribers.
func New() *Server { return &Server{subs: map[*subscriber]struct{}{}} }

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.URL.Path == "/live" && r.Method == http.MethodGet:
		s.subscribe(w, r)
	case r.URL.Path == "/publish" && r.Method == http.MethodPost:
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
	default:
		http.NotFound(w, r)
	}
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
