package notify

import (
	"context"
	"errors"
	"time"

	"github.com/riverqueue/river"

	"github.com/queueless/queueless/queue"
)

// result is what one attempt at a delivery came to.
type result struct {
	suppress  string        // the moment passed, or the number cannot get it: not sent, not retried
	err       error         // nil: sent
	permanent bool          // err will not go away by retrying
	snooze    time.Duration // try again after this long (the push service's Retry-After)
}

// deliver makes one attempt at delivery (id, channel): it is skipped when
// done already (a job run twice), suppressed when its moment has passed,
// else sent with send, and its outcome recorded. The returned error makes
// River retry it on the delivery schedule.
func (s *Service) deliver(ctx context.Context, id int64, channel string, attempt, maxAttempts int,
	send func(ctx context.Context, d Delivery, t queue.Ticket, inst queue.Institution) result) error {
	d, err := s.store.Delivery(ctx, id, channel)
	if errors.Is(err, queue.ErrNotFound) {
		return river.JobCancel(err)
	}
	if err != nil {
		return err
	}
	if d.Status != StatusPending {
		return nil
	}
	t, err := s.q.Ticket(ctx, d.TicketID)
	if errors.Is(err, queue.ErrNotFound) {
		return s.record(ctx, d, result{suppress: "the ticket is gone"}, attempt, maxAttempts)
	}
	if err != nil {
		return err
	}
	r := result{}
	if sup, why := Suppressed(d.Event, d.CreatedAt, s.now(), t.Status); sup {
		r.suppress = why
	} else {
		inst, err := s.q.Institution(ctx, t.InstitutionID)
		if err != nil {
			return err
		}
		sctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
		r = send(sctx, d, t, inst)
		cancel()
	}
	return s.record(ctx, d, r, attempt, maxAttempts)
}

// record stores r and says what River should do next.
func (s *Service) record(ctx context.Context, d Delivery, r result, attempt, maxAttempts int) error {
	status, lastErr, counted := StatusSent, "", true
	switch {
	case r.suppress != "":
		status, lastErr, counted = StatusSuppressed, r.suppress, false
	case r.err != nil && (r.permanent || attempt >= maxAttempts):
		status, lastErr = StatusFailed, r.err.Error()
	case r.err != nil:
		status, lastErr = StatusPending, r.err.Error()
	}
	// Recorded on a context of its own: an attempt cut short by the job's
	// timeout is still counted.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := s.store.Record(rctx, d.NotificationID, d.Channel, status, lastErr, counted, s.now()); err != nil {
		s.log.Warn("record notification delivery", "notification_id", d.NotificationID, "channel", d.Channel, "error", err.Error())
		if r.err == nil && r.suppress == "" {
			return nil // sent: a retry would send it twice
		}
		return err
	}
	switch {
	case r.err == nil:
		return nil
	case r.permanent:
		return river.JobCancel(r.err)
	case r.snooze > 0 && attempt < maxAttempts:
		return river.JobSnooze(r.snooze)
	}
	s.log.Info("notification delivery failed", "notification_id", d.NotificationID, "channel", d.Channel,
		"attempt", attempt, "max_attempts", maxAttempts, "error", r.err.Error())
	return r.err
}
