package queue

import (
	"context"
	"time"
)

// IssuedBetween lists the tickets of the institution issued at or after
// from and before to, in number order: what stats and the CSV export read
// in embedded mode (package stats; PostgreSQL answers them in SQL).
func (m *MemoryStore) IssuedBetween(ctx context.Context, institutionID int64, from, to time.Time) ([]Ticket, error) {
	if err := ctx.Err(); err != nil {
		return nil, Errorf(CodeUnavailable, "the request was cancelled or timed out")
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	if _, ok := m.insts[institutionID]; !ok {
		return nil, notFoundInst(institutionID)
	}
	out := []Ticket{}
	for _, t := range m.byInst[institutionID] {
		if !t.IssuedAt.Before(from) && t.IssuedAt.Before(to) {
			out = append(out, *t)
		}
	}
	return out, nil
}
