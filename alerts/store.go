package alerts

import (
	"context"
	"fmt"
	"time"
)

// Store keeps alerts. Both implementations apply a transition only when the
// alert is still as the evaluator saw it (a raise only when no alert of the
// kind is open, an escalation only from its From level, a resolve only of
// an open alert), and report the transitions that took effect: evaluators
// running at once never raise two alerts or fire one change twice.
type Store interface {
	// State returns an institution's open alerts and last staff resolves.
	State(ctx context.Context, institutionID int64) (State, error)
	// Apply applies ts in order, in one transaction, and returns those that
	// took effect (raises with their new IDs).
	Apply(ctx context.Context, ts []Transition) ([]Transition, error)
	// Alert returns one alert, or an error wrapping ErrNotFound.
	Alert(ctx context.Context, id int64) (Alert, error)
	// List returns the alerts that f selects, newest first.
	List(ctx context.Context, f Filter) ([]Alert, error)
	// Resolve resolves alert id on behalf of staff actor (ResolveByStaff),
	// atomically: ErrNotFound, or ErrInvalidState when already resolved.
	Resolve(ctx context.Context, id int64, now time.Time, actor string) (Transition, error)
	// CountOpen counts open alerts by kind and level.
	CountOpen(ctx context.Context) (map[Kind]map[Level]int, error)
}

// Status selects open or resolved alerts in a Filter.
type Status string

// Statuses of Filter; StatusAny selects both.
const (
	StatusAny      Status = ""
	StatusOpen     Status = "open"
	StatusResolved Status = "resolved"
)

// Filter selects alerts for List.
type Filter struct {
	Status Status
	// InstitutionIDs limits the list to these institutions; nil means all
	// (an admin), empty means none.
	InstitutionIDs []int64
	// Limit caps the list; 0 means DefaultListLimit.
	Limit int
}

// DefaultListLimit is List's cap when the Filter sets none.
const DefaultListLimit = 100

func (f Filter) limit() int {
	if f.Limit <= 0 {
		return DefaultListLimit
	}
	return f.Limit
}

func (f Filter) match(a Alert) bool {
	switch f.Status {
	case StatusOpen:
		if !a.Open() {
			return false
		}
	case StatusResolved:
		if a.Open() {
			return false
		}
	}
	if f.InstitutionIDs == nil {
		return true
	}
	for _, id := range f.InstitutionIDs {
		if id == a.InstitutionID {
			return true
		}
	}
	return false
}

var (
	_ Store = (*MemoryStore)(nil)
	_ Store = (*PostgresStore)(nil)
)

// checkActions rejects a transition no Evaluate or ResolveByStaff makes,
// before anything is applied.
func checkActions(ts []Transition) error {
	for _, t := range ts {
		switch t.Action {
		case ActionRaise, ActionEscalate, ActionResolve:
		default:
			return fmt.Errorf("apply alert transitions: unknown action %q", t.Action)
		}
		if !t.Alert.Level.Valid() {
			return fmt.Errorf("apply alert transitions: unknown level %q", t.Alert.Level)
		}
	}
	return nil
}
