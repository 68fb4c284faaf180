package webhooks

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/queueless/queueless/alerts"
)

// Store keeps webhooks and deliveries: in PostgreSQL beside the queue, or
// in memory in embedded mode.
type Store interface {
	CreateWebhook(ctx context.Context, w Webhook) (Webhook, error)
	Webhook(ctx context.Context, id int64) (Webhook, error)
	Webhooks(ctx context.Context) ([]Webhook, error)
	// Deliveries lists a webhook's deliveries, newest first, in status
	// (any when empty), at most limit.
	Deliveries(ctx context.Context, webhookID int64, status string, limit int) ([]Delivery, error)
	// Delivery returns a delivery and its webhook.
	Delivery(ctx context.Context, id string) (Delivery, Webhook, error)
	// Record stores the outcome of an attempt.
	Record(ctx context.Context, id string, o Outcome) error
	// Requeue turns a failed delivery of webhook back to pending and, in
	// the same transaction, calls enqueue (which inserts its job).
	Requeue(ctx context.Context, webhookID int64, id string, enqueue func(ctx context.Context, tx pgx.Tx) error) error

	// subscribers returns the webhooks' events and institutions, read
	// (PostgreSQL) in tx: which events of a change need a payload.
	subscribers(ctx context.Context, tx pgx.Tx) ([]Webhook, error)
	// queueSubscribers queues the same read on b; the list is filled in
	// when b runs (memory: at once).
	queueSubscribers(b *pgx.Batch) *[]Webhook
	// insert writes the deliveries of the candidates that webhooks want
	// (PostgreSQL: in tx) and returns their ids.
	insert(ctx context.Context, tx pgx.Tx, cands []candidate) ([]string, error)
	// insertAlerts writes the deliveries of applied alert transitions to
	// the webhooks that hear of them (alerts.go); PostgreSQL: in tx.
	insertAlerts(ctx context.Context, tx pgx.Tx, ts []alerts.Transition) ([]string, error)
	// UpdateWebhook replaces a webhook's events, institutions and levels.
	UpdateWebhook(ctx context.Context, w Webhook) (Webhook, error)
	// forget removes deliveries whose jobs could not be enqueued (memory;
	// PostgreSQL's transaction rolls them back).
	forget(ids []string)
}

// Outcome is the result of one attempt.
type Outcome struct {
	Status string // delivered, pending (retry at Next) or failed
	Error  string // "" on success
	Next   *time.Time
	At     time.Time
}
