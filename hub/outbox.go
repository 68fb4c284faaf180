package hub

import "sync"

// outbox is a connection's bounded queue of frames waiting to be written.
// State frames (update) conflate: a new one replaces the one still waiting,
// so a client that falls behind skips intermediate states but always ends
// on the newest, and never gets an older state after a newer one. Other
// frames (snapshot, notification, announcement) queue in order; when more
// than max wait, the outbox overflows and the connection is to be closed.
type outbox struct {
	mu       sync.Mutex
	frames   []*frame
	stateAt  int // index in frames of the waiting state frame, -1 if none
	max      int
	overflow bool
	closed   bool
	wake     chan struct{} // has a token when there is something to do
}

func newOutbox(max int) *outbox {
	return &outbox{stateAt: -1, max: max, wake: make(chan struct{}, 1)}
}

// push queues f and reports false when the outbox has overflowed (now or
// before). It never blocks.
func (o *outbox) push(f *frame, state bool) bool {
	o.mu.Lock()
	switch {
	case o.overflow || o.closed:
		o.mu.Unlock()
		return !o.overflow
	case state && o.stateAt >= 0:
		o.frames[o.stateAt] = f
	case len(o.frames) >= o.max:
		o.overflow = true
		o.frames = nil
	default:
		if state {
			o.stateAt = len(o.frames)
		}
		o.frames = append(o.frames, f)
	}
	ok := !o.overflow
	o.mu.Unlock()
	select {
	case o.wake <- struct{}{}:
	default:
	}
	return ok
}

// take moves the waiting frames into buf (reused) and reports whether the
// outbox overflowed.
func (o *outbox) take(buf []*frame) ([]*frame, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	buf = append(buf[:0], o.frames...)
	clear(o.frames)
	o.frames = o.frames[:0]
	o.stateAt = -1
	return buf, o.overflow
}

// close drops what waits and refuses more.
func (o *outbox) close() {
	o.mu.Lock()
	o.closed = true
	o.frames = nil
	o.mu.Unlock()
}
