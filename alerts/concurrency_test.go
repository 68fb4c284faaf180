package alerts

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
)

// TestConcurrentEvaluators runs several evaluators at once, each with its
// own store handle (its own pool in PostgreSQL, as separate instances would
// have), over the same institutions at the same moments. Each reads the
// state, evaluates and applies on its own, so they race between read and
// write. However they interleave, every institution must get exactly one
// raise per kind, one escalation to each level and one resolve: never two
// open alerts, never a change fired twice.
func TestConcurrentEvaluators(t *testing.T) {
	t.Parallel()
	const institutions, evaluators = 12, 6
	for _, m := range storeMakers {
		t.Run(m.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			ts := m.make(t, institutions)
			stores := make([]Store, evaluators)
			for i := range stores {
				stores[i] = ts.another()
			}
			th := DefaultThresholds()
			// People wait from minute 5 and nobody calls; at minute 201
			// the queue empties.
			obs := func(inst int64, minute int) Observation {
				if minute > 200 {
					return Observation{InstitutionID: inst, Open: true, LastCallAt: at(201)}
				}
				return Observation{InstitutionID: inst, Open: true, Waiting: 3, OldestWaitingAt: at(5)}
			}
			// The moments of the periodic job: raise, each escalation,
			// a late run that climbs several levels, the clearing.
			minutes := []int{15, 16, 30, 45, 65, 66, 75, 140, 141, 201, 202}
			applied := make([][]Transition, evaluators)
			for _, minute := range minutes {
				start := make(chan struct{})
				var wg sync.WaitGroup
				for e := range evaluators {
					wg.Go(func() {
						<-start
						order := rand.Perm(institutions)
						for _, i := range order {
							inst := int64(i + 1)
							st, err := stores[e].State(ctx, inst)
							if err != nil {
								t.Errorf("evaluator %d: State(%d): %v", e, inst, err)
								return
							}
							done, err := stores[e].Apply(ctx, Evaluate(at(minute), th, obs(inst, minute), st))
							if err != nil {
								t.Errorf("evaluator %d: Apply: %v", e, err)
								return
							}
							applied[e] = append(applied[e], done...)
						}
					})
				}
				close(start)
				wg.Wait()
				if t.Failed() {
					return
				}
				open, err := ts.List(ctx, Filter{Status: StatusOpen, Limit: 1000})
				if err != nil {
					t.Fatal(err)
				}
				seen := map[string]bool{}
				for _, a := range open {
					key := fmt.Sprintf("%d/%s", a.InstitutionID, a.Kind)
					if seen[key] {
						t.Fatalf("minute %d: two open alerts for %s", minute, key)
					}
					seen[key] = true
				}
			}

			// Every change applied exactly once, whoever applied it.
			count := map[string]int{}
			for _, done := range applied {
				for _, tr := range done {
					count[fmt.Sprintf("%d/%s/%s/%s", tr.Alert.InstitutionID, tr.Alert.Kind, tr.Action, tr.Alert.Level)]++
				}
			}
			for i := 1; i <= institutions; i++ {
				for _, k := range Kinds {
					// Both kinds reach p0: raised at 15 and 65, open until 201.
					want := []string{"raise/initiated", "escalate/p2", "escalate/p1", "escalate/p0", "resolve/p0"}
					for _, w := range want {
						key := fmt.Sprintf("%d/%s/%s", i, k, w)
						if got := count[key]; got != 1 {
							t.Errorf("%s applied %d times, want once", key, got)
						}
						delete(count, key)
					}
				}
			}
			for key, n := range count {
				t.Errorf("unexpected transition %s applied %d times", key, n)
			}
			all, err := ts.List(ctx, Filter{Limit: 1000})
			if err != nil {
				t.Fatal(err)
			}
			if got, want := len(all), institutions*len(Kinds); got != want {
				t.Fatalf("%d alerts stored, want %d (one per institution and kind)", got, want)
			}
		})
	}
}

// TestRaiseStorm raises the same alert from many goroutines at once: one
// raise takes effect, the others do nothing and fail nothing.
func TestRaiseStorm(t *testing.T) {
	t.Parallel()
	for _, m := range storeMakers {
		t.Run(m.name, func(t *testing.T) {
			t.Parallel()
			ts := m.make(t, 1)
			const n = 100
			var mu sync.Mutex
			var wins int
			var wg sync.WaitGroup
			start := make(chan struct{})
			for range n {
				wg.Go(func() {
					<-start
					done, err := ts.Apply(context.Background(), []Transition{raise(1, KindWaitSLA, at(60))})
					if err != nil {
						t.Errorf("Apply: %v", err)
						return
					}
					mu.Lock()
					wins += len(done)
					mu.Unlock()
				})
			}
			close(start)
			wg.Wait()
			if wins != 1 {
				t.Fatalf("%d raises took effect, want 1", wins)
			}
			open, err := ts.List(context.Background(), Filter{Status: StatusOpen})
			if err != nil || len(open) != 1 {
				t.Fatalf("open alerts: %v, %v; want one", open, err)
			}
		})
	}
}
