package hub

import (
	"context"
	"encoding/json"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/queueless/queueless/queue"
)

// roomHarness drives a hub with hand-delivered events, in any order, to
// check the room's version discipline. The store is the memory one: what is
// under test is the ordering, not the storage.
type roomHarness struct {
	t      *testing.T
	svc    *queue.Service
	hub    *Hub
	mu     sync.Mutex
	events []queue.Event
	frames []*frame
}

func newRoomHarness(t *testing.T) *roomHarness {
	t.Helper()
	store := queue.NewMemoryStore()
	h, err := New(Config{Store: store, Broker: NewMemoryBroker(), GapWait: time.Second, Registerer: prometheus.NewRegistry()})
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

func (rh *roomHarness) join(id int64) queue.Event {
	rh.t.Helper()
	if _, err := rh.svc.Join(context.Background(), id, queue.JoinRequest{}, queue.Meta{}); err != nil {
		rh.t.Fatal(err)
	}
	rh.mu.Lock()
	defer rh.mu.Unlock()
	return rh.events[len(rh.events)-1]
}

// versions returns the institution versions of the frames sub got so far,
// and the announcements.
func (rh *roomHarness) read(sub *Subscription) (versions []int64, anns []string) {
	rh.frames = steal(sub.c.out)
	for _, f := range rh.frames {
		var v struct {
			Type        string             `json:"type"`
			Institution *queue.Institution `json:"institution"`
			Message     string             `json:"message"`
		}
		if err := json.Unmarshal(f.data, &v); err != nil {
			rh.t.Fatal(err)
		}
		if v.Institution != nil {
			versions = append(versions, v.Institution.Version)
		}
		if v.Type == typeAnnouncement {
			anns = append(anns, v.Message)
		}
	}
	return versions, anns
}

func (rh *roomHarness) waitVersion(sub *Subscription, want int64) []int64 {
	rh.t.Helper()
	var all []int64
	deadline := time.Now().Add(5 * time.Second)
	for {
		vs, _ := rh.read(sub)
		all = append(all, vs...)
		if len(all) > 0 && all[len(all)-1] == want {
			return all
		}
		if time.Now().After(deadline) {
			rh.t.Fatalf("versions %v never reached %d", all, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestRoomVersionDiscipline(t *testing.T) {
	t.Parallel()
	rh := newRoomHarness(t)
	inst, err := rh.svc.CreateInstitution(context.Background(), queue.Fields{Name: "Order", Kind: "bank", Status: queue.StatusOpen}, queue.Meta{})
	if err != nil {
		t.Fatal(err)
	}
	sub, err := rh.hub.SubscribeInstitution(context.Background(), inst.ID, "a")
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	if got := rh.waitVersion(sub, 1); len(got) != 1 {
		t.Fatalf("snapshot versions %v, want [1]", got)
	}

	// Out of order within the gap wait: reordered, no reload.
	e2, e3, e4 := rh.join(inst.ID), rh.join(inst.ID), rh.join(inst.ID)
	for _, ev := range []queue.Event{e4, e2, e3} {
		rh.hub.Publish(ev)
	}
	got := rh.waitVersion(sub, 4)
	for i := 1; i < len(got); i++ {
		if got[i] <= got[i-1] {
			t.Errorf("versions %v go back", got)
		}
	}
	if n := sumResyncs(rh.hub); n != 0 {
		t.Errorf("reordering within the gap wait reloaded %v times, want 0", n)
	}

	// A version that never comes: reload from the store, not a guess.
	e5, e6 := rh.join(inst.ID), rh.join(inst.ID)
	rh.hub.Publish(e6)
	rh.waitVersion(sub, 6)
	if n := value(rh.hub.m.resyncs.WithLabelValues("gap")); n != 1 {
		t.Errorf("gap reloads = %v, want 1", n)
	}
	// The late one is stale now and sends nothing. The room applies its
	// inbox in order: once the next event's frame is out, the stale one
	// has been handled, with no sleep to guess when.
	rh.hub.Publish(e5)
	e7 := rh.join(inst.ID)
	rh.hub.Publish(e7)
	if vs := rh.waitVersion(sub, 7); !slices.Equal(vs, []int64{7}) {
		t.Errorf("after the stale event and version 7, versions %v were sent, want [7]", vs)
	}
	if n := value(rh.hub.m.stale); n != 1 {
		t.Errorf("stale events = %v, want 1", n)
	}

	// An announcement carries the current version and is delivered.
	if _, err := rh.svc.Announce(context.Background(), inst.ID, "hello", queue.Meta{}); err != nil {
		t.Fatal(err)
	}
	rh.mu.Lock()
	ann := rh.events[len(rh.events)-1]
	rh.mu.Unlock()
	rh.hub.Publish(ann)
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, anns := rh.read(sub); len(anns) == 1 && anns[0] == "hello" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("announcement never delivered")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func value(c prometheus.Counter) float64 {
	var m dto.Metric
	_ = c.Write(&m)
	return m.GetCounter().GetValue()
}

func sumResyncs(h *Hub) float64 {
	var sum float64
	for _, r := range []string{"gap", "reconnect", "check", "retry"} {
		sum += value(h.m.resyncs.WithLabelValues(r))
	}
	return sum
}

// steal empties an unserved outbox without touching its writer slot (no
// writer may start on a connection that has no socket).
func steal(o *outbox) []*frame {
	o.mu.Lock()
	defer o.mu.Unlock()
	fs := o.frames
	o.frames, o.stateAt = nil, -1
	return fs
}
