package jobs

import (
	"context"
	"testing"
	"time"

	"github.com/riverqueue/river"
)

func TestBackoffScheduleSpansTheContract(t *testing.T) {
	t.Parallel()
	// The webhooks' default: 8 attempts must span at least an hour, even
	// with every jitter at its lowest.
	b := Backoff{Base: time.Minute, Max: 6 * time.Hour, Jitter: 0.2}
	if got := b.Span(8); got < time.Hour {
		t.Errorf("8 attempts span at least %s, want an hour or more", got)
	}
	for id := int64(1); id < 200; id++ {
		for n := 1; n <= 12; n++ {
			d := b.Delay(id, n)
			nominal := time.Duration(float64(time.Minute) * float64(int64(1)<<(n-1)))
			nominal = min(nominal, 6*time.Hour)
			lo, hi := time.Duration(float64(nominal)*0.8), time.Duration(float64(nominal)*1.2)
			if d < lo || d > hi {
				t.Fatalf("Delay(%d, %d) = %s, want within [%s, %s]", id, n, d, lo, hi)
			}
			if again := b.Delay(id, n); again != d {
				t.Fatalf("Delay(%d, %d) = %s then %s: want the same (the worker records it, River schedules it)", id, n, d, again)
			}
		}
	}
	// Jitter spreads jobs that failed together.
	seen := map[time.Duration]bool{}
	for id := int64(1); id <= 50; id++ {
		seen[b.Delay(id, 3)] = true
	}
	if len(seen) < 40 {
		t.Errorf("50 jobs' third delays take %d distinct values, want them spread", len(seen))
	}
}

type echoArgs struct{ N int }

func (echoArgs) Kind() string { return "echo" }

type echoWorker struct {
	river.WorkerDefaults[echoArgs]
	done chan int
}

func (w *echoWorker) Work(_ context.Context, j *river.Job[echoArgs]) error {
	w.done <- j.Args.N
	return nil
}

// The embedded client works jobs from its in-memory SQLite database.
func TestEmbeddedClientWorksJobs(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	reg := NewRegistry()
	w := &echoWorker{done: make(chan int, 10)}
	river.AddWorker(reg.Workers, w)
	c, err := NewEmbedded(ctx, reg, Config{Workers: 2, PollInterval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if !c.Embedded() || c.Postgres() != nil {
		t.Errorf("embedded client: Embedded %t, Postgres %v", c.Embedded(), c.Postgres())
	}
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.InsertMany(ctx, []river.InsertManyParams{{Args: echoArgs{1}}, {Args: echoArgs{2}}, {Args: echoArgs{3}}}); err != nil {
		t.Fatal(err)
	}
	got := map[int]bool{}
	timeout := time.After(20 * time.Second)
	for len(got) < 3 {
		select {
		case n := <-w.done:
			got[n] = true
		case <-timeout:
			t.Fatalf("worked %v of 3 jobs in 20s", got)
		}
	}
	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := c.Close(sctx); err != nil {
		t.Errorf("close: %v", err)
	}
	if err := c.InsertManyTx(ctx, nil, []river.InsertManyParams{{Args: echoArgs{4}}}); err == nil {
		t.Errorf("InsertManyTx on the embedded client succeeded; it has no PostgreSQL transaction")
	}
}
