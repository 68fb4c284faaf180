package notify

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/riverqueue/river"

	"github.com/queueless/queueless/push"
	"github.com/queueless/queueless/queue"
)

// pushArgs is a web push's delivery job.
type pushArgs struct {
	NotificationID int64 `json:"notification_id"`
}

// Kind implements river.JobArgs.
func (pushArgs) Kind() string { return "push_delivery" }

type pushWorker struct{ jobPolicy[pushArgs] }

func (w *pushWorker) Work(ctx context.Context, job *river.Job[pushArgs]) error {
	return w.s.deliver(ctx, job.Args.NotificationID, ChannelPush, job.Attempt, job.MaxAttempts, w.s.sendPush)
}

// PushMessage is what a ticket's push says for event.
func (s *Service) PushMessage(event string, t queue.Ticket, inst queue.Institution) push.Message {
	m := push.Message{Event: event, URL: s.Link(t.ID)}
	n := name(t)
	switch event {
	case queue.NotifyNearTurn:
		m.Title, m.Body = "Almost your turn: "+n, inst.Name+": please come to the office."
	case queue.NotifyTurnCalled:
		m.Title, m.Body = "Your turn: "+n, inst.Name+": go to the counter now."
		if t.Counter != nil {
			m.Body = fmt.Sprintf("%s: go to counter %s now.", inst.Name, *t.Counter)
		}
	case queue.NotifyExpired:
		m.Title, m.Body = "Ticket "+n+" expired", inst.Name+": you were called but did not check in."
	default:
		m.Title, m.Body = "Ticket "+n, inst.Name+": "+event
	}
	return m
}

// sendPush sends a notification's push and maps the push service's answer
// (push.OutcomeOf): gone deletes the subscription.
func (s *Service) sendPush(ctx context.Context, d Delivery, t queue.Ticket, inst queue.Institution) result {
	if s.cfg.Push == nil {
		return result{suppress: "push is off"}
	}
	raw, err := s.store.Subscription(ctx, t.ID)
	if errors.Is(err, queue.ErrNotFound) {
		return result{suppress: "no push subscription"}
	}
	if err != nil {
		return result{err: err}
	}
	sub, err := s.cfg.PushPolicy.ParseSubscription(raw)
	if err != nil {
		return result{err: err, permanent: true}
	}
	err = s.cfg.Push.Send(ctx, sub, s.PushMessage(d.Event, t, inst),
		push.Options{TTL: 10 * time.Minute, Urgency: push.UrgencyHigh, Topic: push.TopicFor(t.ID)})
	var se *push.SendError
	errors.As(err, &se)
	switch push.OutcomeOf(err) {
	case push.Sent:
		return result{}
	case push.Gone:
		if uerr := s.store.Unsubscribe(ctx, t.ID); uerr != nil {
			return result{err: uerr}
		}
		return result{err: fmt.Errorf("subscription gone, deleted: %w", err), permanent: true}
	case push.Permanent:
		return result{err: err, permanent: true}
	}
	r := result{err: err}
	if se != nil {
		r.snooze = se.RetryAfter
	}
	return r
}

// Subscribe keeps the ticket's PushSubscription JSON (API.md: POST
// /api/v1/tickets/{id}/push): push.ErrInvalidSubscription for a bad one.
func (s *Service) Subscribe(ctx context.Context, ticketID string, body []byte) error {
	if s.cfg.Push == nil {
		return queue.Errorf(queue.CodeNotFound, "web push is not configured on this server")
	}
	if _, err := s.q.Ticket(ctx, ticketID); err != nil {
		return err
	}
	sub, err := s.cfg.PushPolicy.ParseSubscription(body)
	if err != nil {
		return queue.Errorf(queue.CodeInvalid, "%s", err.Error())
	}
	stored, err := sub.MarshalJSON()
	if err != nil {
		return queue.Errorf(queue.CodeInvalid, "%s", err.Error())
	}
	return s.store.Subscribe(ctx, ticketID, stored, s.now())
}
