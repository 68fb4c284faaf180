package app

import (
	"github.com/queueless/queueless/queue"
	"github.com/queueless/queueless/stats"
)

// statsSource is where stats and tickets.csv read: SQL on PostgreSQL, the
// memory store's tickets and the feedback store in embedded mode.
func (a *App) statsSource(store queue.Store) stats.Source {
	if a.pool != nil {
		return stats.NewPostgres(a.pool)
	}
	if m, ok := store.(*queue.MemoryStore); ok {
		var fb stats.FeedbackLister
		if a.Feedback != nil {
			fb = a.Feedback
		}
		return stats.NewMemory(m, fb)
	}
	return nil
}
