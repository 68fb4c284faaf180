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
			advance := func() {
				t.Helper()
				if _, err := svc.Advance(ctx, inst.ID, queue.AdvanceRequest{Count: 1}, queue.Meta{Actor: "token:1"}); err != nil {
					t.Fatal(err)
				}
			}
			first := join() // no pace yet: no estimate
			join()
			join()
			advance() // calls #1
			now = now.Add(2 * time.Minute)
			advance() // calls #2: a pace of 120 s between calls
			late := join()
			if first.EstimatedWaitSeconds != nil || late.EstimatedWaitSeconds == nil {
				t.Fatalf("estimates shown: first %v, late %v; want none, then one", first.EstimatedWaitSeconds, late.EstimatedWaitSeconds)
			}
			shown := *late.EstimatedWaitSeconds // two ahead (#3 and itself): 2 * 120 s = 240
			if shown != 240 {
				t.Fatalf("estimate shown %d, want 240", shown)
			}
			now = now.Add(100 * time.Second)
			advance() // #3
			now = now.Add(200 * time.Second)
			advance() // #4, the late ticket: waited 300 s
			got, err := src.Stats(ctx, inst.ID, Period{From: now.Add(-time.Hour), To: now.Add(time.Hour)}, time.UTC)
			if err != nil {
				t.Fatal(err)
			}
			// Called: #1 #2 #3 without estimate (joined before any pace),
			// #4 with 240 against a 300 s wait.
			if got.EstimateError.Count != 1 || got.EstimateError.MedianAbsoluteSeconds == nil || *got.EstimateError.MedianAbsoluteSeconds != 60 {
				t.Fatalf("estimate error %+v, want 1 ticket, 60 s", got.EstimateError)
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
