package app

import (
	"github.com/queueless/queueless/queue"
	"github.com/queueless/queueless/stats"
)

// statsSource is where stats and tickets.csv read: SQL on PostgreSQL, the
// memory store's tickets in embedded mode. The embedded mode's feedback
// store (issue 14's feedback endpoint) is wired in as stats'
// FeedbackLister when it exists; until then satisfaction counts none there.
func (a *App) statsSource(store queue.Store) stats.Source {
	if a.pool != nil {
		return stats.NewPostgres(a.pool)
	}
	if m, ok := store.(*queue.MemoryStore); ok {
		return stats.NewMemory(m, nil)
	}
	return nil
}
