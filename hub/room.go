package hub

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"time"

	"github.com/queueless/queueless/queue"
)

// room is one institution followed by local clients: the last state, the
// waiting numbers, the followed tickets, and the connections. Events arrive
// from the broker into the inbox; the room's goroutine applies them in
// version order and fans the frames out, each encoded once.
type room struct {
	h  *Hub
	id int64

	ready chan struct{} // closed once loaded; err tells whether it failed
	err   error
	stop  chan struct{} // closed by the hub when the last subscriber left
	refs  int           // guarded by h.mu

	inMu   sync.Mutex
	inbox  [][]byte
	resync bool
	signal chan struct{}

	mu      sync.Mutex
	inst    queue.Institution
	waiting waitingSet
	subs    []*conn // the institution stream's subscribers (conn.subAt: index)
	watches map[string]*watch
	snap    *frame // snapshot frame of inst, built on demand

	// Owned by the room's goroutine.
	pending     map[int64]*wireEvent // events that came before their predecessors
	timer       *time.Timer          // gap wait, or retry of a failed reload
	needReload  bool
	checkBehind int64 // store version seen ahead of ours at the last check
	// lastCall is the audit event id of the newest call sent to the boards
	// (0 before the first): a reload sends the calls after it, which the
	// boards missed, and events never send a call twice.
	lastCall    int64
	unsubscribe func()
	sendList    []*conn // scratch: the subscribers of the fan-out being sent
}

// watch is a followed ticket: its record as of version, and what its
// subscribers were last shown.
type watch struct {
	ticket  queue.Ticket
	version int64
	subs    map[*conn]struct{}
	shown   ticketKey
}

// ticketKey is what makes a ticket frame differ from the last one sent.
type ticketKey struct {
	status     queue.TicketStatus
	ahead      int64
	nowServing int64
	estimate   int64 // -1: unknown
	rangeLow   int64 // -1: unknown
	rangeHigh  int64
	updatedAt  time.Time
}

func keyOf(t *queue.Ticket) ticketKey {
	k := ticketKey{status: t.Status, ahead: t.PeopleAhead, nowServing: t.NowServing, estimate: -1, rangeLow: -1, updatedAt: t.UpdatedAt}
	if t.EstimatedWaitSeconds != nil {
		k.estimate = *t.EstimatedWaitSeconds
	}
	if r := t.EstimatedWaitRange; r != nil {
		k.rangeLow, k.rangeHigh = r[0], r[1]
	}
	return k
}

func newRoom(h *Hub, id int64) *room {
	return &room{
		h: h, id: id,
		ready:   make(chan struct{}),
		stop:    make(chan struct{}),
		signal:  make(chan struct{}, 1),
		watches: map[string]*watch{},
		pending: map[int64]*wireEvent{},
	}
}

// Deliver implements Handler: it queues the event for the room's goroutine.
// A room that falls far behind drops its inbox and reloads instead.
func (r *room) Deliver(payload []byte) {
	r.inMu.Lock()
	if len(r.inbox) >= r.h.cfg.InboxSize {
		r.inbox = nil
		r.resync = true
	} else {
		r.inbox = append(r.inbox, payload)
	}
	r.inMu.Unlock()
	r.poke()
}

// Resync implements Handler.
func (r *room) Resync() {
	r.inMu.Lock()
	r.resync = true
	r.inMu.Unlock()
	r.poke()
}

func (r *room) poke() {
	select {
	case r.signal <- struct{}{}:
	default:
	}
}

func (r *room) takeInbox() ([][]byte, bool) {
	r.inMu.Lock()
	defer r.inMu.Unlock()
	msgs, resync := r.inbox, r.resync
	r.inbox, r.resync = nil, false
	return msgs, resync
}

// run subscribes, loads and then applies events until the hub stops the room.
func (r *room) run() {
	defer r.h.roomWG.Done()
	ctx := r.h.ctx
	if err := r.start(ctx); err != nil {
		r.err = err
		close(r.ready)
		<-r.stop
		return
	}
	close(r.ready)
	defer r.unsubscribe()
	check := time.NewTicker(r.h.cfg.CheckInterval)
	defer check.Stop()
	for {
		var timerC <-chan time.Time
		if r.timer != nil {
			timerC = r.timer.C
		}
		select {
		case <-r.stop:
			if r.timer != nil {
				r.timer.Stop()
			}
			return
		case <-r.signal:
			msgs, resync := r.takeInbox()
			if resync {
				r.reload(ctx, "reconnect")
			}
			r.process(msgs)
		case <-timerC:
			r.timer = nil
			if len(r.pending) > 0 {
				r.reload(ctx, "gap")
			} else if r.needReload {
				r.reload(ctx, "retry")
			}
		case <-check.C:
			r.check(ctx)
		}
	}
}

const subscribeTimeout = 10 * time.Second

func (r *room) start(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, subscribeTimeout)
	defer cancel()
	unsub, err := r.h.broker.Subscribe(ctx, channelName(r.id), r)
	if err != nil {
		return errors.Join(queue.ErrUnavailable, err)
	}
	snap, err := r.load(ctx, nil)
	if err != nil {
		unsub()
		return err
	}
	r.unsubscribe = unsub
	r.mu.Lock()
	r.applySnapshot(snap, &batch{})
	r.mu.Unlock()
	if !snap.consistent {
		r.needReload = true
		r.timer = time.NewTimer(r.h.cfg.GapWait)
	}
	return nil
}

// batch collects what a run of events changed, to fan out once.
type batch struct {
	instChanged bool
	at          int64 // newest publish time among the events
	notes       []note
	anns        []*queue.Announcement
	annAt       []int64
	calls       []*frame
}

type note struct {
	w *watch
	n queue.Notification
}

// process applies queued events in version order and fans out the result.
func (r *room) process(msgs [][]byte) {
	if len(msgs) == 0 {
		return
	}
	out := &batch{}
	r.mu.Lock()
	for _, m := range msgs {
		ev, err := decodeEvent(m)
		if err != nil {
			r.h.log.Warn("live: drop undecodable event", "institution_id", r.id, "error", err.Error())
			continue
		}
		r.apply(&ev, out)
	}
	d := r.fanOut(out)
	r.mu.Unlock()
	r.send(d)
	switch {
	case len(r.pending) > 0 && r.timer == nil:
		r.timer = time.NewTimer(r.h.cfg.GapWait)
	case len(r.pending) == 0 && r.timer != nil && !r.needReload:
		r.timer.Stop()
		r.timer = nil
	}
}

// apply takes one event: the next version is applied, a later one waits
// for the ones before it (GapWait, then a reload), an older one is stale.
// Announcements carry the current version and are delivered regardless.
func (r *room) apply(ev *wireEvent, out *batch) {
	if ev.announcementOnly() {
		out.anns = append(out.anns, ev.Announcement)
		out.annAt = append(out.annAt, ev.PublishedAt)
		return
	}
	v := ev.Institution.Version
	switch {
	case v <= r.inst.Version:
		r.h.m.stale.Inc()
	case v > r.inst.Version+1:
		r.pending[v] = ev
	default:
		r.applyState(ev, out)
		r.drainPending(out)
	}
}

// drainPending applies waiting events that now follow on, and forgets the
// ones the state has passed.
func (r *room) drainPending(out *batch) {
	for {
		next, ok := r.pending[r.inst.Version+1]
		if !ok {
			break
		}
		delete(r.pending, next.Institution.Version)
		r.applyState(next, out)
	}
	for v := range r.pending {
		if v <= r.inst.Version {
			delete(r.pending, v)
		}
	}
}

func (r *room) applyState(ev *wireEvent, out *batch) {
	r.inst = ev.Institution
	r.snap = nil
	v := r.inst.Version
	for i := range ev.Transitions {
		t := &ev.Transitions[i]
		switch {
		case t.Ticket.Status.Waiting():
			// A join, or a ticket notified, maybe with a new priority.
			r.waiting.add(waiterOf(&t.Ticket, t.Ticket.Place))
		case t.From.Waiting():
			r.waiting.remove(t.Ticket.ID)
		}
		r.record(&t.Ticket, v)
	}
	for i := range ev.Updated {
		if t := &ev.Updated[i]; t.Status.Waiting() {
			r.waiting.add(waiterOf(t, t.Place)) // a priority change moves it
		}
		r.record(&ev.Updated[i], v)
	}
	r.addCalls(ev.Calls, ev.PublishedAt, out)
	for _, n := range ev.Notifications {
		if w := r.watches[n.TicketID]; w != nil {
			out.notes = append(out.notes, note{w: w, n: n})
		}
	}
	if ev.Announcement != nil {
		out.anns = append(out.anns, ev.Announcement)
		out.annAt = append(out.annAt, ev.PublishedAt)
	}
	out.instChanged = true
	out.at = max(out.at, ev.PublishedAt)
}

// addCalls queues the call frames of calls not sent yet.
func (r *room) addCalls(calls []queue.CallRecord, at int64, out *batch) {
	for i := range calls {
		c := &calls[i]
		if c.EventID != 0 && c.EventID <= r.lastCall {
			continue // already sent, from a reload
		}
		r.lastCall = max(r.lastCall, c.EventID)
		out.calls = append(out.calls, &frame{data: callFrame(c), at: at, call: true})
	}
}

// record keeps a followed ticket's record as of version v.
func (r *room) record(t *queue.Ticket, v int64) {
	if w := r.watches[t.ID]; w != nil && v > w.version {
		w.ticket = *t
		w.ticket.Phone, w.ticket.Deadline = nil, nil
		w.version = v
	}
}

// decorated is a followed ticket as the API would show it now.
func (r *room) decorated(w *watch) queue.Ticket {
	t := w.ticket
	var ahead int64
	if t.Status.Waiting() {
		ahead = r.waiting.ahead(t.ID, &r.inst)
	}
	queue.Decorate(&t, &r.inst, ahead)
	return t
}

// fanOut sends what changed: one institution frame for all its
// subscribers, one frame per followed ticket whose view changed, then
// notifications and announcements. The institution's subscribers' part is
// returned, for send once the room's lock is released (see delivery).
//
// The institution's subscribers get their frames (the calls, the update,
// the announcements) connection by connection, all at once: pushed frame
// by frame, a connection's writer would start on the first and write each
// frame on its own, a write(2) per frame per subscriber instead of one.
func (r *room) fanOut(out *batch) *delivery {
	anns := make([]*frame, len(out.anns))
	for i, a := range out.anns {
		anns[i] = &frame{data: announcementFrame(a), at: out.annAt[i]}
	}
	var d *delivery
	if len(r.subs) > 0 {
		var fs []queued
		for _, f := range out.calls {
			fs = append(fs, queued{f: f})
		}
		if out.instChanged {
			fs = append(fs, queued{f: &frame{data: institutionFrame(typeUpdate, &r.inst), at: out.at}, state: true})
		}
		for _, f := range anns {
			fs = append(fs, queued{f: f})
		}
		if len(fs) > 0 {
			frames := make([]*frame, len(fs))
			for i, q := range fs {
				frames[i] = q.f
			}
			r.sendList = append(r.sendList[:0], r.subs...)
			d = &delivery{fs: fs, frames: frames, conns: r.sendList}
		}
	}
	if out.instChanged {
		for _, w := range r.watches {
			r.refresh(w, out.at, nil)
		}
	}
	for _, n := range out.notes {
		f := &frame{data: notificationFrame(&n.n), at: out.at}
		for c := range n.w.subs {
			c.push(f, false)
		}
	}
	for _, f := range anns {
		for _, w := range r.watches {
			for c := range w.subs {
				c.push(f, false)
			}
		}
	}
	return d
}

// delivery is the institution subscribers' part of a fan-out: the frames
// each gets, and who. It is sent outside the room's lock, so that new
// subscribers are not kept waiting while it is written: one that attaches
// meanwhile is not in conns, and its snapshot already holds the new state.
// Only the room's goroutine sends, one delivery after the other, so a
// connection gets the frames of successive fan-outs in order.
type delivery struct {
	fs     []queued
	frames []*frame // fs's frames
	conns  []*conn
}

// sendShard is the fewest subscribers a fan-out gives each goroutine
// writing it.
const sendShard = 256

// send writes a delivery. Each subscriber's frames are written at once by
// the goroutine that reaches it (conn.deliver: a non-blocking write, with
// what the socket does not take left to that connection's writer), and the
// subscribers are shared out among up to GOMAXPROCS goroutines, this one
// among them, so that the fan-out is spread over the CPUs without starting
// a goroutine per connection.
func (r *room) send(d *delivery) {
	if d == nil {
		return
	}
	defer clear(d.conns) // the scratch list keeps no connection alive
	n := len(d.conns)
	workers := min(runtime.GOMAXPROCS(0), n/sendShard)
	if workers <= 1 {
		d.sendTo(d.conns)
		return
	}
	per := (n + workers - 1) / workers
	var wg sync.WaitGroup
	for lo := per; lo < n; lo += per {
		part := d.conns[lo:min(lo+per, n)]
		wg.Go(func() { d.sendTo(part) })
	}
	d.sendTo(d.conns[:per])
	wg.Wait()
}

func (d *delivery) sendTo(conns []*conn) {
	for _, c := range conns {
		c.deliver(d.fs, d.frames)
	}
}

// refresh sends w's subscribers (but skip) an update when their view of
// the ticket changed.
func (r *room) refresh(w *watch, at int64, skip *conn) {
	t := r.decorated(w)
	k := keyOf(&t)
	if k == w.shown {
		return
	}
	w.shown = k
	f := &frame{data: ticketFrame(typeUpdate, &t), at: at}
	for c := range w.subs {
		if c != skip {
			c.push(f, true)
		}
	}
}

// attachInstitution queues the snapshot for c and subscribes it, at once,
// so that c misses nothing between them.
func (r *room) attachInstitution(c *conn) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.snap == nil {
		r.snap = &frame{data: institutionFrame(typeSnapshot, &r.inst)}
	}
	c.push(r.snap, false)
	c.subAt = len(r.subs)
	r.subs = append(r.subs, c)
}

// detach unsubscribes c.
func (r *room) detach(c *conn) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if c.ticketID == "" {
		if i := c.subAt; i >= 0 && i < len(r.subs) && r.subs[i] == c {
			last := len(r.subs) - 1
			r.subs[i] = r.subs[last]
			r.subs[i].subAt = i
			r.subs[last] = nil
			r.subs = r.subs[:last]
			c.subAt = -1
		}
		return
	}
	if w := r.watches[c.ticketID]; w != nil {
		delete(w.subs, c)
		if len(w.subs) == 0 {
			delete(r.watches, c.ticketID)
		}
	}
}
