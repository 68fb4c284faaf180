package queue

import (
	"context"

	"github.com/jackc/pgx/v5"
)

// Outboxes hands each change to several outboxes in turn (webhooks, then
// notifications): in PostgreSQL all in the one transaction, so that an
// error in any rolls back the change and every outbox's rows and jobs.
type Outboxes []Outbox

var _ PipelinedOutbox = Outboxes(nil)

// QueueReads implements PipelinedOutbox: every outbox's reads on b, and
// their enqueues in turn, in the outboxes' order.
func (os Outboxes) QueueReads(b *pgx.Batch, ch *Changes) func(ctx context.Context, tx pgx.Tx) error {
	fns := make([]func(context.Context, pgx.Tx) error, len(os))
	for i, o := range os {
		fns[i] = queueOutbox(o, b, ch)
	}
	return func(ctx context.Context, tx pgx.Tx) error {
		for _, fn := range fns {
			if err := fn(ctx, tx); err != nil {
				return err
			}
		}
		return nil
	}
}

// EnqueueTx implements Outbox.
func (os Outboxes) EnqueueTx(ctx context.Context, tx pgx.Tx, ch *Changes) error {
	for _, o := range os {
		if err := o.EnqueueTx(ctx, tx, ch); err != nil {
			return err
		}
	}
	return nil
}

// Enqueue implements Outbox. The memory store has no transaction: an
// outbox that fails after another succeeded leaves the first one's jobs
// (each outbox takes its own rows back on failure).
func (os Outboxes) Enqueue(ctx context.Context, ch *Changes) error {
	for _, o := range os {
		if err := o.Enqueue(ctx, ch); err != nil {
			return err
		}
	}
	return nil
}
