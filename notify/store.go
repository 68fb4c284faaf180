package notify

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/queueless/queueless/push"
)

// Phone is what is kept about a phone number.
type Phone struct {
	Number        string
	VerifiedAt    *time.Time
	OptedOut      bool
	CodeHash      string
	CodeExpiresAt *time.Time
	CodeTries     int
	LastTicketID  string
}

// VerifyFor is how long a verified number stays verified.
const VerifyFor = 90 * 24 * time.Hour

// Verified reports whether the number is verified at now.
func (p Phone) Verified(now time.Time) bool {
	return p.VerifiedAt != nil && now.Sub(*p.VerifiedAt) < VerifyFor
}

// Store keeps deliveries, phones, push subscriptions and the VAPID key: in
// PostgreSQL beside the queue, or in memory in embedded mode.
type Store interface {
	push.KeyStore

	// insert writes deliveries (PostgreSQL: in tx). Push deliveries are
	// written only for tickets with a subscription; it returns those
	// written.
	insert(ctx context.Context, tx pgx.Tx, sms, pushes []Delivery) ([]Delivery, error)
	// forget removes deliveries whose jobs could not be enqueued (memory).
	forget(ds []Delivery)

	Delivery(ctx context.Context, notificationID int64, channel string) (Delivery, error)
	// Record stores an attempt's outcome; attempt counts it.
	Record(ctx context.Context, notificationID int64, channel, status, lastError string, attempt bool, at time.Time) error
	// TicketDeliveries lists a ticket's deliveries.
	TicketDeliveries(ctx context.Context, ticketID string) ([]Delivery, error)
	// LastTexts returns each ticket's latest SMS delivery.
	LastTexts(ctx context.Context, ticketIDs []string) (map[string]Delivery, error)

	// Phone returns the number's state (a zero state for a new number).
	Phone(ctx context.Context, number string) (Phone, error)
	Phones(ctx context.Context, numbers []string) (map[string]Phone, error)
	// SetLastTicket makes ticketID the one the number's replies act on,
	// and returns the number's record as it then is.
	SetLastTicket(ctx context.Context, number, ticketID string, at time.Time) (Phone, error)
	// SetCode stores a fresh code's hash, with no tries used.
	SetCode(ctx context.Context, number, hash string, expires, at time.Time) error
	// UseTry takes one of the pending code's tries, atomically: ok is false
	// when no code is pending, it expired or its tries are used up.
	UseTry(ctx context.Context, number string, maxTries int, now time.Time) (hash string, ok bool, err error)
	// MarkVerified verifies the number and drops its code.
	MarkVerified(ctx context.Context, number string, at time.Time) error
	SetOptOut(ctx context.Context, number string, out bool, at time.Time) error

	Subscribe(ctx context.Context, ticketID string, sub []byte, at time.Time) error
	// Subscription returns the ticket's subscription JSON; queue.ErrNotFound
	// when it has none.
	Subscription(ctx context.Context, ticketID string) ([]byte, error)
	Unsubscribe(ctx context.Context, ticketID string) error
}
