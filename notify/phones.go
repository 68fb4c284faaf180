package notify

import (
	"context"
	"crypto/subtle"
	"regexp"
	"time"

	"github.com/queueless/queueless/queue"
)

var codePattern = regexp.MustCompile(`^[0-9]{6}$`)

// Verified is the answer to a right code.
type Verified struct {
	Verified      bool      `json:"verified"`
	VerifiedUntil time.Time `json:"verified_until"`
}

// VerifyPhone checks the code texted to the ticket's number (API.md:
// POST /api/v1/tickets/{id}/verify-phone): 5 tries within 10 minutes of
// the code, then 409 invalid_state; a wrong code is 400.
func (s *Service) VerifyPhone(ctx context.Context, ticketID, code string) (Verified, error) {
	t, err := s.q.Ticket(ctx, ticketID)
	if err != nil {
		return Verified{}, err
	}
	if t.Phone == nil {
		return Verified{}, queue.Errorf(queue.CodeInvalidState, "this ticket was taken without a phone number")
	}
	now := s.now()
	ph, err := s.store.Phone(ctx, *t.Phone)
	if err != nil {
		return Verified{}, err
	}
	if ph.Verified(now) {
		return Verified{true, ph.VerifiedAt.Add(VerifyFor)}, nil
	}
	if !codePattern.MatchString(code) {
		return Verified{}, queue.Errorf(queue.CodeInvalid, "code must be the 6 digits of the text")
	}
	hash, ok, err := s.store.UseTry(ctx, *t.Phone, CodeTries, now)
	if err != nil {
		return Verified{}, err
	}
	if !ok {
		return Verified{}, queue.Errorf(queue.CodeInvalidState, "no code is waiting for this number: codes last 10 minutes and allow 5 tries")
	}
	if subtle.ConstantTimeCompare([]byte(hash), []byte(codeHash(*t.Phone, code))) != 1 {
		return Verified{}, queue.Errorf(queue.CodeInvalid, "wrong code")
	}
	if err := s.store.MarkVerified(ctx, *t.Phone, now); err != nil {
		return Verified{}, err
	}
	return Verified{true, now.Add(VerifyFor)}, nil
}

// TextState is a ticket's texts as its page and the staff console show
// them: "none" (no phone, or no gateway), "opted_out", "not_verified",
// "verified" (nothing sent yet), or the last text's status (pending, sent,
// failed, suppressed).
type TextState struct {
	TicketID  string  `json:"ticket_id"`
	State     string  `json:"state"`
	Event     string  `json:"event,omitempty"`
	LastError *string `json:"last_error,omitempty"` // staff only
}

// Texts returns the text state of each ticket; staff see the last error.
func (s *Service) Texts(ctx context.Context, tickets []queue.Ticket, staff bool) ([]TextState, error) {
	out := make([]TextState, len(tickets))
	var ids, numbers []string
	for i, t := range tickets {
		out[i] = TextState{TicketID: t.ID, State: "none"}
		if t.Phone != nil && s.cfg.Gateway != nil {
			ids, numbers = append(ids, t.ID), append(numbers, *t.Phone)
		}
	}
	if len(ids) == 0 {
		return out, nil
	}
	last, err := s.store.LastTexts(ctx, ids)
	if err != nil {
		return nil, err
	}
	phones, err := s.store.Phones(ctx, numbers)
	if err != nil {
		return nil, err
	}
	now := s.now()
	for i, t := range tickets {
		if t.Phone == nil || s.cfg.Gateway == nil {
			continue
		}
		ph := phones[*t.Phone]
		d, sent := last[t.ID]
		switch {
		case ph.OptedOut:
			out[i].State = "opted_out"
		case s.cfg.Verify && !ph.Verified(now) && (!sent || d.Status != StatusSent):
			out[i].State = "not_verified"
		case sent:
			out[i].State, out[i].Event = d.Status, d.Event
			if staff {
				out[i].LastError = d.LastError
			}
		default:
			out[i].State = "verified"
		}
	}
	return out, nil
}

// DeliveryView is a delivery as a Notification shows it (API.md v1.1).
type DeliveryView struct {
	Channel   string  `json:"channel"`
	Status    string  `json:"status"`
	Attempts  *int    `json:"attempts,omitempty"`   // staff
	LastError *string `json:"last_error,omitempty"` // staff
}

// NotificationView is a Notification with its deliveries.
type NotificationView struct {
	queue.Notification
	Deliveries []DeliveryView `json:"deliveries"`
}

// Notifications adds each notification's deliveries; staff see attempts
// and the last error, citizens the status only.
func (s *Service) Notifications(ctx context.Context, ticketID string, list []queue.Notification, staff bool) ([]NotificationView, error) {
	ds, err := s.store.TicketDeliveries(ctx, ticketID)
	if err != nil {
		return nil, err
	}
	by := map[int64][]DeliveryView{}
	for _, d := range ds {
		v := DeliveryView{Channel: d.Channel, Status: d.Status}
		if staff {
			n := d.Attempts
			v.Attempts, v.LastError = &n, d.LastError
		}
		by[d.NotificationID] = append(by[d.NotificationID], v)
	}
	out := make([]NotificationView, len(list))
	for i, n := range list {
		out[i] = NotificationView{Notification: n, Deliveries: by[n.ID]}
		if out[i].Deliveries == nil {
			out[i].Deliveries = []DeliveryView{}
		}
	}
	return out, nil
}
