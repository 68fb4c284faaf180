package queue

import (
	"context"
	"sync"
	"testing"
	"time"
)

// TestOnEventInOrder: an in-order observer gets every event, in the order
// emitted, off the emitter's goroutine; a full queue makes the emitter wait;
// stop hands over what was queued, and later events still reach it, after.
func TestOnEventInOrder(t *testing.T) {
	t.Parallel()
	s := NewService(NewMemoryStore(), Config{})
	var mu sync.Mutex
	var got []int64
	release := make(chan struct{})
	first := make(chan struct{})
	stop := s.OnEventInOrder(func(ev Event) {
		if ev.Institution.Version == 1 {
			close(first)
			<-release // the observer is slow: the emitter must not wait for it
		}
		mu.Lock()
		got = append(got, ev.Institution.Version)
		mu.Unlock()
	})
	s.emit(Event{Institution: Institution{Version: 1}})
	<-first
	emitted := make(chan struct{})
	go func() {
		defer close(emitted)
		for v := int64(2); v <= maxQueued+1; v++ {
			s.emit(Event{Institution: Institution{Version: v}})
		}
	}()
	select {
	case <-emitted:
	case <-time.After(10 * time.Second):
		t.Fatal("emitting a full queue's worth waited for the observer")
	}
	// One more does not fit: its emitter waits for room.
	over := make(chan struct{})
	go func() {
		s.emit(Event{Institution: Institution{Version: maxQueued + 2}})
		close(over)
	}()
	select {
	case <-over:
		t.Fatal("an event past a full queue was taken without waiting")
	case <-time.After(50 * time.Millisecond):
	}
	close(release)
	<-over
	stop(context.Background())
	s.emit(Event{Institution: Institution{Version: maxQueued + 3}}) // after stop: by the emitter
	mu.Lock()
	defer mu.Unlock()
	if len(got) != maxQueued+3 {
		t.Fatalf("observer got %d events, want %d", len(got), maxQueued+3)
	}
	for i, v := range got {
		if v != int64(i+1) {
			t.Fatalf("event %d has version %d: out of order", i, v)
		}
	}
}
