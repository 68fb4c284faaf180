package queue

import (
	"context"
	"slices"
	"sync"
)

// OnEventInOrder registers fn like OnEvent, but fn runs on a goroutine of
// its own, given the events in the order they were emitted (the order
// OnEvent's observers get them: commit order per institution), so that the
// goroutine that committed does not wait for it. A batch of joins is
// emitted by the goroutine that then runs the institution's next batch:
// the live stream's encoding of the event (hub.Publish) was 28% of that
// goroutine's CPU at 8,000 joins/s, time every join behind it waited
// (docs/BENCHMARKS.md, "The open-loop join sweep", session 7).
//
// At most maxQueued events wait; an emitter finding the queue full waits
// for room, as it waited for fn before. stop hands fn every event emitted
// before it, waiting at most until ctx ends; an event emitted after stop
// is handed to fn by its emitter, once the goroutine is gone.
func (s *Service) OnEventInOrder(fn func(Event)) (stop func(ctx context.Context)) {
	o := &orderedObserver{fn: fn, done: make(chan struct{})}
	o.wake = sync.NewCond(&o.mu)
	o.room = sync.NewCond(&o.mu)
	go o.run()
	s.OnEvent(o.observe)
	return o.stop
}

const maxQueued = 4096

type orderedObserver struct {
	fn   func(Event)
	done chan struct{} // closed when run returns

	mu         sync.Mutex
	wake, room *sync.Cond
	queue      []Event
	stopped    bool
}

func (o *orderedObserver) observe(ev Event) {
	o.mu.Lock()
	for len(o.queue) >= maxQueued && !o.stopped {
		o.room.Wait()
	}
	if o.stopped {
		o.mu.Unlock()
		<-o.done // after what was queued before
		o.fn(ev)
		return
	}
	// The institution's slices stay the emitter's: it may go on working
	// on them (an estimate fills each line's fields) while fn reads.
	inst := &ev.Institution
	inst.Services, inst.Counters, inst.RecentCalls = slices.Clone(inst.Services), slices.Clone(inst.Counters), slices.Clone(inst.RecentCalls)
	o.queue = append(o.queue, ev)
	o.wake.Signal()
	o.mu.Unlock()
}

func (o *orderedObserver) run() {
	defer close(o.done)
	o.mu.Lock()
	for {
		for len(o.queue) == 0 && !o.stopped {
			o.wake.Wait()
		}
		if len(o.queue) == 0 {
			o.mu.Unlock()
			return
		}
		evs := o.queue
		o.queue = nil
		o.room.Broadcast()
		o.mu.Unlock()
		for i := range evs {
			o.fn(evs[i])
			evs[i] = Event{}
		}
		o.mu.Lock()
	}
}

func (o *orderedObserver) stop(ctx context.Context) {
	o.mu.Lock()
	o.stopped = true
	o.wake.Signal()
	o.room.Broadcast()
	o.mu.Unlock()
	select {
	case <-o.done:
	case <-ctx.Done():
	}
}
