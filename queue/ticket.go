package queue

import (
	"regexp"
	"time"

	"github.com/google/uuid"
)

// TicketStatus is where a ticket is in its life.
type TicketStatus string

// Ticket statuses.
const (
	// TicketHeld: joined in the pre-queue window, waiting for the draw at
	// opening to get a number (day.go, draw.go).
	TicketHeld      TicketStatus = "held"
	TicketWaiting   TicketStatus = "waiting"
	TicketNotified  TicketStatus = "notified"
	TicketServing   TicketStatus = "serving"
	TicketServed    TicketStatus = "served"
	TicketExpired   TicketStatus = "expired"
	TicketCancelled TicketStatus = "cancelled"
)

// ParseTicketStatus checks s is a ticket status that the staff list can
// filter on (held tickets have no number to page by: not listed).
func ParseTicketStatus(s string) (TicketStatus, bool) {
	switch st := TicketStatus(s); st {
	case TicketWaiting, TicketNotified, TicketServing, TicketServed, TicketExpired, TicketCancelled:
		return st, true
	}
	return "", false
}

// Waiting reports whether the status is waiting or notified: not called yet.
func (s TicketStatus) Waiting() bool { return s == TicketWaiting || s == TicketNotified }

// Final reports whether the ticket's life is over.
func (s TicketStatus) Final() bool {
	return s == TicketServed || s == TicketExpired || s == TicketCancelled
}

// Near-turn threshold bounds.
const (
	MinThreshold     = 1
	MaxThreshold     = 10
	DefaultThreshold = 3
)

// Ticket is a citizen's place in a queue.
type Ticket struct {
	ID                   string       `json:"id"`
	InstitutionID        int64        `json:"institution_id"`
	Number               int64        `json:"number"`
	Status               TicketStatus `json:"status"`
	PeopleAhead          int64        `json:"people_ahead"`
	NowServing           int64        `json:"now_serving"`
	NearTurnThreshold    int          `json:"near_turn_threshold"`
	Counter              *string      `json:"counter"`
	EstimatedWaitSeconds *int64       `json:"estimated_wait_seconds"`
	// EstimatedWaitRange is the 10th to 90th percentile of the wait, with
	// EstimatedWaitSeconds its median (API.md v1.1, "Estimates").
	EstimatedWaitRange *[2]int64 `json:"estimated_wait_range"`
	// Service is the code of the ticket's line; Label its daily number
	// there ("A-023"). Position is people_ahead + 1 while it waits.
	Service     string     `json:"service"`
	Label       string     `json:"label"`
	Priority    *Priority  `json:"priority"`
	Position    *int64     `json:"position"`
	Source      string     `json:"source"`
	IssuedAt    time.Time  `json:"issued_at"`
	CalledAt    *time.Time `json:"called_at"`
	CheckedInAt *time.Time `json:"checked_in_at"`
	CompletedAt *time.Time `json:"completed_at"`
	UpdatedAt   time.Time  `json:"updated_at"`

	// Phone is never shown on public endpoints (see StaffTicket).
	Phone *string `json:"-"`
	// Deadline is when a serving ticket that has not checked in expires.
	Deadline *time.Time `json:"-"`
	// Place orders the tickets of a lane (see order.go): the issue time
	// unless a rule gives another. Live events carry it beside the ticket.
	Place time.Time `json:"-"`
	// Requeues and Defers count how often the ticket was requeued and
	// deferred; Moved is the last rule that gave it its place (requeued,
	// deferred, transferred, drawn), empty for its issue time. The
	// fairness log gives Moved as the reason of its in-order call.
	Requeues int    `json:"-"`
	Defers   int    `json:"-"`
	Moved    string `json:"-"`
	// EstimateAtJoin is the estimated_wait_seconds the ticket was given
	// when it joined, kept for stats' estimate error (package stats).
	EstimateAtJoin *int64 `json:"-"`
}

// StaffTicket is a ticket as staff see it, phone included.
type StaffTicket struct {
	Ticket
	Phone *string `json:"phone"`
}

// Notification is a message recorded for a ticket.
type Notification struct {
	ID        int64     `json:"id"`
	TicketID  string    `json:"ticket_id"`
	Event     string    `json:"event"`
	Message   string    `json:"message"`
	CreatedAt time.Time `json:"created_at"`
}

// Notification events.
const (
	NotifyNearTurn   = "near_turn"
	NotifyTurnCalled = "turn_called"
	NotifyCompleted  = "completed"
	NotifyExpired    = "expired"
	NotifyCancelled  = "cancelled"
)

// placeOf is t's place, its issue time when no rule gave it another (a
// ticket written by an older version, or by a store test).
func placeOf(t *Ticket) time.Time {
	if t.Place.IsZero() {
		return t.IssuedAt
	}
	return t.Place
}

var phonePattern = regexp.MustCompile(`^0\d{10}$`)

// ValidPhone reports whether s is a phone number the contract accepts.
func ValidPhone(s string) bool { return phonePattern.MatchString(s) }

// ParseTicketID checks that s is a UUID in canonical form and returns it in
// lower case.
func ParseTicketID(s string) (string, error) {
	if len(s) != 36 {
		return "", Errorf(CodeInvalid, "ticket id must be a UUID")
	}
	id, err := uuid.Parse(s)
	if err != nil {
		return "", Errorf(CodeInvalid, "ticket id must be a UUID")
	}
	return id.String(), nil
}

// decorate fills a ticket's derived fields from its institution (on which
// estimate has run) and its rank among the waiting tickets (ignored unless
// it is waiting). A waiting ticket's estimate is its line's (v1.1).
func (t *Ticket) decorate(inst *Institution, ahead int64) {
	t.NowServing = inst.NowServing
	t.PeopleAhead = 0
	t.EstimatedWaitSeconds, t.EstimatedWaitRange = nil, nil
	t.Position = nil
	if t.Status.Waiting() {
		t.PeopleAhead = ahead
		pos := ahead + 1
		t.Position = &pos
		t.EstimatedWaitSeconds, t.EstimatedWaitRange = ticketWait(inst, t, ahead)
	} else if t.Status == TicketServing {
		zero := int64(0)
		t.EstimatedWaitSeconds = &zero
	}
}

// Staff returns the ticket as staff see it.
func (t Ticket) Staff() StaffTicket { return StaffTicket{Ticket: t, Phone: t.Phone} }
