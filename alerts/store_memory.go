package alerts

import (
	"context"
	"slices"
	"sync"
	"time"
)

// MemoryStore is the Store of embedded mode.
type MemoryStore struct {
	mu     sync.Mutex
	alerts []Alert // by id - 1
}

// NewMemoryStore returns an empty MemoryStore.
func NewMemoryStore() *MemoryStore { return &MemoryStore{} }

// State implements Store.
func (s *MemoryStore) State(_ context.Context, institutionID int64) (State, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := State{StaffResolvedAt: map[Kind]time.Time{}}
	for _, a := range s.alerts {
		if a.InstitutionID != institutionID {
			continue
		}
		switch {
		case a.Open():
			st.Open = append(st.Open, a)
		case a.ResolvedBy != ResolvedBySystem && a.ResolvedAt.After(st.StaffResolvedAt[a.Kind]):
			st.StaffResolvedAt[a.Kind] = *a.ResolvedAt
		}
	}
	return st, nil
}

// Apply implements Store.
func (s *MemoryStore) Apply(_ context.Context, ts []Transition) ([]Transition, error) {
	if err := checkActions(ts); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var done []Transition
	for _, t := range ts {
		a := t.Alert
		switch t.Action {
		case ActionRaise:
			if s.openLocked(a.InstitutionID, a.Kind) != nil {
				continue
			}
			a.ID = int64(len(s.alerts)) + 1
			s.alerts = append(s.alerts, a)
		case ActionEscalate, ActionResolve:
			cur := s.getLocked(a.ID)
			if cur == nil || !cur.Open() || (t.Action == ActionEscalate && cur.Level != t.From) {
				continue
			}
			if t.Action == ActionResolve {
				// Only the resolve is applied, whatever else the caller's
				// copy says.
				cur.ResolvedAt, cur.ResolvedBy = a.ResolvedAt, a.ResolvedBy
			} else {
				cur.Level, cur.EscalatedAt, cur.Detail = a.Level, a.EscalatedAt, a.Detail
			}
			a = *cur
		}
		t.Alert = a
		done = append(done, t)
	}
	return done, nil
}

func (s *MemoryStore) getLocked(id int64) *Alert {
	if id < 1 || id > int64(len(s.alerts)) {
		return nil
	}
	return &s.alerts[id-1]
}

func (s *MemoryStore) openLocked(institutionID int64, k Kind) *Alert {
	for i := range s.alerts {
		if a := &s.alerts[i]; a.InstitutionID == institutionID && a.Kind == k && a.Open() {
			return a
		}
	}
	return nil
}

// Alert implements Store.
func (s *MemoryStore) Alert(_ context.Context, id int64) (Alert, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.getLocked(id)
	if a == nil {
		return Alert{}, notFound(id)
	}
	return *a, nil
}

// List implements Store.
func (s *MemoryStore) List(_ context.Context, f Filter) ([]Alert, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []Alert{}
	for _, a := range slices.Backward(s.alerts) {
		if len(out) == f.limit() {
			break
		}
		if f.match(a) {
			out = append(out, a)
		}
	}
	return out, nil
}

// Resolve implements Store.
func (s *MemoryStore) Resolve(_ context.Context, id int64, now time.Time, actor string) (Transition, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.getLocked(id)
	if a == nil {
		return Transition{}, notFound(id)
	}
	t, err := ResolveByStaff(*a, now, actor)
	if err != nil {
		return Transition{}, err
	}
	*a = t.Alert
	return t, nil
}

// CountOpen implements Store.
func (s *MemoryStore) CountOpen(context.Context) (map[Kind]map[Level]int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[Kind]map[Level]int{}
	for _, a := range s.alerts {
		if a.Open() {
			if out[a.Kind] == nil {
				out[a.Kind] = map[Level]int{}
			}
			out[a.Kind][a.Level]++
		}
	}
	return out, nil
}
