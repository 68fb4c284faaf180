package hub_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/queueless/queueless/queue"
)

func sameEstimate(a, b *int64, ra, rb *[2]int64) bool {
	eq := func(x, y *int64) bool { return x == nil && y == nil || x != nil && y != nil && *x == *y }
	return eq(a, b) && (ra == nil && rb == nil || ra != nil && rb != nil && *ra == *rb)
}

// TestLiveEstimates: boards and phones on instance A show the same
// per-service and per-ticket estimates (and ranges) as the API, while
// calls are made through instance B: null before a service's third call
// of the day, the API's figures after.
func TestLiveEstimates(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	l := newLinesStack(t, 16, []string{"A", "A", "B"}, func(i int) bool { return i%4 == 1 }, 6)
	inst, b, board, phones := l.inst, l.b, l.board, l.phones
	// The views the API gives now, on every stream.
	check := func(when string, wantA bool) {
		t.Helper()
		api, err := b.Institution(ctx, inst.ID)
		if err != nil {
			t.Fatal(err)
		}
		if a := api.Services[0]; (a.EstimatedWaitSeconds != nil) != wantA {
			t.Fatalf("%s: service A's estimate = %v, want one: %v", when, a.EstimatedWaitSeconds, wantA)
		}
		board.waitLast(when+": the board shows the API's service estimates", 10*time.Second, func(f liveFrame) bool {
			if f.Institution == nil || f.Institution.Version != api.Version || len(f.Institution.Services) != len(api.Services) {
				return false
			}
			for i, l := range api.Services {
				g := f.Institution.Services[i]
				if !sameEstimate(g.EstimatedWaitSeconds, l.EstimatedWaitSeconds, g.EstimatedWaitRange, l.EstimatedWaitRange) {
					return false
				}
			}
			return true
		})
		for id, p := range phones {
			tk, err := b.Ticket(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if tk.Service == "A" && tk.Status.Waiting() && (tk.EstimatedWaitSeconds != nil) != wantA {
				t.Fatalf("%s: %s's estimate = %v, want one: %v", when, tk.Label, tk.EstimatedWaitSeconds, wantA)
			}
			p.waitLast(fmt.Sprintf("%s: ticket %s with %d ahead and the API's estimate", when, tk.Label, tk.PeopleAhead), 10*time.Second, func(f liveFrame) bool {
				return f.Ticket != nil && f.Ticket.Status == tk.Status && f.Ticket.PeopleAhead == tk.PeopleAhead &&
					sameEstimate(f.Ticket.EstimatedWaitSeconds, tk.EstimatedWaitSeconds, f.Ticket.EstimatedWaitRange, tk.EstimatedWaitRange)
			})
		}
	}
	call := func(counter, service string) {
		if _, err := b.Advance(ctx, inst.ID, queue.AdvanceRequest{Count: 1, Counter: &counter, Service: &service}, queue.Meta{Actor: "token:1"}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(40 * time.Millisecond) // calls some milliseconds apart: a pace
	}
	call("1", "A")
	call("2", "A")
	call("1", "B")
	check("after 2 calls from A", false)
	call("1", "A")
	check("after 3 calls from A", true)
	call("2", "A")
	if _, err := b.Join(ctx, inst.ID, queue.JoinRequest{Service: ptr("A")}, queue.Meta{Actor: queue.ActorCitizen}); err != nil {
		t.Fatal(err)
	}
	check("after a 4th call and a join", true)
}
