package webhooks

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/queueless/queueless/queue"
)

// PostgresStore keeps webhooks in PostgreSQL (../migrations).
type PostgresStore struct {
	pool *pgxpool.Pool
}

var _ Store = (*PostgresStore)(nil)

// NewPostgresStore returns a store over pool.
func NewPostgresStore(pool *pgxpool.Pool) *PostgresStore { return &PostgresStore{pool: pool} }

const webhookColumns = `id, url, events, institution_ids, secret, created_at, levels`

func scanWebhook(row pgx.Row) (Webhook, error) {
	var w Webhook
	err := row.Scan(&w.ID, &w.URL, &w.Events, &w.InstitutionIDs, &w.Secret, &w.CreatedAt, &w.Levels)
	return w, err
}

func notFound(what string) error { return queue.Errorf(queue.CodeNotFound, "%s not found", what) }

func unavailable(what string, err error) error {
	return fmt.Errorf("%s: %w", what, &queue.Error{Code: queue.CodeUnavailable, Message: "the database is not answering: " + err.Error()})
}

// CreateWebhook implements Store.
func (s *PostgresStore) CreateWebhook(ctx context.Context, w Webhook) (Webhook, error) {
	err := s.pool.QueryRow(ctx, `INSERT INTO webhooks (url, events, institution_ids, secret, created_at, levels)
		VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`, w.URL, w.Events, w.InstitutionIDs, w.Secret, w.CreatedAt, w.Levels).Scan(&w.ID)
	if err != nil {
		return Webhook{}, unavailable("create webhook", err)
	}
	return w, nil
}

// Webhook implements Store.
func (s *PostgresStore) Webhook(ctx context.Context, id int64) (Webhook, error) {
	w, err := scanWebhook(s.pool.QueryRow(ctx, `SELECT `+webhookColumns+` FROM webhooks WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return Webhook{}, notFound(fmt.Sprintf("webhook %d", id))
	}
	if err != nil {
		return Webhook{}, unavailable("read webhook", err)
	}
	return w, nil
}

// Webhooks implements Store.
func (s *PostgresStore) Webhooks(ctx context.Context) ([]Webhook, error) {
	rows, _ := s.pool.Query(ctx, `SELECT `+webhookColumns+` FROM webhooks ORDER BY id`)
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Webhook, error) { return scanWebhook(r) })
	if err != nil {
		return nil, unavailable("list webhooks", err)
	}
	return list, nil
}

const deliveryColumns = `id, webhook_id, event, event_id, institution_id, payload, attempts, status,
	last_error, next_attempt_at, created_at`

func scanDelivery(row pgx.Row) (Delivery, error) {
	var d Delivery
	err := row.Scan(&d.ID, &d.WebhookID, &d.Event, &d.EventID, &d.InstitutionID, &d.Payload, &d.Attempts,
		&d.Status, &d.LastError, &d.NextAttemptAt, &d.CreatedAt)
	return d, err
}

// Deliveries implements Store.
func (s *PostgresStore) Deliveries(ctx context.Context, webhookID int64, status string, limit int) ([]Delivery, error) {
	rows, _ := s.pool.Query(ctx, `SELECT `+deliveryColumns+` FROM webhook_deliveries
		WHERE webhook_id = $1 AND ($2 = '' OR status = $2) ORDER BY created_at DESC, id LIMIT $3`, webhookID, status, limit)
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Delivery, error) { return scanDelivery(r) })
	if err != nil {
		return nil, unavailable("list deliveries", err)
	}
	return list, nil
}

// Delivery implements Store.
func (s *PostgresStore) Delivery(ctx context.Context, id string) (Delivery, Webhook, error) {
	d, err := scanDelivery(s.pool.QueryRow(ctx, `SELECT `+deliveryColumns+` FROM webhook_deliveries WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return Delivery{}, Webhook{}, notFound("delivery " + id)
	}
	if err != nil {
		return Delivery{}, Webhook{}, unavailable("read delivery", err)
	}
	w, err := s.Webhook(ctx, d.WebhookID)
	return d, w, err
}

// Record implements Store.
func (s *PostgresStore) Record(ctx context.Context, id string, o Outcome) error {
	var lastErr *string
	if o.Error != "" {
		lastErr = &o.Error
	}
	_, err := s.pool.Exec(ctx, `UPDATE webhook_deliveries SET attempts = attempts + 1, status = $2,
		last_error = $3, next_attempt_at = $4, updated_at = $5 WHERE id = $1`, id, o.Status, lastErr, o.Next, o.At)
	if err != nil {
		return unavailable("record delivery attempt", err)
	}
	return nil
}

// Requeue implements Store.
func (s *PostgresStore) Requeue(ctx context.Context, webhookID int64, id string, enqueue func(context.Context, pgx.Tx) error) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var status string
		err := tx.QueryRow(ctx, `SELECT status FROM webhook_deliveries WHERE id = $1 AND webhook_id = $2 FOR UPDATE`,
			id, webhookID).Scan(&status)
		if errors.Is(err, pgx.ErrNoRows) {
			return notFound("delivery " + id + " of this webhook")
		}
		if err != nil {
			return unavailable("retry delivery", err)
		}
		if status != StatusFailed {
			return queue.Errorf(queue.CodeInvalidState, "delivery %s is %s: only a failed delivery can be retried", id, status)
		}
		if _, err := tx.Exec(ctx, `UPDATE webhook_deliveries SET status = 'pending', next_attempt_at = $2,
			updated_at = $2 WHERE id = $1`, id, time.Now().UTC()); err != nil {
			return unavailable("retry delivery", err)
		}
		return enqueue(ctx, tx)
	})
}

// One statement matches the change's events with the webhooks that want
// them and writes a delivery for each pair.
const insertDeliveriesSQL = `INSERT INTO webhook_deliveries (id, webhook_id, event, event_id, institution_id,
		payload, status, attempts, created_at, updated_at)
	SELECT gen_random_uuid(), w.id, e.event, e.event_id, e.inst, e.payload, 'pending', 0, e.at, e.at
	FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::jsonb[], $5::timestamptz[])
		WITH ORDINALITY AS e(event, event_id, inst, payload, at, ord)
	JOIN webhooks w ON e.event = ANY (w.events)
		AND (cardinality(w.institution_ids) = 0 OR e.inst = ANY (w.institution_ids))
	ORDER BY e.ord, w.id
	RETURNING id`

// subscribersSQL reads what insertDeliveriesSQL joins on, in the same
// transaction: an event none of these rows wants gets no payload.
const subscribersSQL = `SELECT id, events, institution_ids FROM webhooks`

func (s *PostgresStore) subscribers(ctx context.Context, tx pgx.Tx) ([]Webhook, error) {
	rows, _ := tx.Query(ctx, subscribersSQL)
	return collectSubscribers(rows)
}

func (s *PostgresStore) queueSubscribers(b *pgx.Batch) *[]Webhook {
	var hooks []Webhook
	b.Queue(subscribersSQL).Query(func(rows pgx.Rows) (err error) {
		hooks, err = collectSubscribers(rows)
		return err
	})
	return &hooks
}

func collectSubscribers(rows pgx.Rows) ([]Webhook, error) {
	hooks, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Webhook, error) {
		var w Webhook
		err := r.Scan(&w.ID, &w.Events, &w.InstitutionIDs)
		return w, err
	})
	if err != nil {
		return nil, fmt.Errorf("read webhooks: %w", err)
	}
	return hooks, nil
}

func (s *PostgresStore) insert(ctx context.Context, tx pgx.Tx, cands []candidate) ([]string, error) {
	n := len(cands)
	events, ids, insts, payloads, ats := make([]string, n), make([]int64, n), make([]int64, n), make([]string, n), make([]time.Time, n)
	for i, c := range cands {
		events[i], ids[i], insts[i], payloads[i], ats[i] = c.event, c.eventID, c.inst, string(c.payload), c.at
	}
	rows, _ := tx.Query(ctx, insertDeliveriesSQL, events, ids, insts, payloads, ats)
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("insert webhook deliveries: %w", err)
	}
	return out, nil
}

func (s *PostgresStore) forget([]string) {}
