package hub

import (
	"slices"
	"testing"
)

func TestWaitingSet(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		start  []int64
		add    []int64
		remove []int64
		want   []int64
		rank   int64 // numbers before 10
	}{
		{name: "empty", want: []int64{}, rank: 0},
		{name: "reset sorts and dedupes", start: []int64{9, 3, 3, 12}, want: []int64{3, 9, 12}, rank: 2},
		{name: "joins append", start: []int64{1, 2}, add: []int64{3, 4}, want: []int64{1, 2, 3, 4}, rank: 4},
		{name: "add in the middle and twice", start: []int64{1, 5}, add: []int64{3, 3}, want: []int64{1, 3, 5}, rank: 3},
		{name: "calls remove from the front", start: []int64{1, 2, 3, 11}, remove: []int64{1, 2}, want: []int64{3, 11}, rank: 1},
		{name: "cancel in the middle, absent number", start: []int64{4, 8, 15}, remove: []int64{8, 99}, want: []int64{4, 15}, rank: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var w waitingSet
			w.reset(tt.start)
			for _, n := range tt.add {
				w.add(n)
			}
			for _, n := range tt.remove {
				w.remove(n)
			}
			if got := w.nums; !slices.Equal(got, tt.want) && !(len(got) == 0 && len(tt.want) == 0) {
				t.Errorf("numbers = %v, want %v", got, tt.want)
			}
			if got := w.before(10); got != tt.rank {
				t.Errorf("before(10) = %d, want %d", got, tt.rank)
			}
		})
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

func names(fs []*frame) []string {
	out := make([]string, len(fs))
	for i, f := range fs {
		out[i] = string(f.data)
	}
	return out
}
