package hub

import (
	"context"
	"time"

	"github.com/queueless/queueless/queue"
)

// Reading a room's state from the store: the initial load, reloads after a
// gap or a reconnect, and the record of a ticket a phone starts to follow.

// snapshot is state read from the store.
type snapshot struct {
	inst       queue.Institution
	waiters    []queue.Waiter
	tickets    map[string]queue.Ticket
	notes      map[string][]queue.Notification // missed while away, to replay
	consistent bool                            // every read saw the same version
}

// loadAttempts bounds the reads looking for a consistent snapshot.
const loadAttempts = 3

// load reads the institution, its waiting numbers and the followed tickets
// (known lists each followed ticket's last known update time). Every change
// bumps the institution's version, so reads bracketed by two equal versions
// saw exactly that version.
func (r *room) load(ctx context.Context, known map[string]time.Time) (*snapshot, error) {
	st := r.h.store
	for attempt := 1; ; attempt++ {
		first, err := st.Institution(ctx, r.id)
		if err != nil {
			return nil, err
		}
		s := &snapshot{tickets: map[string]queue.Ticket{}}
		if s.waiters, err = st.WaitingPlaces(ctx, r.id); err != nil {
			return nil, err
		}
		for id := range known {
			t, err := st.Ticket(ctx, id)
			if queue.IsNotFound(err) {
				continue
			} else if err != nil {
				return nil, err
			}
			s.tickets[id] = t
		}
		if s.inst, err = st.Institution(ctx, r.id); err != nil {
			return nil, err
		}
		s.consistent = s.inst.Version == first.Version
		if !s.consistent && attempt < loadAttempts {
			continue
		}
		s.inst.Estimate()
		for id, t := range s.tickets {
			since := known[id]
			if !t.UpdatedAt.After(since) {
				continue
			}
			list, err := st.Notifications(ctx, id)
			if err != nil {
				return nil, err
			}
			for _, n := range list {
				if n.CreatedAt.After(since) && !n.CreatedAt.After(t.UpdatedAt) {
					if s.notes == nil {
						s.notes = map[string][]queue.Notification{}
					}
					s.notes[id] = append(s.notes[id], n)
				}
			}
		}
		return s, nil
	}
}

// reload replaces the state with the store's and pushes it to everyone.
func (r *room) reload(ctx context.Context, reason string) {
	r.mu.Lock()
	known := make(map[string]time.Time, len(r.watches))
	for id, w := range r.watches {
		known[id] = w.ticket.UpdatedAt
	}
	r.mu.Unlock()
	snap, err := r.load(ctx, known)
	if err != nil {
		if ctx.Err() == nil {
			r.h.log.Warn("live: reload institution state", "institution_id", r.id, "reason", reason, "error", err.Error())
		}
		r.needReload = true
		r.resetTimer(time.Second)
		return
	}
	r.h.m.resyncs.WithLabelValues(reason).Inc()
	r.needReload = !snap.consistent
	// The calls the boards missed, read back from the audit trail. Only
	// this goroutine sends calls, so lastCall cannot move meanwhile.
	var missed []queue.CallRecord
	if r.lastCall > 0 {
		if missed, err = queue.CallsSince(ctx, r.h.store, r.id, r.lastCall); err != nil {
			r.h.log.Warn("live: read missed calls", "institution_id", r.id, "error", err.Error())
			r.needReload = true
		}
	}
	out := &batch{}
	r.mu.Lock()
	r.addCalls(missed, time.Now().UnixNano(), out)
	r.applySnapshot(snap, out)
	r.drainPending(out)
	d := r.fanOut(out)
	r.mu.Unlock()
	r.send(d)
	if r.needReload {
		r.resetTimer(r.h.cfg.GapWait)
	}
}

func (r *room) resetTimer(d time.Duration) {
	if r.timer != nil {
		r.timer.Stop()
	}
	r.timer = time.NewTimer(d)
}

// check compares the stored version with ours: a room that stays behind
// from one check to the next lost an event nobody noticed (Redis took a
// publish and dropped it, say) and reloads.
func (r *room) check(ctx context.Context) {
	inst, err := r.h.store.Institution(ctx, r.id)
	if err != nil {
		return
	}
	r.mu.Lock()
	ours := r.inst.Version
	r.mu.Unlock()
	if r.checkBehind > ours {
		r.checkBehind = 0
		r.reload(ctx, "check")
		return
	}
	r.checkBehind = 0
	if inst.Version > ours {
		r.checkBehind = inst.Version
	}
}

// applySnapshot replaces the state with one read from the store. It never
// moves the room back to an older version.
func (r *room) applySnapshot(s *snapshot, out *batch) {
	if s.inst.Version < r.inst.Version {
		return
	}
	r.inst = s.inst
	r.snap = nil
	r.waiting.reset(s.waiters)
	queued := map[int64]bool{} // notifications that waiting events will deliver
	for _, ev := range r.pending {
		for _, n := range ev.Notifications {
			queued[n.ID] = true
		}
	}
	for id, t := range s.tickets {
		w := r.watches[id]
		if w == nil {
			continue
		}
		w.ticket = t
		w.ticket.Phone, w.ticket.Deadline = nil, nil
		w.version = s.inst.Version
		for _, n := range s.notes[id] {
			if !queued[n.ID] {
				out.notes = append(out.notes, note{w: w, n: n})
			}
		}
	}
	out.instChanged = true
}

// attachTicket reads the ticket's record at a known version and subscribes
// c to it with a snapshot. A record older than the room's state could miss
// a change the room has already applied, so it is read again; if the room
// keeps running ahead, a reload settles it.
func (r *room) attachTicket(ctx context.Context, c *conn, id string) error {
	for attempt := 1; ; attempt++ {
		rec, version, consistent, err := r.readTicket(ctx, id)
		if err != nil {
			return err
		}
		r.mu.Lock()
		behind := version < r.inst.Version || !consistent
		if behind && attempt < loadAttempts {
			r.mu.Unlock()
			continue
		}
		w := r.watches[id]
		if w == nil {
			w = &watch{ticket: rec, version: version, subs: map[*conn]struct{}{}}
			r.watches[id] = w
		} else if version > w.version {
			w.ticket, w.version = rec, version
		}
		w.ticket.Phone, w.ticket.Deadline = nil, nil
		t := r.decorated(w)
		c.push(&frame{data: ticketFrame(typeSnapshot, &t)}, false)
		r.refresh(w, 0, c) // others following it see the fresher record too
		w.shown = keyOf(&t)
		w.subs[c] = struct{}{}
		r.mu.Unlock()
		if behind {
			r.Resync()
		}
		return nil
	}
}

// readTicket reads a ticket between two reads of its institution's version.
func (r *room) readTicket(ctx context.Context, id string) (queue.Ticket, int64, bool, error) {
	st := r.h.store
	first, err := st.Institution(ctx, r.id)
	if err != nil {
		return queue.Ticket{}, 0, false, err
	}
	t, err := st.Ticket(ctx, id)
	if err != nil {
		return t, 0, false, err
	}
	second, err := st.Institution(ctx, r.id)
	if err != nil {
		return t, 0, false, err
	}
	return t, first.Version, first.Version == second.Version, nil
}
