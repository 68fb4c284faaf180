package stats

import (
	"context"
	"testing"
	"time"

	"github.com/queueless/queueless/queue"
)

// TestEstimateAtJoin: a real join keeps the estimate it showed, and stats
// measure it against the wait that followed, on both stores.
func TestEstimateAtJoin(t *testing.T) {
	t.Parallel()
	stores := map[string]func(*testing.T) (queue.Store, Source){
		"memory": func(*testing.T) (queue.Store, Source) {
			s := queue.NewMemoryStore()
			return s, NewMemory(s, nil)
		},
		"postgres": func(t *testing.T) (queue.Store, Source) {
			pool := newTestPool(t)
			return queue.NewPostgresStore(pool), NewPostgres(pool)
		},
	}
	for name, open := range stores {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			store, src := open(t)
			now := time.Date(2026, 5, 4, 9, 0, 0, 0, time.UTC)
			svc := queue.NewService(store, queue.Config{Now: func() time.Time { return now }, MaxJoinBatch: 1})
			inst, err := svc.CreateInstitution(ctx, queue.Fields{Name: "Office", Kind: "government", Status: queue.StatusOpen}, queue.Meta{Actor: "token:admin"})
			if err != nil {
				t.Fatal(err)
			}
			join := func() queue.Ticket {
				t.Helper()
				r, err := svc.Join(ctx, inst.ID, queue.JoinRequest{}, queue.Meta{Actor: "citizen"})
				if err != nil {
					t.Fatal(err)
				}
				return r.Ticket
			}
			counter := "1"
			advance := func() {
				t.Helper()
				if _, err := svc.Advance(ctx, inst.ID, queue.AdvanceRequest{Count: 1, Counter: &counter}, queue.Meta{Actor: "token:1"}); err != nil {
					t.Fatal(err)
				}
			}
			first := join() // no pace yet: no estimate
			for range 5 {
				join()
			}
			// Three calls of the day, one counter calling every 120 s: the
			// service has a pace (API.md v1.1 "Estimates").
			for i := range 3 {
				if i > 0 {
					now = now.Add(2 * time.Minute)
				}
				advance() // calls #1, #2, #3
			}
			late := join() // #7, with #4, #5 and #6 ahead
			if first.EstimatedWaitSeconds != nil || late.EstimatedWaitSeconds == nil {
				t.Fatalf("estimates shown: first %v, late %v; want none, then one", first.EstimatedWaitSeconds, late.EstimatedWaitSeconds)
			}
			shown := *late.EstimatedWaitSeconds
			for range 4 { // #4, #5, #6, then the late ticket: it waited 400 s
				now = now.Add(100 * time.Second)
				advance()
			}
			got, err := src.Stats(ctx, inst.ID, Period{From: now.Add(-time.Hour), To: now.Add(time.Hour)}, time.UTC)
			if err != nil {
				t.Fatal(err)
			}
			// Only the late ticket was shown an estimate (the others joined
			// before any pace): the error is |shown - 400 s|.
			want := shown - 400
			if want < 0 {
				want = -want
			}
			if got.EstimateError.Count != 1 || got.EstimateError.MedianAbsoluteSeconds == nil || int64(*got.EstimateError.MedianAbsoluteSeconds) != want {
				t.Fatalf("estimate error %+v, want 1 ticket, %d s (shown %d, waited 400)", got.EstimateError, want, shown)
			}
			var kept *int64
			_ = src.Tickets(ctx, inst.ID, Period{From: now.Add(-time.Hour), To: now.Add(time.Hour)}, func(tk queue.Ticket) error {
				if tk.ID == late.ID {
					kept = tk.EstimateAtJoin
				}
				return nil
			})
			if kept == nil || *kept != shown {
				t.Fatalf("estimate kept %v, want %d", kept, shown)
			}
		})
	}
}
