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

// PipelinedOutbox is an Outbox that reads the database before it writes
// (the webhooks: which of them want the change's events). QueueReads queues
// those reads on b, the pipeline that writes the change in its
// transaction, and returns what EnqueueTx would do with their answers, to
// be called once b has run: a round trip fewer in every transaction.
type PipelinedOutbox interface {
	Outbox
	QueueReads(b *pgx.Batch, ch *Changes) (enqueue func(ctx context.Context, tx pgx.Tx) error)
}

// queueOutbox queues o's reads for ch on b, when o can, and returns what
// to call after b has run: o's EnqueueTx otherwise.
func queueOutbox(o Outbox, b *pgx.Batch, ch *Changes) func(ctx context.Context, tx pgx.Tx) error {
	if p, ok := o.(PipelinedOutbox); ok {
		return p.QueueReads(b, ch)
	}
	return func(ctx context.Context, tx pgx.Tx) error { return o.EnqueueTx(ctx, tx, ch) }
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
