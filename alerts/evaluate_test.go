package alerts

import (
	"errors"
	"reflect"
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC)

func at(min int) time.Time { return t0.Add(time.Duration(min) * time.Minute) }

func tp(t time.Time) *time.Time { return &t }

// waiting is an open institution where people have waited since minute
// oldest and the last call was at minute lastCall.
func waiting(n int64, oldest, lastCall int) Observation {
	return Observation{InstitutionID: 7, Open: true, Waiting: n, OldestWaitingAt: at(oldest), LastCallAt: at(lastCall)}
}

func openAlert(k Kind, l Level, opened int) Alert {
	a := Alert{ID: 3, InstitutionID: 7, Kind: k, Level: l, OpenedAt: at(opened)}
	if l != LevelInitiated {
		a.EscalatedAt = tp(at(opened + 1))
	}
	return a
}

// brief is a transition reduced to what the table states.
type brief struct {
	Action Action
	Kind   Kind
	From   Level
	Level  Level
}

func briefs(ts []Transition) []brief {
	out := []brief{}
	for _, t := range ts {
		out = append(out, brief{t.Action, t.Alert.Kind, t.From, t.Alert.Level})
	}
	return out
}

func TestEvaluate(t *testing.T) {
	t.Parallel()
	def := DefaultThresholds() // stall 10, SLA 60, escalation 15/30/60
	custom := Thresholds{StallMinutes: 5, WaitSLAMinutes: 20, EscalationMinutes: []int{1, 2, 3}}
	stalled := func(l Level, opened int) State { return State{Open: []Alert{openAlert(KindQueueStalled, l, opened)}} }
	tests := []struct {
		name string
		th   Thresholds
		obs  Observation
		st   State
		now  int
		want []brief
	}{
		{"nobody waiting", def, Observation{InstitutionID: 7, Open: true, LastCallAt: at(-600)}, State{}, 0, nil},
		{"waiting, called recently", def, waiting(3, 0, 5), State{}, 14, nil},
		{"stall at stall_minutes", def, waiting(3, 0, -60), State{}, 10, []brief{{ActionRaise, KindQueueStalled, "", LevelInitiated}}},
		{"stall counts from the oldest wait, not an old call", def, waiting(3, 0, -60), State{}, 9, nil},
		{"stall counts from the last call", def, waiting(3, 0, 4), State{}, 13, nil},
		{"stall raised at the last call plus stall_minutes", def, waiting(3, 0, 4), State{}, 14, []brief{{ActionRaise, KindQueueStalled, "", LevelInitiated}}},
		{"custom stall_minutes", custom, waiting(3, 0, 4), State{}, 9, []brief{{ActionRaise, KindQueueStalled, "", LevelInitiated}}},
		{"closed: no stall", def, Observation{InstitutionID: 7, Open: false, Waiting: 3, OldestWaitingAt: at(0)}, State{}, 30, nil},
		{"stall counts from the opening", def, Observation{InstitutionID: 7, Open: true, Waiting: 3, OldestWaitingAt: at(0), OpenSince: at(30)}, State{}, 39, nil},
		{"stall after the opening", def, Observation{InstitutionID: 7, Open: true, Waiting: 3, OldestWaitingAt: at(0), OpenSince: at(30)}, State{}, 40, []brief{{ActionRaise, KindQueueStalled, "", LevelInitiated}}},
		{"wait under the SLA", def, waiting(3, 0, 55), State{}, 59, nil},
		{"wait at the SLA", def, waiting(3, 0, 55), State{}, 60, []brief{{ActionRaise, KindWaitSLA, "", LevelInitiated}}},
		{"wait SLA while closed", def, Observation{InstitutionID: 7, Waiting: 1, OldestWaitingAt: at(0)}, State{}, 60, []brief{{ActionRaise, KindWaitSLA, "", LevelInitiated}}},
		{"both at once, in Kinds order", def, waiting(3, 0, -5), State{}, 61, []brief{{ActionRaise, KindQueueStalled, "", LevelInitiated}, {ActionRaise, KindWaitSLA, "", LevelInitiated}}},
		{"open alert, still holds, not yet due", def, waiting(3, 0, -60), stalled(LevelInitiated, 10), 24, nil},
		{"to p2 after escalation_minutes[0]", def, waiting(3, 0, -60), stalled(LevelInitiated, 10), 25, []brief{{ActionEscalate, KindQueueStalled, LevelInitiated, LevelP2}}},
		{"p2 stays before escalation_minutes[1]", def, waiting(3, 0, -60), stalled(LevelP2, 10), 39, nil},
		{"to p1 after escalation_minutes[1]", def, waiting(3, 0, -60), stalled(LevelP2, 10), 40, []brief{{ActionEscalate, KindQueueStalled, LevelP2, LevelP1}}},
		{"to p0 after escalation_minutes[2]", def, waiting(3, 15, 15), stalled(LevelP1, 10), 70, []brief{{ActionEscalate, KindQueueStalled, LevelP1, LevelP0}}},
		{"p0 is the top", def, waiting(3, 0, 0), stalled(LevelP0, 10), 500, []brief{{ActionRaise, KindWaitSLA, "", LevelInitiated}}},
		{"late evaluation climbs every level", def, waiting(3, 0, 0), stalled(LevelInitiated, 10), 75, []brief{
			{ActionEscalate, KindQueueStalled, LevelInitiated, LevelP2},
			{ActionEscalate, KindQueueStalled, LevelP2, LevelP1},
			{ActionEscalate, KindQueueStalled, LevelP1, LevelP0},
			{ActionRaise, KindWaitSLA, "", LevelInitiated}}},
		{"custom escalation_minutes", custom, waiting(3, 0, 0), stalled(LevelInitiated, 10), 12, []brief{
			{ActionEscalate, KindQueueStalled, LevelInitiated, LevelP2},
			{ActionEscalate, KindQueueStalled, LevelP2, LevelP1}}},
		{"auto resolve: a call", def, waiting(3, 0, 30), stalled(LevelP2, 10), 31, []brief{{ActionResolve, KindQueueStalled, LevelP2, LevelP2}}},
		{"auto resolve: nobody waits", def, Observation{InstitutionID: 7, Open: true}, stalled(LevelP1, 10), 45, []brief{{ActionResolve, KindQueueStalled, LevelP1, LevelP1}}},
		{"auto resolve: closed", def, Observation{InstitutionID: 7, Waiting: 3, OldestWaitingAt: at(0)}, stalled(LevelInitiated, 10), 20, []brief{{ActionResolve, KindQueueStalled, LevelInitiated, LevelInitiated}}},
		{"after a staff resolve, silent for a full threshold", def, waiting(3, 0, -60),
			State{StaffResolvedAt: map[Kind]time.Time{KindQueueStalled: at(30)}}, 39, nil},
		{"after a staff resolve, raised again", def, waiting(3, 0, -60),
			State{StaffResolvedAt: map[Kind]time.Time{KindQueueStalled: at(30)}}, 40, []brief{{ActionRaise, KindQueueStalled, "", LevelInitiated}}},
		{"a staff resolve of the other kind does not count", def, waiting(3, 0, -60),
			State{StaffResolvedAt: map[Kind]time.Time{KindWaitSLA: at(30)}}, 35, []brief{{ActionRaise, KindQueueStalled, "", LevelInitiated}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := Evaluate(at(tt.now), tt.th, tt.obs, tt.st)
			if want := tt.want; !reflect.DeepEqual(briefs(got), append([]brief{}, want...)) {
				t.Fatalf("Evaluate at minute %d = %v, want %v", tt.now, briefs(got), want)
			}
			for _, tr := range got {
				a := tr.Alert
				if a.InstitutionID != 7 {
					t.Errorf("%v: institution %d, want 7", tr, a.InstitutionID)
				}
				switch tr.Action {
				case ActionRaise:
					if !a.OpenedAt.Equal(at(tt.now)) || a.EscalatedAt != nil || a.ResolvedAt != nil {
						t.Errorf("%v: opened %v escalated %v resolved %v, want opened now only", tr, a.OpenedAt, a.EscalatedAt, a.ResolvedAt)
					}
					if got, want := a.Detail.ThresholdMinutes, tt.th.threshold(a.Kind); got != want {
						t.Errorf("%v: detail threshold %d, want %d", tr, got, want)
					}
					if got, want := a.Detail.Waiting, tt.obs.Waiting; got != want {
						t.Errorf("%v: detail waiting %d, want %d", tr, got, want)
					}
				case ActionEscalate:
					if a.EscalatedAt == nil || !a.EscalatedAt.Equal(at(tt.now)) || a.ID != 3 {
						t.Errorf("%v: escalated_at %v id %d, want now and 3", tr, a.EscalatedAt, a.ID)
					}
				case ActionResolve:
					if a.ResolvedAt == nil || !a.ResolvedAt.Equal(at(tt.now)) || a.ResolvedBy != ResolvedBySystem || a.ID != 3 {
						t.Errorf("%v: resolved %v by %q id %d, want now by system, id 3", tr, a.ResolvedAt, a.ResolvedBy, a.ID)
					}
				}
			}
		})
	}
}

func TestEvaluateDetailSince(t *testing.T) {
	t.Parallel()
	got := Evaluate(at(75), DefaultThresholds(), waiting(4, 2, 12), State{})
	if len(got) != 2 {
		t.Fatalf("Evaluate = %v, want a stall and an SLA raise", briefs(got))
	}
	if got, want := got[0].Alert.Detail.Since, at(12); !got.Equal(want) {
		t.Errorf("queue_stalled since %v, want the last call %v", got, want)
	}
	if got, want := got[1].Alert.Detail.Since, at(2); !got.Equal(want) {
		t.Errorf("wait_sla since %v, want the oldest join %v", got, want)
	}
}

func TestResolveByStaff(t *testing.T) {
	t.Parallel()
	a := openAlert(KindWaitSLA, LevelP1, 0)
	tr, err := ResolveByStaff(a, at(50), "token:9")
	if err != nil {
		t.Fatalf("ResolveByStaff: %v", err)
	}
	if tr.Action != ActionResolve || tr.From != LevelP1 || tr.Alert.ResolvedBy != "token:9" ||
		tr.Alert.ResolvedAt == nil || !tr.Alert.ResolvedAt.Equal(at(50)) || tr.Alert.Level != LevelP1 {
		t.Fatalf("ResolveByStaff = %+v, want resolve at minute 50 by token:9 keeping level p1", tr)
	}
	if a.ResolvedAt != nil {
		t.Fatal("ResolveByStaff changed its argument")
	}
	if _, err := ResolveByStaff(tr.Alert, at(51), "token:9"); !errors.Is(err, ErrInvalidState) {
		t.Fatalf("second resolve: err %v, want ErrInvalidState", err)
	}
	if _, err := ResolveByStaff(a, at(51), ResolvedBySystem); err == nil {
		t.Fatal("resolve by staff as the system: no error")
	}
}

func TestTransitionEvent(t *testing.T) {
	t.Parallel()
	for action, want := range map[Action]string{ActionRaise: "alert.raised", ActionEscalate: "alert.escalated", ActionResolve: "alert.resolved"} {
		if got := (Transition{Action: action}).Event(); got != want {
			t.Errorf("%s: Event() = %q, want %q", action, got, want)
		}
	}
}

// TestEvaluateRealClock: the rule with the real clock, once.
func TestEvaluateRealClock(t *testing.T) {
	t.Parallel()
	now := time.Now()
	obs := Observation{InstitutionID: 7, Open: true, Waiting: 2, OldestWaitingAt: now.Add(-11 * time.Minute), LastCallAt: now.Add(-time.Hour)}
	got := Evaluate(time.Now(), DefaultThresholds(), obs, State{})
	if len(got) != 1 || got[0].Action != ActionRaise || got[0].Alert.Kind != KindQueueStalled {
		t.Fatalf("Evaluate now, 11 minutes without a call = %v, want a queue_stalled raise", briefs(got))
	}
	if d := time.Since(got[0].Alert.OpenedAt); d < 0 || d > time.Minute {
		t.Fatalf("opened_at %v is not now", got[0].Alert.OpenedAt)
	}
	obs.OldestWaitingAt, obs.LastCallAt = time.Now().Add(-9*time.Minute), time.Time{}
	if got := Evaluate(time.Now(), DefaultThresholds(), obs, State{}); len(got) != 0 {
		t.Fatalf("Evaluate now, 9 minutes of waiting = %v, want nothing", briefs(got))
	}
}

// TestEvaluateUnit: a Thresholds.Unit of a second makes each threshold
// "minute" a second (the real-clock test's seam), and nothing else changes.
func TestEvaluateUnit(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	th := Thresholds{StallMinutes: 2, WaitSLAMinutes: 100, EscalationMinutes: []int{3, 4, 5}, Unit: time.Second}
	obs := Observation{InstitutionID: 1, Open: true, Waiting: 1, OldestWaitingAt: t0, OpenSince: t0}
	if ts := Evaluate(t0.Add(1900*time.Millisecond), th, obs, State{}); len(ts) != 0 {
		t.Fatalf("raised before 2 units: %v", ts)
	}
	ts := Evaluate(t0.Add(2*time.Second), th, obs, State{})
	if len(ts) != 1 || ts[0].Action != ActionRaise || ts[0].Alert.Kind != KindQueueStalled {
		t.Fatalf("at 2 units: %v", ts)
	}
	open := ts[0].Alert
	st := State{Open: []Alert{open}}
	ts = Evaluate(t0.Add(2*time.Second+4*time.Second), th, obs, st)
	if len(ts) != 2 || ts[0].Alert.Level != LevelP2 || ts[1].Alert.Level != LevelP1 {
		t.Fatalf("4 units after the raise: %v, want p2 then p1", ts)
	}
	th.Unit = 0
	if ts := Evaluate(t0.Add(time.Minute), th, obs, State{}); len(ts) != 0 {
		t.Fatalf("a zero Unit is not a minute: %v", ts)
	}
}
