package webhooks

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/riverqueue/river"

	"github.com/queueless/queueless/queue"
)

// deliveryArgs is a delivery's job: its id, nothing else (the payload is in
// the delivery row, so a retry by hand sends the same bytes).
type deliveryArgs struct {
	DeliveryID string `json:"delivery_id"`
}

// Kind implements river.JobArgs.
func (deliveryArgs) Kind() string { return "webhook_delivery" }

// worker posts one delivery. River retries it on error, at the times
// NextRetry gives, up to the job's MaxAttempts, then discards it: the
// delivery row says failed, and Service.Retry starts a new job.
type worker struct {
	river.WorkerDefaults[deliveryArgs]
	s *Service
}

// Timeout leaves the POST its own timeout and the bookkeeping some room.
func (w *worker) Timeout(*river.Job[deliveryArgs]) time.Duration {
	return w.s.cfg.Timeout + 10*time.Second
}

// NextRetry is the delivery schedule (exponential, with jitter).
func (w *worker) NextRetry(job *river.Job[deliveryArgs]) time.Time {
	return time.Now().Add(w.s.cfg.Backoff.Delay(job.ID, job.Attempt))
}

// Work sends the delivery once.
func (w *worker) Work(ctx context.Context, job *river.Job[deliveryArgs]) error {
	d, hook, err := w.s.store.Delivery(ctx, job.Args.DeliveryID)
	if errors.Is(err, queue.ErrNotFound) {
		return river.JobCancel(err) // its webhook was deleted
	}
	if err != nil {
		return err
	}
	if d.Status == StatusDelivered {
		return nil // a rescued job whose POST had succeeded
	}
	sendErr := w.s.send(ctx, hook, d)
	now := time.Now().UTC()
	o := Outcome{Status: StatusDelivered, At: now}
	if sendErr != nil {
		o.Error = sendErr.Error()
		if job.Attempt >= job.MaxAttempts {
			o.Status = StatusFailed
		} else {
			next := now.Add(w.s.cfg.Backoff.Delay(job.ID, job.Attempt))
			o.Status, o.Next = StatusPending, &next
		}
	}
	// Recorded on a context of its own: an attempt cut short by the job's
	// timeout is still counted.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := w.s.store.Record(rctx, d.ID, o); err != nil {
		w.s.log.Warn("record webhook delivery", "delivery_id", d.ID, "error", err.Error())
		if sendErr == nil {
			return err // sent again later; the receiver drops the repeat by its id
		}
	}
	if sendErr != nil {
		w.s.log.Info("webhook delivery failed", "delivery_id", d.ID, "webhook_id", hook.ID,
			"attempt", job.Attempt, "max_attempts", job.MaxAttempts, "error", sendErr.Error())
	}
	return sendErr
}

// send posts d to hook; an error unless the receiver answered 2xx.
func (s *Service) send(ctx context.Context, hook Webhook, d Delivery) error {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, hook.URL, bytes.NewReader(d.Payload))
	if err != nil {
		return fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "QueueLess-Webhooks/1")
	req.Header.Set(HeaderEvent, d.Event)
	req.Header.Set(HeaderDelivery, d.ID)
	req.Header.Set(HeaderSignature, Sign(hook.Secret, d.Payload))
	resp, err := s.cfg.Client.Do(req)
	if err != nil {
		return fmt.Errorf("post: %w", err)
	}
	defer resp.Body.Close()
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 256))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("receiver answered %s: %s", resp.Status, bytes.TrimSpace(snippet))
	}
	return nil
}
