package hub

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/queueless/queueless/queue"
)

// blockingStore holds the next Institution read, once armed, until the
// test releases it: a room caught in a reload, for as long as the test
// needs.
type blockingStore struct {
	queue.Store
	armed   atomic.Bool
	entered chan struct{}
	release chan struct{}
}

func (s *blockingStore) Institution(ctx context.Context, id int64) (queue.Institution, error) {
	if s.armed.CompareAndSwap(true, false) {
		s.entered <- struct{}{}
		<-s.release
	}
	return s.Store.Institution(ctx, id)
}

// newHarnessWith is newRoomHarness over store, with tune applied to the
// hub's config.
func newHarnessWith(t *testing.T, store queue.Store, tune func(*Config)) *roomHarness {
	t.Helper()
	cfg := Config{Store: store, Broker: NewMemoryBroker(), GapWait: time.Second, Registerer: prometheus.NewRegistry()}
	tune(&cfg)
	h, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close(context.Background()) })
	rh := &roomHarness{t: t, svc: queue.NewService(store, queue.Config{}), hub: h}
	rh.svc.OnEvent(func(ev queue.Event) {
		rh.mu.Lock()
		defer rh.mu.Unlock()
		rh.events = append(rh.events, ev)
	})
	return rh
}

func (rh *roomHarness) open() (queue.Institution, *Subscription) {
	rh.t.Helper()
	inst, err := rh.svc.CreateInstitution(context.Background(), queue.Fields{Name: "Resync", Kind: "bank", Status: queue.StatusOpen}, queue.Meta{})
	if err != nil {
		rh.t.Fatal(err)
	}
	sub, err := rh.hub.SubscribeInstitution(context.Background(), inst.ID, "a")
	if err != nil {
		rh.t.Fatal(err)
	}
	rh.t.Cleanup(sub.Close)
	rh.waitVersion(sub, 1)
	return inst, sub
}

// TestRoomPeriodicCheckReloads: an event lost without any sign (Redis took
// the publish and dropped it: here it is never published) leaves the room
// behind the store; the periodic version check notices, once the room has
// stayed behind from one check to the next, and reloads.
func TestRoomPeriodicCheckReloads(t *testing.T) {
	t.Parallel()
	rh := newHarnessWith(t, queue.NewMemoryStore(), func(c *Config) { c.CheckInterval = 20 * time.Millisecond })
	inst, sub := rh.open()
	rh.join(inst.ID) // version 2, committed, never published
	rh.waitVersion(sub, 2)
	if n := value(rh.hub.m.resyncs.WithLabelValues("check")); n != 1 {
		t.Errorf("check reloads = %v, want 1", n)
	}
	if n := sumResyncs(rh.hub); n != 1 {
		t.Errorf("reloads = %v, want only the check's", n)
	}
}

// TestRoomInboxOverflowReloads: a room that falls further behind than its
// inbox holds drops the events and reloads instead. The room is held in a
// reload (its store read blocks) while ten events arrive for an inbox of
// three; once released it must reload again for the events it dropped.
func TestRoomInboxOverflowReloads(t *testing.T) {
	t.Parallel()
	store := &blockingStore{Store: queue.NewMemoryStore(), entered: make(chan struct{}), release: make(chan struct{})}
	rh := newHarnessWith(t, store, func(c *Config) { c.InboxSize = 3 })
	inst, sub := rh.open()
	var events []queue.Event
	for range 10 {
		events = append(events, rh.join(inst.ID)) // versions 2..11, not yet published
	}
	store.armed.Store(true)
	sub.c.room.Resync() // one reload, which blocks in the store
	select {
	case <-store.entered:
	case <-time.After(5 * time.Second):
		t.Fatal("the room did not start its reload")
	}
	for _, ev := range events {
		rh.hub.Publish(ev) // delivered synchronously into the held room's inbox
	}
	sub.c.room.inMu.Lock()
	overflowed := sub.c.room.resync
	sub.c.room.inMu.Unlock()
	close(store.release)
	got := rh.waitVersion(sub, 11)
	for i := 1; i < len(got); i++ {
		if got[i] <= got[i-1] {
			t.Errorf("versions %v go back", got)
		}
	}
	if !overflowed {
		t.Error("ten events into an inbox of three left no reload pending")
	}
	// The reload the test asked for, and the one for the dropped events.
	if n := value(rh.hub.m.resyncs.WithLabelValues("reconnect")); n != 2 {
		t.Errorf("reloads after the overflow = %v, want 2 (the test's, then the overflow's)", n)
	}
	if n := value(rh.hub.m.resyncs.WithLabelValues("gap")); n != 0 {
		t.Errorf("gap reloads = %v, want 0: the overflow's reload came first", n)
	}
}
