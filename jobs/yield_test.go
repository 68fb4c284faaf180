package jobs

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/riverqueue/river/rivertype"
)

// fakeClock is a controlled clock: sleep advances it, and calls at(t) for
// the moments the test scripted (a crowd ending, say).
type fakeClock struct {
	t     time.Time
	slept []time.Duration
	at    func(now time.Time)
}

func (c *fakeClock) now() time.Time { return c.t }

func (c *fakeClock) sleep(_ context.Context, d time.Duration) error {
	if d <= 0 {
		panic("sleep of a non-positive duration: the wait would spin")
	}
	c.slept = append(c.slept, d)
	c.t = c.t.Add(d)
	if c.at != nil {
		c.at(c.t)
	}
	return nil
}

var t0 = time.Date(2026, 11, 30, 1, 0, 0, 0, time.UTC)

func newFake(threshold int, max time.Duration) (*fakeClock, *Pressure, *yield) {
	c := &fakeClock{t: t0}
	p := newPressure(threshold, time.Second, c.now)
	y := newYield(p, max)
	y.sleep = c.sleep
	return c, p, y
}

func TestPressureThresholdAndQuiet(t *testing.T) {
	t.Parallel()
	c, p, _ := newFake(3, time.Minute)
	if p.Busy() {
		t.Fatal("busy before any join")
	}
	e1, e2 := p.Enter(), p.Enter()
	if p.Busy() || p.InFlight() != 2 {
		t.Fatalf("2 joins in flight, threshold 3: busy %v, in flight %d; want quiet, 2", p.Busy(), p.InFlight())
	}
	e3 := p.Enter()
	if !p.Busy() {
		t.Fatal("3 joins in flight, threshold 3: want busy")
	}
	c.t = c.t.Add(5 * time.Second) // a long busy spell
	e1()                           // the first of the three ends: still busy from now
	e2()
	e3()
	if !p.Busy() || p.InFlight() != 0 {
		t.Fatalf("just after the spell: busy %v, in flight %d; want busy (quiet period), 0", p.Busy(), p.InFlight())
	}
	c.t = c.t.Add(999 * time.Millisecond)
	if !p.Busy() {
		t.Fatal("999ms after the spell ended: want still busy (its end counts, not its start)")
	}
	c.t = c.t.Add(time.Millisecond)
	if p.Busy() {
		t.Fatal("1s after the spell: want quiet")
	}
}

func TestYieldWaitsForTheCrowdThenGoes(t *testing.T) {
	t.Parallel()
	c, p, y := newFake(1, 30*time.Second)
	exit := p.Enter()
	c.at = func(now time.Time) {
		if exit != nil && !now.Before(t0.Add(7*time.Second)) {
			exit() // the crowd ends 7s in
			exit = nil
		}
	}
	waited, err := y.wait(context.Background(), t0)
	if err != nil {
		t.Fatal(err)
	}
	// Quiet one second after the crowd's end (seen at the first look after
	// it: 8s, as the wait looks every second while joins are in flight).
	if waited < 8*time.Second || waited > 9*time.Second {
		t.Fatalf("waited %s (sleeps %v), want 8s to 9s: until a second after the crowd", waited, c.slept)
	}
}

func TestYieldNeverHoldsPastMax(t *testing.T) {
	t.Parallel()
	c, p, y := newFake(1, 30*time.Second)
	p.Enter() // a crowd that never ends
	// A job due 10s ago waits 20s more; one due now, 30s.
	for _, tc := range []struct {
		ago  time.Duration // the job became due this long before the wait
		want time.Duration
	}{
		{10 * time.Second, 20 * time.Second},
		{0, 30 * time.Second},
		{time.Minute, 0},               // held long enough already: at once
		{-time.Hour, 30 * time.Second}, // a clock ahead: still max at most
		{29500 * time.Millisecond, 500 * time.Millisecond},
	} {
		waited, err := y.wait(context.Background(), c.t.Add(-tc.ago))
		if err != nil {
			t.Fatal(err)
		}
		if waited != tc.want {
			t.Errorf("due %s before the wait: waited %s, want %s", tc.ago, waited, tc.want)
		}
	}
}

func TestYieldDoesNotWaitWhenQuiet(t *testing.T) {
	t.Parallel()
	c, p, y := newFake(2, 30*time.Second)
	exit := p.Enter() // one join in flight, threshold 2
	defer exit()
	if waited, err := y.wait(context.Background(), c.t); err != nil || waited != 0 || len(c.slept) != 0 {
		t.Fatalf("quiet: waited %s, slept %v, err %v; want no wait", waited, c.slept, err)
	}
}

func TestYieldMiddlewareOnlyHoldsDeliveries(t *testing.T) {
	t.Parallel()
	c, p, y := newFake(1, 30*time.Second)
	p.Enter()
	var ran []string
	for _, q := range []string{QueueDefault, QueueDeliveries} {
		start := c.t
		err := y.Work(context.Background(), &rivertype.JobRow{Queue: q, ScheduledAt: c.t}, func(context.Context) error {
			ran = append(ran, q)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		held := c.t.Sub(start)
		if want := map[string]time.Duration{QueueDefault: 0, QueueDeliveries: 30 * time.Second}[q]; held != want {
			t.Errorf("queue %s held %s, want %s", q, held, want)
		}
	}
	if len(ran) != 2 {
		t.Fatalf("worked %v, want both jobs worked once", ran)
	}
	if n, d := p.Held(); n != 1 || d != 30*time.Second {
		t.Errorf("Held() = %d, %s; want 1 job, 30s", n, d)
	}
	// A job worked when the instance is quiet is not counted as held,
	// even on a real clock that moves between two readings.
	q := NewPressure(1, time.Second)
	yq := newYield(q, 30*time.Second)
	for range 100 {
		if err := yq.Work(context.Background(), &rivertype.JobRow{Queue: QueueDeliveries, ScheduledAt: time.Now()},
			func(context.Context) error { return nil }); err != nil {
			t.Fatal(err)
		}
	}
	if n, d := q.Held(); n != 0 || d != 0 {
		t.Errorf("quiet instance: Held() = %d, %s; want none", n, d)
	}
}

// A client stopping while a job waits: the job is not worked, and goes
// back to River snoozed (no attempt spent), for this or another instance.
func TestYieldStoppingSnoozesTheJob(t *testing.T) {
	t.Parallel()
	p := NewPressure(1, time.Second)
	defer p.Enter()()
	y := newYield(p, time.Hour)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	worked := false
	err := y.Work(ctx, &rivertype.JobRow{Queue: QueueDeliveries, ScheduledAt: time.Now()}, func(context.Context) error {
		worked = true
		return nil
	})
	var snooze *rivertype.JobSnoozeError
	if !errors.As(err, &snooze) || snooze.Duration != 0 || worked {
		t.Fatalf("Work on a cancelled context while busy: %v (worked %v), want JobSnooze(0) and not worked", err, worked)
	}
}
