package notify

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/queueless/queueless/queue"
)

// PostgresStore keeps notify's tables in PostgreSQL (../migrations 00040).
type PostgresStore struct {
	pool *pgxpool.Pool
}

var _ Store = (*PostgresStore)(nil)

// NewPostgresStore returns a store over pool.
func NewPostgresStore(pool *pgxpool.Pool) *PostgresStore { return &PostgresStore{pool: pool} }

func unavailable(what string, err error) error {
	return fmt.Errorf("%s: %w", what, &queue.Error{Code: queue.CodeUnavailable, Message: "the database is not answering: " + err.Error()})
}

// LoadOrStore implements push.KeyStore: the first instance's key wins, the
// others read it (ON CONFLICT DO NOTHING, then a read in the same
// statement's snapshot or the next).
func (s *PostgresStore) LoadOrStore(ctx context.Context, candidate string) (string, error) {
	if _, err := s.pool.Exec(ctx, `INSERT INTO push_keys (id, private_key) VALUES (1, $1) ON CONFLICT (id) DO NOTHING`, candidate); err != nil {
		return "", unavailable("store VAPID key", err)
	}
	var key string
	if err := s.pool.QueryRow(ctx, `SELECT private_key FROM push_keys WHERE id = 1`).Scan(&key); err != nil {
		return "", unavailable("read VAPID key", err)
	}
	return key, nil
}

// insertSQL writes the SMS deliveries as given and the push deliveries of
// tickets that have a subscription, in one statement.
const insertSQL = `INSERT INTO notification_deliveries (notification_id, channel, ticket_id, event, status, attempts, created_at, updated_at)
	SELECT d.id, d.channel, d.ticket_id, d.event, 'pending', 0, d.at, d.at
	FROM unnest($1::bigint[], $2::text[], $3::uuid[], $4::text[], $5::timestamptz[]) AS d(id, channel, ticket_id, event, at)
	WHERE d.channel = 'sms' OR EXISTS (SELECT 1 FROM push_subscriptions s WHERE s.ticket_id = d.ticket_id)
	ON CONFLICT DO NOTHING
	RETURNING notification_id, channel, ticket_id, event, created_at`

func (s *PostgresStore) insert(ctx context.Context, tx pgx.Tx, sms, pushes []Delivery) ([]Delivery, error) {
	all := append(append([]Delivery(nil), sms...), pushes...)
	n := len(all)
	ids, channels, tickets, events, ats := make([]int64, n), make([]string, n), make([]string, n), make([]string, n), make([]time.Time, n)
	for i, d := range all {
		ids[i], channels[i], tickets[i], events[i], ats[i] = d.NotificationID, d.Channel, d.TicketID, d.Event, d.CreatedAt
	}
	rows, _ := tx.Query(ctx, insertSQL, ids, channels, tickets, events, ats)
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Delivery, error) {
		d := Delivery{Status: StatusPending}
		err := r.Scan(&d.NotificationID, &d.Channel, &d.TicketID, &d.Event, &d.CreatedAt)
		d.UpdatedAt = d.CreatedAt
		return d, err
	})
	if err != nil {
		return nil, fmt.Errorf("insert notification deliveries: %w", err)
	}
	return out, nil
}

func (s *PostgresStore) forget([]Delivery) {}

const deliveryColumns = `notification_id, channel, ticket_id, event, status, attempts, last_error, created_at, updated_at`

func scanDelivery(row pgx.Row) (Delivery, error) {
	var d Delivery
	err := row.Scan(&d.NotificationID, &d.Channel, &d.TicketID, &d.Event, &d.Status, &d.Attempts, &d.LastError, &d.CreatedAt, &d.UpdatedAt)
	return d, err
}

// Delivery implements Store.
func (s *PostgresStore) Delivery(ctx context.Context, id int64, channel string) (Delivery, error) {
	d, err := scanDelivery(s.pool.QueryRow(ctx, `SELECT `+deliveryColumns+` FROM notification_deliveries
		WHERE notification_id = $1 AND channel = $2`, id, channel))
	if errors.Is(err, pgx.ErrNoRows) {
		return Delivery{}, queue.Errorf(queue.CodeNotFound, "delivery %d/%s not found", id, channel)
	}
	if err != nil {
		return Delivery{}, unavailable("read delivery", err)
	}
	return d, nil
}

// Record implements Store.
func (s *PostgresStore) Record(ctx context.Context, id int64, channel, status, lastError string, attempt bool, at time.Time) error {
	var le *string
	if lastError != "" {
		le = &lastError
	}
	inc := 0
	if attempt {
		inc = 1
	}
	_, err := s.pool.Exec(ctx, `UPDATE notification_deliveries SET status = $3, last_error = $4,
		attempts = attempts + $5, updated_at = $6 WHERE notification_id = $1 AND channel = $2`, id, channel, status, le, inc, at)
	if err != nil {
		return unavailable("record delivery", err)
	}
	return nil
}

func (s *PostgresStore) list(ctx context.Context, sql string, args ...any) ([]Delivery, error) {
	rows, _ := s.pool.Query(ctx, sql, args...)
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Delivery, error) { return scanDelivery(r) })
	if err != nil {
		return nil, unavailable("list deliveries", err)
	}
	return list, nil
}

// TicketDeliveries implements Store.
func (s *PostgresStore) TicketDeliveries(ctx context.Context, ticketID string) ([]Delivery, error) {
	return s.list(ctx, `SELECT `+deliveryColumns+` FROM notification_deliveries WHERE ticket_id = $1
		ORDER BY notification_id, channel`, ticketID)
}

// LastTexts implements Store.
func (s *PostgresStore) LastTexts(ctx context.Context, ids []string) (map[string]Delivery, error) {
	list, err := s.list(ctx, `SELECT DISTINCT ON (ticket_id) `+deliveryColumns+` FROM notification_deliveries
		WHERE ticket_id = ANY ($1::uuid[]) AND channel = 'sms' ORDER BY ticket_id, notification_id DESC`, ids)
	out := map[string]Delivery{}
	for _, d := range list {
		out[d.TicketID] = d
	}
	return out, err
}

const phoneColumns = `phone, verified_at, opted_out, coalesce(code_hash, ''), code_expires_at, code_tries, coalesce(last_ticket_id::text, '')`

func scanPhone(row pgx.Row) (Phone, error) {
	var p Phone
	err := row.Scan(&p.Number, &p.VerifiedAt, &p.OptedOut, &p.CodeHash, &p.CodeExpiresAt, &p.CodeTries, &p.LastTicketID)
	return p, err
}

// Phone implements Store.
func (s *PostgresStore) Phone(ctx context.Context, number string) (Phone, error) {
	p, err := scanPhone(s.pool.QueryRow(ctx, `SELECT `+phoneColumns+` FROM sms_phones WHERE phone = $1`, number))
	if errors.Is(err, pgx.ErrNoRows) {
		return Phone{Number: number}, nil
	}
	if err != nil {
		return Phone{}, unavailable("read phone", err)
	}
	return p, nil
}

// Phones implements Store.
func (s *PostgresStore) Phones(ctx context.Context, numbers []string) (map[string]Phone, error) {
	rows, _ := s.pool.Query(ctx, `SELECT `+phoneColumns+` FROM sms_phones WHERE phone = ANY ($1)`, numbers)
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Phone, error) { return scanPhone(r) })
	if err != nil {
		return nil, unavailable("read phones", err)
	}
	out := map[string]Phone{}
	for _, p := range list {
		out[p.Number] = p
	}
	return out, nil
}

// upsert creates the number's row if need be, then sets set on it: for
// the rare updates (verified, opted out); the phone job's two are single
// statements.
func (s *PostgresStore) upsert(ctx context.Context, what, set string, args ...any) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO sms_phones AS p (phone, updated_at) VALUES ($1, $2)
		ON CONFLICT (phone) DO UPDATE SET updated_at = excluded.updated_at`, args[0], args[1])
	if err == nil {
		_, err = s.pool.Exec(ctx, `UPDATE sms_phones SET `+set+` WHERE phone = $1`, args...)
	}
	if err != nil {
		return unavailable(what, err)
	}
	return nil
}

// SetLastTicket implements Store: one statement, one commit, and the
// number's row back, which the phone job reads next (issue 13: the job
// runs once per join with a phone, 20,000 times after a flash crowd).
func (s *PostgresStore) SetLastTicket(ctx context.Context, number, ticketID string, at time.Time) (Phone, error) {
	p, err := scanPhone(s.pool.QueryRow(ctx, `INSERT INTO sms_phones AS p (phone, updated_at, last_ticket_id) VALUES ($1, $2, $3)
		ON CONFLICT (phone) DO UPDATE SET updated_at = excluded.updated_at, last_ticket_id = excluded.last_ticket_id
		RETURNING `+phoneColumns, number, at, ticketID))
	if err != nil {
		return Phone{}, unavailable("record phone's ticket", err)
	}
	return p, nil
}

// SetCode implements Store, in one statement.
func (s *PostgresStore) SetCode(ctx context.Context, number, hash string, expires, at time.Time) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO sms_phones AS p (phone, updated_at, code_hash, code_expires_at, code_tries) VALUES ($1, $2, $3, $4, 0)
		ON CONFLICT (phone) DO UPDATE SET updated_at = excluded.updated_at, code_hash = excluded.code_hash,
			code_expires_at = excluded.code_expires_at, code_tries = 0`, number, at, hash, expires)
	if err != nil {
		return unavailable("store code", err)
	}
	return nil
}

// UseTry implements Store: one statement, so that concurrent tries cannot
// use more than maxTries between them.
func (s *PostgresStore) UseTry(ctx context.Context, number string, maxTries int, now time.Time) (string, bool, error) {
	var hash string
	err := s.pool.QueryRow(ctx, `UPDATE sms_phones SET code_tries = code_tries + 1, updated_at = $3
		WHERE phone = $1 AND code_hash IS NOT NULL AND code_expires_at > $3 AND code_tries < $2
		RETURNING code_hash`, number, maxTries, now).Scan(&hash)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", false, nil
	}
	if err != nil {
		return "", false, unavailable("check code", err)
	}
	return hash, true, nil
}

// MarkVerified implements Store.
func (s *PostgresStore) MarkVerified(ctx context.Context, number string, at time.Time) error {
	return s.upsert(ctx, "verify phone", `updated_at = $2, verified_at = $2, code_hash = NULL, code_expires_at = NULL`, number, at)
}

// SetOptOut implements Store.
func (s *PostgresStore) SetOptOut(ctx context.Context, number string, out bool, at time.Time) error {
	return s.upsert(ctx, "opt out", `updated_at = $2, opted_out = $3`, number, at, out)
}

// Subscribe implements Store.
func (s *PostgresStore) Subscribe(ctx context.Context, ticketID string, sub []byte, at time.Time) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO push_subscriptions (ticket_id, subscription, created_at) VALUES ($1, $2, $3)
		ON CONFLICT (ticket_id) DO UPDATE SET subscription = excluded.subscription, created_at = excluded.created_at`, ticketID, sub, at)
	if err != nil {
		return unavailable("store subscription", err)
	}
	return nil
}

// Subscription implements Store.
func (s *PostgresStore) Subscription(ctx context.Context, ticketID string) ([]byte, error) {
	var sub []byte
	err := s.pool.QueryRow(ctx, `SELECT subscription FROM push_subscriptions WHERE ticket_id = $1`, ticketID).Scan(&sub)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, queue.Errorf(queue.CodeNotFound, "ticket %s has no push subscription", ticketID)
	}
	if err != nil {
		return nil, unavailable("read subscription", err)
	}
	return sub, nil
}

// Unsubscribe implements Store.
func (s *PostgresStore) Unsubscribe(ctx context.Context, ticketID string) error {
	if _, err := s.pool.Exec(ctx, `DELETE FROM push_subscriptions WHERE ticket_id = $1`, ticketID); err != nil {
		return unavailable("delete subscription", err)
	}
	return nil
}
