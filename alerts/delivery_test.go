package alerts

import (
	"errors"
	"testing"
)

func TestParseLevels(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		in []string
		ok bool
	}{
		{nil, true}, {[]string{}, true}, {[]string{"p1", "p0"}, true}, {[]string{"initiated", "p2", "p1", "p0"}, true},
		{[]string{"p3"}, false}, {[]string{"P1"}, false}, {[]string{""}, false}, {[]string{"p1", "p1"}, false},
	} {
		got, err := ParseLevels(c.in)
		var ve *ValidationError
		if c.ok && (err != nil || len(got) != len(c.in)) {
			t.Errorf("ParseLevels(%q) = %v, %v; want them accepted", c.in, got, err)
		}
		if !c.ok && (!errors.As(err, &ve) || ve.Field != "levels") {
			t.Errorf("ParseLevels(%q) = %v, %v; want a ValidationError on levels", c.in, got, err)
		}
	}
}

// TestNotifies: one delivery per level change to the webhooks that asked
// for that level; a resolve to every webhook that heard of the alert.
func TestNotifies(t *testing.T) {
	t.Parallel()
	tr := func(a Action, l Level) Transition {
		return Transition{Action: a, Alert: Alert{Kind: KindQueueStalled, Level: l}}
	}
	all, urgent, first := []Level(nil), []Level{LevelP1, LevelP0}, []Level{LevelInitiated}
	for _, c := range []struct {
		name   string
		t      Transition
		levels []Level
		want   bool
	}{
		{"raise, every level", tr(ActionRaise, LevelInitiated), all, true},
		{"raise, urgent only", tr(ActionRaise, LevelInitiated), urgent, false},
		{"raise, first only", tr(ActionRaise, LevelInitiated), first, true},
		{"to p2, urgent only", tr(ActionEscalate, LevelP2), urgent, false},
		{"to p1, urgent only", tr(ActionEscalate, LevelP1), urgent, true},
		{"to p0, urgent only", tr(ActionEscalate, LevelP0), urgent, true},
		{"to p1, first only", tr(ActionEscalate, LevelP1), first, false},
		{"to p2, every level", tr(ActionEscalate, LevelP2), all, true},
		{"resolve at p2, urgent only: never told", tr(ActionResolve, LevelP2), urgent, false},
		{"resolve at p1, urgent only", tr(ActionResolve, LevelP1), urgent, true},
		{"resolve at p0, first only", tr(ActionResolve, LevelP0), first, true},
		{"resolve at initiated, first only", tr(ActionResolve, LevelInitiated), first, true},
		{"resolve at initiated, p0 only", tr(ActionResolve, LevelInitiated), []Level{LevelP0}, false},
	} {
		if got := c.t.Notifies(c.levels); got != c.want {
			t.Errorf("%s: Notifies = %v, want %v", c.name, got, c.want)
		}
	}

	// A whole life: a webhook per level hears exactly its own level's
	// raise or escalation once, and the resolve when it heard anything.
	life := []Transition{tr(ActionRaise, LevelInitiated), tr(ActionEscalate, LevelP2), tr(ActionEscalate, LevelP1), tr(ActionResolve, LevelP1)}
	for _, l := range Levels {
		n := 0
		for _, x := range life {
			if x.Notifies([]Level{l}) {
				n++
			}
		}
		want := 2 // its level, then the resolve
		if l == LevelP0 {
			want = 0 // the alert never reached p0
		}
		if n != want {
			t.Errorf("webhook for %s got %d deliveries, want %d", l, n, want)
		}
	}
}
