package hub

import "sync"

// outbox is a connection's bounded queue of frames waiting to be written.
// State frames (update) conflate: a new one replaces the one still waiting,
// so a client that falls behind skips intermediate states but always ends
// on the newest, and never gets an older state after a newer one. Other
// frames (snapshot, notification, announcement) queue in order; when more
// than max wait, the outbox overflows and the connection is to be closed.
//
// The outbox also hands out the writer slot, so that at most one writer
// runs per connection and none runs while there is nothing to write. The
// slot starts taken: frames queued before the connection is served wait
// for the first writer, which Serve starts.
type outbox struct {
	mu       sync.Mutex
	frames   []*frame
	stateAt  int // index in frames of the waiting state frame, -1 if none
	max      int
	overflow bool
	closed   bool
	writing  bool // the writer slot is taken
}

// callAllowance is the room call frames have beyond max: one advance may
// call 50 tickets, and a board must hear every call (contract v1.1), so a
// burst of calls does not count as a client too slow to keep up.
const callAllowance = 1024

func newOutbox(max int) *outbox {
	return &outbox{stateAt: -1, max: max, writing: true}
}

// push queues f and reports whether the caller must start a writer (the
// slot was free; the caller now holds it). It never blocks.
func (o *outbox) push(f *frame, state bool) (startWriter bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.queue(f, state) && o.claim()
}

// pushAll queues the frames of one fan-out in order, as push does each,
// under one lock: the writer it may start finds them all, and writes them
// at once (corkConn).
func (o *outbox) pushAll(fs []queued) (startWriter bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	queued := false
	for _, q := range fs {
		if o.queue(q.f, q.state) {
			queued = true
		}
	}
	return queued && o.claim()
}

// claimEmpty takes the writer slot when it is free and nothing waits, so
// that the caller may write a fan-out's frames itself, as they are: an
// empty outbox would hand them back unchanged.
func (o *outbox) claimEmpty() bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.overflow || o.closed || len(o.frames) > 0 {
		return false
	}
	return o.claim()
}

// queueAll queues the frames of one fan-out for the writer slot's holder
// (the caller), as pushAll does.
func (o *outbox) queueAll(fs []queued) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, q := range fs {
		o.queue(q.f, q.state)
	}
}

// claimSlot takes the writer slot when it is free, and says so.
func (o *outbox) claimSlot() bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.claim()
}

// queued is a frame to push, and whether it is a state frame.
type queued struct {
	f     *frame
	state bool
}

// queue adds f, conflating a state frame with the one waiting; it reports
// false when the outbox takes no more (closed, or overflowed before). A
// frame that overflows it is taken: the writer must come and see that.
func (o *outbox) queue(f *frame, state bool) bool {
	switch {
	case o.overflow || o.closed:
		return false
	case state && o.stateAt >= 0:
		o.frames[o.stateAt] = f
	case len(o.frames) >= o.max && !(f.call && len(o.frames) < o.max+callAllowance):
		o.overflow = true
		o.frames = nil
	default:
		if state {
			o.stateAt = len(o.frames)
		}
		o.frames = append(o.frames, f)
	}
	return true
}

// claim takes the writer slot when it is free, and says so.
func (o *outbox) claim() bool {
	if o.writing {
		return false
	}
	o.writing = true
	return true
}

// take hands the writer what waits. When nothing does (or the outbox is
// closed), it frees the writer slot and returns no frames: the writer
// stops. overflow reports that the connection is to be closed.
func (o *outbox) take() (batch []*frame, overflow bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.overflow {
		return nil, true
	}
	if o.closed || len(o.frames) == 0 {
		o.writing = false
		return nil, false
	}
	batch = o.frames
	o.frames = nil
	o.stateAt = -1
	return batch, false
}

// close drops what waits and refuses more.
func (o *outbox) close() {
	o.mu.Lock()
	o.closed = true
	o.frames = nil
	o.mu.Unlock()
}
