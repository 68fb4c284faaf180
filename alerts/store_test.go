package alerts

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/queueless/queueless/internal/testenv"
	"github.com/queueless/queueless/migrations"
)

// testStore is a Store with institutions 1..n to raise alerts for, and a
// way to open a second handle on the same data, as another instance would.
type testStore struct {
	Store
	another func() Store
}

type storeMaker struct {
	name string
	make func(t *testing.T, institutions int) testStore
}

var storeMakers = []storeMaker{
	{"memory", func(t *testing.T, _ int) testStore {
		s := NewMemoryStore()
		return testStore{Store: s, another: func() Store { return s }}
	}},
	{"postgres", func(t *testing.T, n int) testStore {
		cs := testenv.NewSchema(t)
		pool := newTestPool(t, cs, true, 8)
		if _, err := pool.Exec(context.Background(),
			`INSERT INTO institutions (name, kind) SELECT 'Office ' || i, 'government' FROM generate_series(1, $1) AS i`, n); err != nil {
			t.Fatalf("insert institutions: %v", err)
		}
		return testStore{Store: NewPostgresStore(pool), another: func() Store { return NewPostgresStore(newTestPool(t, cs, false, 3)) }}
	}},
}

// newTestPool opens a pool on connString (migrating when asked) and closes
// it when the test ends, before the schema is dropped.
func newTestPool(t *testing.T, connString string, migrate bool, maxConns int32) *pgxpool.Pool {
	t.Helper()
	ctx := context.Background()
	cfg, err := pgxpool.ParseConfig(connString)
	if err != nil {
		t.Fatalf("parse connection string: %v", err)
	}
	cfg.MaxConns = maxConns
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatalf("open pool: %v", err)
	}
	t.Cleanup(pool.Close)
	if migrate {
		db := migrations.OpenDB(pool)
		defer db.Close()
		if err := migrations.Up(ctx, db); err != nil {
			t.Fatalf("migrate: %v", err)
		}
	}
	return pool
}

func raise(inst int64, k Kind, now time.Time) Transition {
	return Transition{Action: ActionRaise, Alert: Alert{InstitutionID: inst, Kind: k, Level: LevelInitiated, OpenedAt: now,
		Detail: Detail{Waiting: 4, Since: now.Add(-10 * time.Minute), ThresholdMinutes: 10}}}
}

func mustApply(t *testing.T, s Store, ts ...Transition) []Transition {
	t.Helper()
	done, err := s.Apply(context.Background(), ts)
	if err != nil {
		t.Fatalf("Apply(%v): %v", ts, err)
	}
	return done
}

// TestStoreContract runs the same rules against both stores.
func TestStoreContract(t *testing.T) {
	t.Parallel()
	for _, m := range storeMakers {
		t.Run(m.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			s := m.make(t, 3)

			// Raise: one alert, with an id and what was raised.
			done := mustApply(t, s, raise(1, KindQueueStalled, at(10)))
			if len(done) != 1 || done[0].Alert.ID == 0 {
				t.Fatalf("raise: applied %v, want one with an id", done)
			}
			a := done[0].Alert
			if a.Level != LevelInitiated || !a.OpenedAt.Equal(at(10)) || !a.Open() || a.Detail.Waiting != 4 ||
				!a.Detail.Since.Equal(at(0)) || a.Detail.ThresholdMinutes != 10 {
				t.Fatalf("raised %+v, want initiated at minute 10 with its detail", a)
			}
			// A second raise of the same institution and kind does nothing;
			// another kind, another institution do.
			done = mustApply(t, s, raise(1, KindQueueStalled, at(11)), raise(1, KindWaitSLA, at(11)), raise(2, KindQueueStalled, at(11)))
			if got := briefs(done); len(got) != 2 || got[0].Kind != KindWaitSLA || done[1].Alert.InstitutionID != 2 {
				t.Fatalf("raises: applied %v, want wait_sla of 1 and queue_stalled of 2 only", got)
			}
			sla := done[0].Alert

			// Escalation from the level the store holds applies; from
			// another level it does not.
			esc := a
			esc.Level, esc.EscalatedAt = LevelP2, tp(at(25))
			if done := mustApply(t, s, Transition{Action: ActionEscalate, From: LevelInitiated, Alert: esc}); len(done) != 1 ||
				done[0].Alert.Level != LevelP2 || !done[0].Alert.EscalatedAt.Equal(at(25)) {
				t.Fatalf("escalate to p2: applied %v", done)
			}
			if done := mustApply(t, s, Transition{Action: ActionEscalate, From: LevelInitiated, Alert: esc}); len(done) != 0 {
				t.Fatalf("escalate to p2 again: applied %v, want nothing", done)
			}

			// State: open alerts, no staff resolve yet.
			st, err := s.State(ctx, 1)
			if err != nil {
				t.Fatal(err)
			}
			if len(st.Open) != 2 || len(st.StaffResolvedAt) != 0 {
				t.Fatalf("State(1) = %+v, want two open alerts and no staff resolve", st)
			}
			if got, err := s.Alert(ctx, a.ID); err != nil || got.Level != LevelP2 {
				t.Fatalf("Alert(%d) = %+v, %v; want it at p2", a.ID, got, err)
			}
			if _, err := s.Alert(ctx, 9999); !errors.Is(err, ErrNotFound) {
				t.Fatalf("Alert(9999): %v, want ErrNotFound", err)
			}

			// Auto resolve, then resolve again: nothing.
			res := a
			res.ResolvedAt, res.ResolvedBy = tp(at(30)), ResolvedBySystem
			if done := mustApply(t, s, Transition{Action: ActionResolve, From: LevelP2, Alert: res}); len(done) != 1 ||
				done[0].Alert.ResolvedBy != ResolvedBySystem || done[0].Alert.Level != LevelP2 {
				t.Fatalf("auto resolve: applied %v", done)
			}
			if done := mustApply(t, s, Transition{Action: ActionResolve, From: LevelP2, Alert: res}); len(done) != 0 {
				t.Fatalf("resolve again: applied %v, want nothing", done)
			}
			if done := mustApply(t, s, Transition{Action: ActionEscalate, From: LevelP2, Alert: esc}); len(done) != 0 {
				t.Fatalf("escalate a resolved alert: applied %v, want nothing", done)
			}
			// Once resolved, the kind may be raised again.
			if done := mustApply(t, s, raise(1, KindQueueStalled, at(31))); len(done) != 1 || done[0].Alert.ID == a.ID {
				t.Fatalf("raise after resolve: applied %v, want a new alert", done)
			}

			// Staff resolve.
			tr, err := s.Resolve(ctx, sla.ID, at(40), "token:5")
			if err != nil {
				t.Fatalf("Resolve: %v", err)
			}
			if tr.Alert.ResolvedBy != "token:5" || !tr.Alert.ResolvedAt.Equal(at(40)) || tr.Alert.ID != sla.ID {
				t.Fatalf("Resolve = %+v", tr.Alert)
			}
			if _, err := s.Resolve(ctx, sla.ID, at(41), "token:5"); !errors.Is(err, ErrInvalidState) {
				t.Fatalf("Resolve again: %v, want ErrInvalidState", err)
			}
			if _, err := s.Resolve(ctx, 9999, at(41), "token:5"); !errors.Is(err, ErrNotFound) {
				t.Fatalf("Resolve(9999): %v, want ErrNotFound", err)
			}
			st, err = s.State(ctx, 1)
			if err != nil {
				t.Fatal(err)
			}
			if got := st.StaffResolvedAt[KindWaitSLA]; !got.Equal(at(40)) || len(st.StaffResolvedAt) != 1 {
				t.Fatalf("StaffResolvedAt = %v, want wait_sla at minute 40 only (the system resolve does not count)", st.StaffResolvedAt)
			}

			// List and CountOpen.
			all, err := s.List(ctx, Filter{})
			if err != nil {
				t.Fatal(err)
			}
			if len(all) != 4 || all[0].ID < all[3].ID {
				t.Fatalf("List all: %d alerts %v, want 4, newest first", len(all), all)
			}
			for _, c := range []struct {
				f    Filter
				want int
			}{
				{Filter{Status: StatusOpen}, 2}, {Filter{Status: StatusResolved}, 2},
				{Filter{InstitutionIDs: []int64{2}}, 1}, {Filter{InstitutionIDs: []int64{}}, 0},
				{Filter{Status: StatusOpen, InstitutionIDs: []int64{1, 3}}, 1}, {Filter{Limit: 3}, 3},
			} {
				got, err := s.List(ctx, c.f)
				if err != nil {
					t.Fatal(err)
				}
				if len(got) != c.want {
					t.Errorf("List(%+v): %d alerts, want %d", c.f, len(got), c.want)
				}
				for _, a := range got {
					if !c.f.match(a) {
						t.Errorf("List(%+v) returned %+v", c.f, a)
					}
				}
			}
			counts, err := s.CountOpen(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if counts[KindQueueStalled][LevelInitiated] != 2 || counts[KindWaitSLA][LevelInitiated] != 0 || len(counts) != 1 {
				t.Fatalf("CountOpen = %v, want queue_stalled initiated 2 only", counts)
			}

			if _, err := s.Apply(ctx, []Transition{{Action: "explode", Alert: a}}); err == nil {
				t.Fatal("Apply of an unknown action: no error")
			}
		})
	}
}

// TestLifecycle drives one institution through a morning with a clock the
// test controls, evaluating every minute as the periodic job would, and
// checks each transition the store applied and when.
func TestLifecycle(t *testing.T) {
	t.Parallel()
	for _, m := range storeMakers {
		t.Run(m.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			s := m.make(t, 1)
			th := DefaultThresholds()
			obs := Observation{InstitutionID: 1, Open: true}
			type event struct {
				minute int
				brief
				by string
			}
			var got []event
			step := func(minute int) {
				st, err := s.State(ctx, 1)
				if err != nil {
					t.Fatal(err)
				}
				for _, tr := range mustApply(t, s, Evaluate(at(minute), th, obs, st)...) {
					got = append(got, event{minute, brief{tr.Action, tr.Alert.Kind, tr.From, tr.Alert.Level}, tr.Alert.ResolvedBy})
				}
			}
			var at100 map[Kind]map[Level]int
			for minute := 0; minute <= 200; minute++ {
				switch minute {
				case 5: // the first person joins; nobody calls
					obs.Waiting, obs.OldestWaitingAt = 1, at(5)
				case 80: // a counter calls someone: the stall clears
					obs.LastCallAt = at(80)
				case 120: // staff resolve the SLA alert while the wait goes on
					st, _ := s.State(ctx, 1)
					for _, a := range st.Open {
						if a.Kind == KindWaitSLA {
							tr, err := s.Resolve(ctx, a.ID, at(120), "token:2")
							if err != nil {
								t.Fatal(err)
							}
							got = append(got, event{120, brief{tr.Action, a.Kind, tr.From, tr.Alert.Level}, tr.Alert.ResolvedBy})
						}
					}
				case 190: // the queue empties
					obs.Waiting, obs.OldestWaitingAt = 0, time.Time{}
				}
				step(minute)
				if minute == 100 {
					var err error
					if at100, err = s.CountOpen(ctx); err != nil {
						t.Fatal(err)
					}
				}
			}
			want := []event{
				{15, brief{ActionRaise, KindQueueStalled, "", LevelInitiated}, ""}, // 5 + stall 10
				{30, brief{ActionEscalate, KindQueueStalled, LevelInitiated, LevelP2}, ""},
				{45, brief{ActionEscalate, KindQueueStalled, LevelP2, LevelP1}, ""},
				{65, brief{ActionRaise, KindWaitSLA, "", LevelInitiated}, ""}, // 5 + SLA 60
				{75, brief{ActionEscalate, KindQueueStalled, LevelP1, LevelP0}, ""},
				{80, brief{ActionResolve, KindQueueStalled, LevelP0, LevelP0}, ResolvedBySystem},
				{80, brief{ActionEscalate, KindWaitSLA, LevelInitiated, LevelP2}, ""},
				{90, brief{ActionRaise, KindQueueStalled, "", LevelInitiated}, ""}, // 80 + stall 10
				{95, brief{ActionEscalate, KindWaitSLA, LevelP2, LevelP1}, ""},
				{105, brief{ActionEscalate, KindQueueStalled, LevelInitiated, LevelP2}, ""},
				{120, brief{ActionResolve, KindWaitSLA, LevelP1, LevelP1}, "token:2"},
				{120, brief{ActionEscalate, KindQueueStalled, LevelP2, LevelP1}, ""},
				{150, brief{ActionEscalate, KindQueueStalled, LevelP1, LevelP0}, ""},
				{180, brief{ActionRaise, KindWaitSLA, "", LevelInitiated}, ""}, // staff resolve + SLA 60
				{190, brief{ActionResolve, KindQueueStalled, LevelP0, LevelP0}, ResolvedBySystem},
				{190, brief{ActionResolve, KindWaitSLA, LevelInitiated, LevelInitiated}, ResolvedBySystem},
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("lifecycle:\n got %v\nwant %v", got, want)
			}
			if got, want := fmt.Sprint(at100), "map[queue_stalled:map[initiated:1] wait_sla:map[p1:1]]"; got != want {
				t.Fatalf("open at minute 100: %s, want %s", got, want)
			}
			if c, err := s.CountOpen(ctx); err != nil || len(c) != 0 {
				t.Fatalf("CountOpen at the end = %v, %v; want nothing open", c, err)
			}
		})
	}
}
