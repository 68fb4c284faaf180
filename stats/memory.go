package stats

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/queueless/queueless/feedback"
	"github.com/queueless/queueless/queue"
)

// MemoryTickets is what the memory source reads tickets from:
// *queue.MemoryStore.
type MemoryTickets interface {
	IssuedBetween(ctx context.Context, institutionID int64, from, to time.Time) ([]queue.Ticket, error)
}

// FeedbackLister lists the feedback an institution was given at or after
// from and before to: the embedded mode's feedback store.
type FeedbackLister interface {
	FeedbackBetween(ctx context.Context, institutionID int64, from, to time.Time) ([]feedback.Feedback, error)
}

// Memory computes stats in the embedded mode, with Compute.
type Memory struct {
	tickets  MemoryTickets
	feedback FeedbackLister
}

var _ Source = (*Memory)(nil)

// NewMemory returns the memory source; fb may be nil while there is no
// feedback store (satisfaction then counts none).
func NewMemory(tickets MemoryTickets, fb FeedbackLister) *Memory {
	return &Memory{tickets: tickets, feedback: fb}
}

// Stats implements Source.
func (m *Memory) Stats(ctx context.Context, id int64, p Period, loc *time.Location) (Stats, error) {
	ts, err := m.tickets.IssuedBetween(ctx, id, p.From, p.To)
	if err != nil {
		return Stats{}, err
	}
	var fb []feedback.Feedback
	if m.feedback != nil {
		if fb, err = m.feedback.FeedbackBetween(ctx, id, p.From, p.To); err != nil {
			return Stats{}, err
		}
	}
	return Compute(p, loc, ts, fb), nil
}

// Tickets implements Source.
func (m *Memory) Tickets(ctx context.Context, id int64, p Period, fn func(queue.Ticket) error) error {
	ts, err := m.tickets.IssuedBetween(ctx, id, p.From, p.To)
	if err != nil {
		return err
	}
	for _, t := range ts {
		if err := fn(t); err != nil {
			return err
		}
	}
	return nil
}

// sortServices orders per-service figures by code.
func sortServices(list []ServiceStats) {
	slices.SortFunc(list, func(a, b ServiceStats) int { return strings.Compare(a.Service, b.Service) })
}
