package queue

import (
	"context"
	"strconv"

	"github.com/jackc/pgx/v5"
)

// Outbox receives every change inside the store's transaction, after the
// change is written (its ids assigned) and before it commits, so that what
// it enqueues (durable jobs: webhook, SMS and push deliveries) commits or
// rolls back with the change: no change without its deliveries, no delivery
// for a change that rolled back. It must not call back into the Store.
type Outbox interface {
	// EnqueueTx runs in a PostgresStore transaction; an error rolls the
	// whole change back.
	EnqueueTx(ctx context.Context, tx pgx.Tx, ch *Changes) error
	// Enqueue runs inside the MemoryStore's critical section, with the
	// change checked and its ids assigned but not yet applied; an error
	// leaves the store as it was.
	Enqueue(ctx context.Context, ch *Changes) error
}

// SetOutbox makes every later Update hand its changes to o inside the
// transaction. Call it before the store is used.
func (s *PostgresStore) SetOutbox(o Outbox) { s.outbox = o }

// SetOutbox makes every later Update hand its changes to o inside the
// critical section. Call it before the store is used.
func (m *MemoryStore) SetOutbox(o Outbox) { m.outbox = o }

// DisplayName is how texts and webhooks name a ticket to people: today its
// number; the one place to change when tickets get service labels.
func DisplayName(t Ticket) string { return strconv.FormatInt(t.Number, 10) }
