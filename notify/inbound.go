package notify

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/riverqueue/river"

	"github.com/queueless/queueless/queue"
	"github.com/queueless/queueless/sms"
)

// LaterPlaces is how far back LATER moves a ticket.
const LaterPlaces = 3

// Inbound answers a text from number (0 and 10 digits) with body: STATUS,
// CANCEL, LATER, STOP, START (any case), else the help text. The answer
// is texted back through the gateway as a job, and returned; "" means no
// answer (the number opted out). id is the gateway's id of the message.
func (s *Service) Inbound(ctx context.Context, number, body, id, requestID string) (string, error) {
	word := strings.ToUpper(strings.TrimSpace(body))
	if f := strings.Fields(word); len(f) > 0 {
		word = f[0]
	}
	now := s.now()
	ph, err := s.store.Phone(ctx, number)
	if err != nil {
		return "", err
	}
	var reply string
	switch {
	case word == "STOP":
		if err := s.store.SetOptOut(ctx, number, true, now); err != nil {
			return "", err
		}
		reply = "QueueLess: you will get no more texts. Reply START to get them again."
	case word == "START":
		if err := s.store.SetOptOut(ctx, number, false, now); err != nil {
			return "", err
		}
		reply = "QueueLess: texts are on again. Reply STOP to stop them."
	case ph.OptedOut:
		return "", nil // STOP means no text, not even an answer, until START
	case word == "STATUS" || word == "CANCEL" || word == "LATER":
		reply, err = s.command(ctx, word, ph, requestID)
		if err != nil {
			return "", err
		}
	default:
		reply = sms.HelpText
	}
	if s.cfg.Gateway != nil {
		err := s.jobs.InsertMany(ctx, []river.InsertManyParams{{Args: replyArgs{To: number, Body: reply, ID: id},
			InsertOpts: s.insertOpts()}})
		if err != nil {
			return "", queue.Errorf(queue.CodeUnavailable, "queue the answer: %v", err)
		}
	}
	return reply, nil
}

// command acts on the number's active ticket.
func (s *Service) command(ctx context.Context, word string, ph Phone, requestID string) (string, error) {
	none := "QueueLess: you have no ticket in a queue now."
	if ph.LastTicketID == "" {
		return none, nil
	}
	t, err := s.q.Ticket(ctx, ph.LastTicketID)
	if errors.Is(err, queue.ErrNotFound) || (err == nil && t.Status.Final()) {
		return none, nil
	}
	if err != nil {
		return "", err
	}
	inst, err := s.q.Institution(ctx, t.InstitutionID)
	if err != nil {
		return "", err
	}
	meta := queue.Meta{Actor: queue.ActorCitizen, RequestID: requestID}
	n := name(t)
	switch word {
	case "CANCEL":
		if _, err := s.q.Cancel(ctx, t.ID, meta); err != nil {
			return fmt.Sprintf("%s: ticket %s could not be cancelled: %s", inst.Name, n, message(err)), nil
		}
		return fmt.Sprintf("%s: ticket %s is cancelled. Thank you.", inst.Name, n), nil
	case "LATER":
		moved, err := s.q.Defer(ctx, t.ID, LaterPlaces, meta)
		if err != nil {
			return fmt.Sprintf("%s: ticket %s could not move back: %s", inst.Name, n, message(err)), nil
		}
		return fmt.Sprintf("%s: ticket %s moved back; %d ahead of you now. %s", inst.Name, n, moved.PeopleAhead, s.Link(t.ID)), nil
	}
	return s.status(t, inst), nil
}

func (s *Service) status(t queue.Ticket, inst queue.Institution) string {
	n := name(t)
	switch {
	case t.Status == queue.TicketServing && t.Counter != nil:
		return fmt.Sprintf("%s: ticket %s, it's your turn: counter %s. %s", inst.Name, n, *t.Counter, s.Link(t.ID))
	case t.Status == queue.TicketServing:
		return fmt.Sprintf("%s: ticket %s, it's your turn. %s", inst.Name, n, s.Link(t.ID))
	}
	est := ""
	if t.EstimatedWaitSeconds != nil {
		est = fmt.Sprintf(", about %d min", (*t.EstimatedWaitSeconds+59)/60)
	}
	return fmt.Sprintf("%s: ticket %s, %d ahead of you%s. %s", inst.Name, n, t.PeopleAhead, est, s.Link(t.ID))
}

func message(err error) string {
	var qe *queue.Error
	if errors.As(err, &qe) && qe.Message != "" {
		return qe.Message
	}
	return "please try again later"
}
