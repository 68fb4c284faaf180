package alerts

import (
	"context"
	"math/rand/v2"
	"testing"
	"time"
)

// refAlert is the reference model's view of one kind's alert.
type refAlert struct {
	open     bool
	openedAt int // minute
	level    int // index in Levels
	staffAt  int // minute of the last staff resolve, -1 if none
}

// TestEvaluateAgainstModel plays random office days (joins, calls, the
// office closing and opening, staff resolving alerts), evaluating every
// minute with a MemoryStore, and compares the open alerts after each minute
// with a reference model written from the contract's sentences, in whole
// minutes, without the package's helpers.
func TestEvaluateAgainstModel(t *testing.T) {
	t.Parallel()
	th := Thresholds{StallMinutes: 3, WaitSLAMinutes: 8, EscalationMinutes: []int{2, 4, 7}}
	for seed := range uint64(60) {
		rng := rand.New(rand.NewPCG(seed, 14))
		ctx := context.Background()
		s := NewMemoryStore()
		var joins []int // join minutes of the people waiting, oldest first
		open, openSince, lastCall := true, 0, -1000
		model := map[Kind]*refAlert{KindQueueStalled: {staffAt: -1}, KindWaitSLA: {staffAt: -1}}
		for minute := 0; minute < 240; minute++ {
			switch r := rng.IntN(20); {
			case r < 5:
				joins = append(joins, minute)
			case r < 7 && len(joins) > 0 && open:
				joins, lastCall = joins[1:], minute
			case r == 7:
				open = !open
				if open {
					openSince = minute
				}
			case r == 8:
				st, _ := s.State(ctx, 1)
				if len(st.Open) > 0 {
					a := st.Open[rng.IntN(len(st.Open))]
					if _, err := s.Resolve(ctx, a.ID, at(minute), "token:1"); err != nil {
						t.Fatalf("seed %d minute %d: Resolve: %v", seed, minute, err)
					}
					*model[a.Kind] = refAlert{staffAt: minute}
				}
			}

			// The model, in minutes.
			for _, k := range Kinds {
				m := model[k]
				holds := false
				if len(joins) > 0 {
					start := joins[0]
					if k == KindQueueStalled {
						start = max(start, lastCall, openSince)
					}
					start = max(start, m.staffAt)
					limit := th.WaitSLAMinutes
					if k == KindQueueStalled {
						limit = th.StallMinutes
					}
					holds = minute-start >= limit && (k == KindWaitSLA || open)
				}
				switch {
				case !m.open && holds:
					m.open, m.openedAt, m.level = true, minute, 0
				case m.open && !holds:
					m.open = false
				case m.open:
					age := minute - m.openedAt
					for i, esc := range th.EscalationMinutes {
						if age >= esc {
							m.level = i + 1
						}
					}
				}
			}

			// The package.
			obs := Observation{InstitutionID: 1, Open: open, Waiting: int64(len(joins)), OpenSince: at(openSince)}
			if lastCall >= 0 {
				obs.LastCallAt = at(lastCall)
			}
			if len(joins) > 0 {
				obs.OldestWaitingAt = at(joins[0])
			}
			st, err := s.State(ctx, 1)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.Apply(ctx, Evaluate(at(minute), th, obs, st)); err != nil {
				t.Fatal(err)
			}
			st, _ = s.State(ctx, 1)
			for _, k := range Kinds {
				m, a := model[k], st.open(k)
				if m.open != (a != nil) {
					t.Fatalf("seed %d minute %d %s: open %v, model says %v (obs %+v)", seed, minute, k, a != nil, m.open, obs)
				}
				if a != nil && (a.Level != Levels[m.level] || !a.OpenedAt.Equal(at(m.openedAt))) {
					t.Fatalf("seed %d minute %d %s: %s opened %s, model says %s opened minute %d",
						seed, minute, k, a.Level, a.OpenedAt.Format(time.TimeOnly), Levels[m.level], m.openedAt)
				}
			}
		}
	}
}
