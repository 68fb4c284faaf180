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
		if !o.push(p.f, p.state) {
			t.Fatalf("push %s overflowed", p.f.data)
		}
	}
	got, overflow := o.take(nil)
	if overflow {
		t.Fatal("take reports overflow")
	}
	// The snapshot stays first; the newest state replaces the waiting one,
	// never after it.
	want := []*frame{snap, v3, ann}
	if !slices.Equal(got, want) {
		t.Errorf("frames = %q, want %q", names(got), names(want))
	}
	if !o.push(v1, true) {
		t.Fatal("push after take overflowed")
	}
	if got, _ := o.take(nil); !slices.Equal(got, []*frame{v1}) {
		t.Errorf("after take, frames = %q, want [v1]", names(got))
	}
}

func TestOutboxOverflow(t *testing.T) {
	t.Parallel()
	o := newOutbox(2)
	a := &frame{data: []byte("a")}
	if !o.push(a, false) || !o.push(a, false) {
		t.Fatal("push within the bound overflowed")
	}
	// The bound counts every waiting frame, a state frame included.
	if o.push(&frame{data: []byte("state")}, true) {
		t.Fatal("third frame in an outbox of 2 did not overflow")
	}
	if o.push(a, false) {
		t.Error("push after overflow reported success")
	}
	if _, overflow := o.take(nil); !overflow {
		t.Error("take does not report the overflow")
	}
}

func names(fs []*frame) []string {
	out := make([]string, len(fs))
	for i, f := range fs {
		out[i] = string(f.data)
	}
	return out
}
