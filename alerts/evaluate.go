package alerts

import (
	"fmt"
	"time"
)

// Observation is what the evaluator saw of one institution's queue at one
// moment; the caller reads it from the store (in the transaction that will
// apply the transitions).
type Observation struct {
	InstitutionID int64
	// Open: the institution takes tickets (status open).
	Open bool
	// Waiting counts tickets waiting or notified.
	Waiting int64
	// OldestWaitingAt is when the longest-waiting of them joined; zero when
	// nobody waits.
	OldestWaitingAt time.Time
	// LastCallAt is the institution's last call; zero before the first.
	LastCallAt time.Time
	// OpenSince is when the institution last became open; zero when unknown.
	// A queue is not stalled by the hours it was closed.
	OpenSince time.Time
}

// State is what the store holds about one institution's alerts.
type State struct {
	// Open are its open alerts: at most one per kind.
	Open []Alert
	// StaffResolvedAt is, per kind, when staff last resolved an alert of
	// that kind. A condition that still holds after a staff resolve raises
	// again only once it has held a full threshold after the resolve: staff
	// who say "we know" are not told again at the next evaluation.
	StaffResolvedAt map[Kind]time.Time
}

func (s State) open(k Kind) *Alert {
	for i := range s.Open {
		if s.Open[i].Kind == k && s.Open[i].Open() {
			return &s.Open[i]
		}
	}
	return nil
}

// Action is what a transition does to an alert.
type Action string

// Actions, each the webhook event it fires.
const (
	ActionRaise    Action = "raise"
	ActionEscalate Action = "escalate"
	ActionResolve  Action = "resolve"
)

// Transition is one change of one alert.
type Transition struct {
	Action Action
	// From is the level before an escalation; empty for a raise.
	From Level
	// Alert is the alert after the change. A raise's ID is 0 until a
	// Store applies it.
	Alert Alert
}

// Event is the webhook event the transition fires.
func (t Transition) Event() string {
	switch t.Action {
	case ActionRaise:
		return "alert.raised"
	case ActionEscalate:
		return "alert.escalated"
	default:
		return "alert.resolved"
	}
}

func (t Transition) String() string {
	a := t.Alert
	if t.Action == ActionEscalate {
		return fmt.Sprintf("%s %s/%d %s->%s", t.Action, a.Kind, a.InstitutionID, t.From, a.Level)
	}
	return fmt.Sprintf("%s %s/%d %s", t.Action, a.Kind, a.InstitutionID, a.Level)
}

// condition reports whether kind's condition holds for obs at now, and
// what it looks like.
func condition(k Kind, now time.Time, th Thresholds, obs Observation, staffResolvedAt time.Time) (bool, Detail) {
	d := Detail{Waiting: obs.Waiting, ThresholdMinutes: th.threshold(k)}
	if obs.Waiting <= 0 || obs.OldestWaitingAt.IsZero() {
		return false, d
	}
	switch k {
	case KindQueueStalled:
		if !obs.Open {
			return false, d
		}
		// Nobody called since the later of: the last call, the moment the
		// present wait began, the opening.
		d.Since = latest(obs.LastCallAt, obs.OldestWaitingAt, obs.OpenSince)
	case KindWaitSLA:
		d.Since = obs.OldestWaitingAt
	default:
		return false, d
	}
	clock := latest(d.Since, staffResolvedAt)
	return now.Sub(clock) >= time.Duration(d.ThresholdMinutes)*th.unit(), d
}

func latest(ts ...time.Time) time.Time {
	var m time.Time
	for _, t := range ts {
		if t.After(m) {
			m = t
		}
	}
	return m
}

// Evaluate returns the transitions of one institution's alerts at now:
// raise an alert whose condition holds and that has none open, escalate an
// open alert one level at a time up to the level its age has reached (each
// level its own transition, so that each level's webhooks hear of it), and
// resolve an open alert whose condition cleared. It changes nothing: a
// Store applies the result.
func Evaluate(now time.Time, th Thresholds, obs Observation, st State) []Transition {
	now = now.UTC()
	var out []Transition
	for _, k := range Kinds {
		holds, detail := condition(k, now, th, obs, st.StaffResolvedAt[k])
		open := st.open(k)
		switch {
		case open == nil && holds:
			out = append(out, Transition{Action: ActionRaise, Alert: Alert{
				InstitutionID: obs.InstitutionID, Kind: k, Level: LevelInitiated, OpenedAt: now, Detail: detail,
			}})
		case open != nil && !holds:
			a := *open
			a.ResolvedAt, a.ResolvedBy = &now, ResolvedBySystem
			out = append(out, Transition{Action: ActionResolve, From: open.Level, Alert: a})
		case open != nil:
			due := th.dueLevel(now.Sub(open.OpenedAt))
			a := *open
			for r := a.Level.rank() + 1; r <= due.rank(); r++ {
				from := a.Level
				a.Level, a.EscalatedAt, a.Detail = Levels[r], &now, detail
				out = append(out, Transition{Action: ActionEscalate, From: from, Alert: a})
			}
		}
	}
	return out
}

// ResolveByStaff returns the transition that resolves a, open, at now on
// behalf of actor; ErrInvalidState when a is already resolved.
func ResolveByStaff(a Alert, now time.Time, actor string) (Transition, error) {
	if !a.Open() {
		return Transition{}, fmt.Errorf("resolve alert %d: already resolved at %s: %w",
			a.ID, a.ResolvedAt.Format(time.RFC3339), ErrInvalidState)
	}
	if actor == "" || actor == ResolvedBySystem {
		return Transition{}, fmt.Errorf("resolve alert %d: a staff actor is required, not %q", a.ID, actor)
	}
	now = now.UTC()
	from := a.Level
	a.ResolvedAt, a.ResolvedBy = &now, actor
	return Transition{Action: ActionResolve, From: from, Alert: a}, nil
}
