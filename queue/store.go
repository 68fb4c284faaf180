package queue

import (
	"context"
	"encoding/json"
	"time"
)

// AuditEvent is one entry of an institution's append-only audit trail.
type AuditEvent struct {
	ID            int64           `json:"id"`
	At            time.Time       `json:"at"`
	Kind          string          `json:"kind"`
	TicketID      *string         `json:"ticket_id"`
	Number        *int64          `json:"number"`
	Actor         string          `json:"actor"`
	RequestID     string          `json:"request_id"`
	Data          json.RawMessage `json:"data"`
	InstitutionID int64           `json:"-"`
}

// Audit event kinds.
const (
	AuditJoined       = "ticket.joined"
	AuditNotified     = "ticket.notified"
	AuditCalled       = "ticket.called"
	AuditRecalled     = "ticket.recalled"
	AuditCheckedIn    = "ticket.checked_in"
	AuditServed       = "ticket.served"
	AuditExpired      = "ticket.expired"
	AuditCancelled    = "ticket.cancelled"
	AuditPriority     = "ticket.priority"
	AuditServices     = "institution.services"
	AuditCounters     = "institution.counters"
	AuditCreated      = "institution.created"
	AuditUpdated      = "institution.updated"
	AuditAnnouncement = "announcement"
)

// IdempotencyKey records the ticket a join with a key issued.
type IdempotencyKey struct {
	InstitutionID int64
	Key           string
	TicketID      string
	CreatedAt     time.Time
}

// Changes is what one transaction writes. The store applies all of it or
// nothing, and fills in the ids it assigns (notifications, audit events).
type Changes struct {
	// Institution is the institution's new state; nil when it did not change.
	Institution     *Institution
	Inserted        []Ticket
	Updated         []Ticket
	Notifications   []Notification
	Audit           []AuditEvent
	IdempotencyKeys []IdempotencyKey
	// Calls are the tickets this change called, in call order, for the
	// live board. Their record in the store is the audit trail's
	// ticket.called and ticket.recalled events, which Audit holds.
	Calls []CallRecord
	// DayState is the day job's new state for the institution when only it
	// changed (Institution nil): written without a new version.
	DayState *DayState
}

func (c *Changes) empty() bool {
	return c.Institution == nil && c.DayState == nil && len(c.Inserted) == 0 && len(c.Updated) == 0 &&
		len(c.Notifications) == 0 && len(c.Audit) == 0 && len(c.IdempotencyKeys) == 0
}

// Store keeps institutions and tickets. Every change goes through Update,
// which holds the institution's lock for the whole transaction.
type Store interface {
	// Update locks institution id (SELECT ... FOR UPDATE), runs fn, and
	// applies the changes it returns in the same transaction. When fn returns
	// an error nothing is written. It returns the changes as applied.
	Update(ctx context.Context, id int64, fn func(ctx context.Context, tx Tx) (Changes, error)) (Changes, error)
	// CreateInstitution inserts a new institution and its audit event.
	CreateInstitution(ctx context.Context, inst Institution, ev AuditEvent) (Institution, error)

	Institutions(ctx context.Context) ([]Institution, error)
	Institution(ctx context.Context, id int64) (Institution, error)
	Ticket(ctx context.Context, id string) (Ticket, error)
	// WaitingBefore counts waiting or notified tickets of the institution
	// with a number lower than number.
	WaitingBefore(ctx context.Context, institutionID, number int64) (int64, error)
	// Tickets lists tickets of the institution in the given statuses with a
	// number above after, in number order.
	Tickets(ctx context.Context, institutionID int64, statuses []TicketStatus, after int64, limit int) ([]Ticket, error)
	// WaitingNumbers lists the numbers of all waiting or notified tickets.
	WaitingNumbers(ctx context.Context, institutionID int64) ([]int64, error)
	// WaitingPlaces lists every waiting or notified ticket of the
	// institution with what orders it (line, place, priority), in number
	// order: the live hub's copy of the queue.
	WaitingPlaces(ctx context.Context, institutionID int64) ([]Waiter, error)
	// LaneRank counts the waiting or notified tickets of t's line that come
	// before t (by place, then number): in t's lane (priority or regular)
	// when lane is set, else in the whole line.
	LaneRank(ctx context.Context, t Ticket, lane bool) (int64, error)
	Notifications(ctx context.Context, ticketID string) ([]Notification, error)
	Events(ctx context.Context, institutionID, after int64, limit int) ([]AuditEvent, error)
	// CallEvents lists the institution's ticket.called and
	// ticket.recalled events at or after from and before to, with an id
	// above after, in id order: the fairness log.
	CallEvents(ctx context.Context, institutionID int64, from, to time.Time, after int64, limit int) ([]AuditEvent, error)
	// DueExpiries lists institutions with a serving ticket, not checked in,
	// whose deadline is at or before now.
	DueExpiries(ctx context.Context, now time.Time) ([]int64, error)
	// PurgeIdempotencyKeys deletes keys created before cutoff.
	PurgeIdempotencyKeys(ctx context.Context, cutoff time.Time) error
	Ping(ctx context.Context) error
}

// Waiter is a waiting ticket as the calling order sees it.
type Waiter struct {
	ID       string    `json:"id"`
	Number   int64     `json:"number"`
	Service  string    `json:"service"`
	Place    time.Time `json:"place"`
	Priority bool      `json:"priority"`
}

// Tx reads inside an Update transaction, under the institution's lock.
type Tx interface {
	// Institution is the locked institution as it was when Update began.
	Institution() Institution
	// Ticket returns a ticket of the locked institution.
	Ticket(ctx context.Context, id string) (Ticket, error)
	// Waiting returns the first limit waiting or notified tickets by number.
	Waiting(ctx context.Context, limit int) ([]Ticket, error)
	// Front returns, for each line of codes (every line when nil), the
	// first perLane waiting or notified tickets of its regular lane and of
	// its priority lane, by place and then number: what the calling order
	// (order.go) needs to call up to perLane tickets and see who comes next.
	Front(ctx context.Context, codes []string, perLane int) ([]Ticket, error)
	// LaneRank is Store.LaneRank under the lock.
	LaneRank(ctx context.Context, t Ticket, lane bool) (int64, error)
	// Serving returns every serving ticket.
	Serving(ctx context.Context) ([]Ticket, error)
	// Held returns every held ticket (joined in the pre-queue window, not
	// drawn yet), in issue order.
	Held(ctx context.Context) ([]Ticket, error)
	// ActivePhones reports which of phones hold a waiting, notified or
	// serving ticket: one lookup for a whole batch of joins. The map is new,
	// the caller's to change.
	ActivePhones(ctx context.Context, phones []string) (map[string]bool, error)
	// IdempotentTickets returns, for each of keys recorded at or after since,
	// the ticket it issued: one lookup for a whole batch of joins.
	IdempotentTickets(ctx context.Context, keys []string, since time.Time) (map[string]string, error)
}
