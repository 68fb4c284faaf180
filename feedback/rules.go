package feedback

import (
	"errors"
	"fmt"
	"time"
)

// Window is how long after being served a citizen may give feedback.
const Window = 24 * time.Hour

// Errors of the rule; all three are the contract's 409 invalid_state.
var (
	ErrNotServed    = errors.New("feedback is given once the ticket has been served")
	ErrAlreadyGiven = errors.New("feedback has already been given for this ticket")
	ErrTooLate      = errors.New("feedback is taken within 24 hours of being served")
)

// Ticket is what the rule needs to know of a ticket.
type Ticket struct {
	// Served: the ticket's status is served.
	Served bool
	// ServedAt is when it was served (the ticket's completed_at).
	ServedAt time.Time
	// HasFeedback: feedback was already stored for it.
	HasFeedback bool
}

// Allowed reports whether feedback may be given for t at now: only once,
// only after the ticket was served, and only within Window of that
// (Window itself included). The error wraps ErrNotServed, ErrAlreadyGiven
// or ErrTooLate. A clock that puts now before ServedAt is not held against
// the citizen.
func Allowed(t Ticket, now time.Time) error {
	switch {
	case !t.Served:
		return ErrNotServed
	case t.HasFeedback:
		return ErrAlreadyGiven
	case now.Sub(t.ServedAt) > Window:
		return fmt.Errorf("%w: it was served at %s", ErrTooLate, t.ServedAt.UTC().Format(time.RFC3339))
	}
	return nil
}
