package chaos

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
)

// stream is one live WebSocket client that reconnects, as the pages do:
// first to the instance it was given, then through nginx. It hands every
// frame to handle, which says whether the frame was the snapshot.
type stream struct {
	reconnects atomic.Int64
	handle     func(msg []byte) (snapshot bool)
}

func (st *stream) run(ctx context.Context, first, again string, ready chan<- struct{}) {
	url := first
	for ctx.Err() == nil {
		dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		ws, _, err := websocket.Dial(dctx, url, nil)
		cancel()
		if err == nil {
			ws.SetReadLimit(1 << 20)
			st.read(ctx, ws, ready)
			ready = nil
			ws.CloseNow()
		}
		if ctx.Err() != nil {
			return
		}
		st.reconnects.Add(1)
		url = again
		select {
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (st *stream) read(ctx context.Context, ws *websocket.Conn, ready chan<- struct{}) {
	for {
		_, msg, err := ws.Read(ctx)
		if err != nil {
			return
		}
		if st.handle(msg) && ready != nil {
			ready <- struct{}{}
			ready = nil
		}
	}
}

// subscriber is a board: an institution stream that keeps the newest
// version.
type subscriber struct {
	stream
	version atomic.Int64
}

func newSubscriber() *subscriber {
	sub := &subscriber{}
	sub.handle = func(msg []byte) bool {
		var f struct {
			Type        string `json:"type"`
			Institution *struct {
				Version int64 `json:"version"`
			} `json:"institution"`
		}
		if json.Unmarshal(msg, &f) != nil || f.Institution == nil {
			return false
		}
		// Frames never go back in version (the hub's promise); a fresh
		// snapshot after a reconnect may repeat one.
		if v := f.Institution.Version; v >= sub.version.Load() {
			sub.version.Store(v)
		}
		return f.Type == "snapshot"
	}
	return sub
}

// ticketState is what a phone shows of its ticket: the fields that change
// as the queue moves (estimates, which follow the clock, left out).
type ticketState struct {
	Status      string `json:"status"`
	PeopleAhead int64  `json:"people_ahead"`
	NowServing  int64  `json:"now_serving"`
}

func (ts ticketState) String() string {
	return fmt.Sprintf("%s, %d ahead, serving %d", ts.Status, ts.PeopleAhead, ts.NowServing)
}

// phone is a citizen's phone page: a ticket stream that keeps the last
// state it was sent. Within a connection frames come in order; a new
// connection starts with a fresh snapshot, so the last frame is what the
// page shows.
type phone struct {
	stream
	ticketID string
	mu       sync.Mutex
	last     ticketState
}

func newPhone(ticketID string) *phone {
	ph := &phone{ticketID: ticketID}
	ph.handle = func(msg []byte) bool {
		var f struct {
			Type   string       `json:"type"`
			Ticket *ticketState `json:"ticket"`
		}
		if json.Unmarshal(msg, &f) != nil || f.Ticket == nil {
			return false
		}
		ph.mu.Lock()
		ph.last = *f.Ticket
		ph.mu.Unlock()
		return f.Type == "snapshot"
	}
	return ph
}

func (ph *phone) state() ticketState {
	ph.mu.Lock()
	defer ph.mu.Unlock()
	return ph.last
}

// startStreams runs every stream, the i-th connected first to instance
// i mod 3 directly (so that every instance has its own), path(i) the
// stream's path; they reconnect through nginx. It returns once each has
// had its snapshot.
func (s *system) startStreams(what string, streams []*stream, path func(i int) string) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	s.t.Cleanup(func() { cancel(); wg.Wait() })
	ready := make(chan struct{}, len(streams))
	for i, st := range streams {
		in := s.instances[i%len(s.instances)]
		p := path(i)
		wg.Add(1)
		go func() {
			defer wg.Done()
			st.run(ctx, "ws"+strings.TrimPrefix(in.URL(), "http")+p, "ws"+strings.TrimPrefix(s.lb, "http")+p, ready)
		}()
	}
	for range streams {
		select {
		case <-ready:
		case <-time.After(30 * time.Second):
			s.t.Fatalf("%s did not get their snapshots within 30s", what)
		}
	}
}

// subscribe starts perInstance boards on each instance.
func (s *system) subscribe(perInstance int) []*subscriber {
	var subs []*subscriber
	var streams []*stream
	for range perInstance * len(s.instances) {
		sub := newSubscriber()
		subs = append(subs, sub)
		streams = append(streams, &sub.stream)
	}
	path := fmt.Sprintf("/api/v1/institutions/%d/live", s.instID)
	s.startStreams("boards", streams, func(int) string { return path })
	return subs
}

// followTickets joins perInstance tickets for each instance (through
// nginx, before any crowd: the first numbers, so that the calls made
// during the faults reach some of them) and starts a phone on each.
func (s *system) followTickets(perInstance int) []*phone {
	var phones []*phone
	var streams []*stream
	for range perInstance * len(s.instances) {
		var tk struct {
			ID string `json:"id"`
		}
		s.call("POST", fmt.Sprintf("/api/v1/institutions/%d/tickets", s.instID), `{}`, &tk)
		ph := newPhone(tk.ID)
		phones = append(phones, ph)
		streams = append(streams, &ph.stream)
	}
	s.startStreams("phones", streams, func(i int) string { return "/api/v1/tickets/" + phones[i].ticketID + "/live" })
	return phones
}

// ticketNow is the ticket's state as the API shows it (from PostgreSQL).
func (s *system) ticketNow(id string) ticketState {
	var ts ticketState
	s.call("GET", "/api/v1/tickets/"+id, "", &ts)
	return ts
}

func (st *stream) count() int64 { return st.reconnects.Load() }
