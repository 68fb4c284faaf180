package hub

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/queueless/queueless/queue"
)

// TestWaitingSet: after random joins, calls, cancels and priority changes
// over two services, every ticket's people_ahead in the hub's waiting set
// is its place in queue's calling order (queue.Order), for every priority
// run and streak.
func TestWaitingSet(t *testing.T) {
	t.Parallel()
	base := time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC)
	for seed := range uint64(30) {
		r := rand.New(rand.NewPCG(seed, 3))
		inst := queue.Institution{PriorityRun: r.IntN(4), Services: []queue.Line{{Code: "A"}, {Code: "B"}}}
		for i := range inst.Services {
			inst.Services[i].Streak = r.IntN(4)
		}
		var w waitingSet
		w.reset(nil)
		live := map[string]queue.Ticket{}
		var number int64
		for step := range 120 {
			switch op := r.IntN(10); {
			case op < 6 || len(live) == 0:
				number++
				tk := queue.Ticket{ID: fmt.Sprint("t", number), Number: number, Status: queue.TicketWaiting,
					Service: []string{"A", "B"}[r.IntN(2)], Place: base.Add(time.Duration(number/3) * time.Second)}
				if r.IntN(3) == 0 {
					p := queue.PrioritySenior
					tk.Priority = &p
				}
				live[tk.ID] = tk
				w.add(waiterOf(&tk, tk.Place))
			case op < 8:
				for id := range live {
					delete(live, id)
					w.remove(id)
					break
				}
			default:
				for id, tk := range live {
					if tk.Priority == nil {
						p := queue.PriorityPWD
						tk.Priority = &p
					} else {
						tk.Priority = nil
					}
					live[id] = tk
					w.add(waiterOf(&tk, tk.Place))
					break
				}
			}
			if w.len() != len(live) {
				t.Fatalf("seed %d step %d: the set holds %d tickets, want %d", seed, step, w.len(), len(live))
			}
			var all []queue.Ticket
			for i := range inst.Services {
				inst.Services[i].WaitingCount, inst.Services[i].WaitingPriority = 0, 0
			}
			for _, tk := range live {
				all = append(all, tk)
				for i := range inst.Services {
					if l := &inst.Services[i]; l.Code == tk.Service {
						l.WaitingCount++
						if tk.Priority != nil {
							l.WaitingPriority++
						}
					}
				}
			}
			o := queue.NewOrder(&inst, all)
			for _, code := range []string{"A", "B"} {
				for i, tk := range o.Front(code, len(all)) {
					if got := w.ahead(tk.ID, &inst); got != int64(i) {
						t.Fatalf("seed %d step %d (run %d): ticket %d of %s has %d ahead in the hub, %d in queue's order", seed, step, inst.PriorityRun, tk.Number, code, got, i)
					}
				}
			}
		}
	}
}

func TestOutboxConflatesStateFrames(t *testing.T) {
	t.Parallel()
	o := newOutbox(3)
	snap := &frame{data: []byte("snapshot")}
	v1, v2, v3 := &frame{data: []byte("v1")}, &frame{data: []byte("v2")}, &frame{data: []byte("v3")}
	ann := &frame{data: []byte("announcement")}
	for _, p := range []struct {
		f     *frame
		state bool
	}{{snap, false}, {v1, true}, {ann, false}, {v2, true}, {v3, true}} {
		if o.push(p.f, p.state) {
			t.Fatalf("push %s before the connection is served asks for a writer", p.f.data)
		}
	}
	got, overflow := o.take()
	if overflow {
		t.Fatal("take reports overflow")
	}
	// The snapshot stays first; the newest state replaces the waiting one,
	// never after it.
	want := []*frame{snap, v3, ann}
	if !slices.Equal(got, want) {
		t.Errorf("frames = %q, want %q", names(got), names(want))
	}
	o.push(v1, true)
	if got, _ := o.take(); !slices.Equal(got, []*frame{v1}) {
		t.Errorf("after take, frames = %q, want [v1]", names(got))
	}
}

// TestOutboxWriterSlot: one writer at a time, started by the first push
// after the last writer found the outbox empty.
func TestOutboxWriterSlot(t *testing.T) {
	t.Parallel()
	o := newOutbox(4)
	a := &frame{data: []byte("a")}
	if o.push(a, false) {
		t.Fatal("the slot is free before the connection is served")
	}
	// The first writer (Serve's) takes what waits, then finds nothing.
	if got, _ := o.take(); len(got) != 1 {
		t.Fatalf("took %d frames, want 1", len(got))
	}
	if got, _ := o.take(); got != nil {
		t.Fatalf("took %q from an empty outbox", names(got))
	}
	if !o.push(a, false) {
		t.Fatal("push to an idle outbox does not ask for a writer")
	}
	if o.push(a, false) {
		t.Fatal("a second writer was asked for while one holds the slot")
	}
	if got, _ := o.take(); len(got) != 2 {
		t.Fatalf("took %d frames, want 2", len(got))
	}
	o.close()
	if got, _ := o.take(); got != nil {
		t.Fatal("take from a closed outbox returned frames")
	}
	if o.push(a, false) {
		t.Fatal("push to a closed outbox asks for a writer")
	}
}

func TestOutboxOverflow(t *testing.T) {
	t.Parallel()
	o := newOutbox(2)
	a := &frame{data: []byte("a")}
	o.push(a, false)
	o.push(a, false)
	// The bound counts every waiting frame, a state frame included.
	o.push(&frame{data: []byte("state")}, true)
	if _, overflow := o.take(); !overflow {
		t.Error("a third frame in an outbox of 2 does not overflow it")
	}
	if o.push(a, false) {
		t.Error("push after overflow asks for a writer")
	}
	if got, overflow := o.take(); !overflow || got != nil {
		t.Error("the overflow does not stay")
	}
}

// TestOutboxPushAllOneBatch: the frames of one fan-out (the calls, then the
// update) land in the outbox together, so that the one writer they start
// takes them as one batch, in order, and writes them at once.
func TestOutboxPushAllOneBatch(t *testing.T) {
	t.Parallel()
	o := newOutbox(4)
	o.take() // served: the first writer found nothing
	call1, call2 := &frame{data: []byte("call1"), call: true}, &frame{data: []byte("call2"), call: true}
	v1, v2 := &frame{data: []byte("v1")}, &frame{data: []byte("v2")}
	if !o.pushAll([]queued{{f: call1}, {f: v1, state: true}}) {
		t.Fatal("pushAll to an idle outbox does not ask for a writer")
	}
	// A second fan-out before the writer came: no second writer, and its
	// update replaces the waiting one, ahead of its own call.
	if o.pushAll([]queued{{f: call2}, {f: v2, state: true}}) {
		t.Fatal("a second writer was asked for while one holds the slot")
	}
	got, overflow := o.take()
	if overflow {
		t.Fatal("take reports overflow")
	}
	if want := []*frame{call1, v2, call2}; !slices.Equal(got, want) {
		t.Errorf("frames = %q, want %q", names(got), names(want))
	}
}

// TestOutboxPushAllOverflow: a fan-out that overflows an idle outbox still
// starts a writer, which finds the overflow and ends the connection; a
// closed or overflowed outbox takes nothing and starts none.
func TestOutboxPushAllOverflow(t *testing.T) {
	t.Parallel()
	o := newOutbox(1)
	o.take()
	a, b := &frame{data: []byte("a")}, &frame{data: []byte("b")}
	if !o.pushAll([]queued{{f: a}, {f: b}}) {
		t.Fatal("the overflowing pushAll does not ask for the writer that must see it")
	}
	if _, overflow := o.take(); !overflow {
		t.Fatal("two frames in an outbox of 1 do not overflow it")
	}
	if o.pushAll([]queued{{f: a}}) {
		t.Error("pushAll after overflow asks for a writer")
	}
	c := newOutbox(4)
	c.take()
	c.close()
	if c.pushAll([]queued{{f: a}, {f: b, state: true}}) {
		t.Error("pushAll to a closed outbox asks for a writer")
	}
}

func names(fs []*frame) []string {
	out := make([]string, len(fs))
	for i, f := range fs {
		out[i] = string(f.data)
	}
	return out
}
