package webhooks

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/http"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/queueless/queueless/jobs"
	"github.com/queueless/queueless/queue"
)

// Config tunes deliveries.
type Config struct {
	// Timeout bounds one POST to a receiver. Default 10s.
	Timeout time.Duration
	// MaxAttempts is how many times a delivery is tried before it is
	// failed. Default 10.
	MaxAttempts int
	// Backoff is the wait between attempts. Default 1 min doubling up to
	// 6 h, ±20%: 8 attempts span at least 101 minutes.
	Backoff jobs.Backoff
	// Client posts the deliveries; a client with Timeout that follows no
	// redirect when nil.
	Client *http.Client
	Logger *slog.Logger
}

// Service is webhooks' domain: creating them, enqueueing their deliveries
// with each change (it is the queue's Outbox), listing and retrying.
type Service struct {
	store Store
	jobs  *jobs.Client
	cfg   Config
	log   *slog.Logger
}

var _ queue.PipelinedOutbox = (*Service)(nil)

// NewService returns a service over store. Register its worker before the
// jobs client is built (RegisterWorker), then give it the client (SetJobs).
func NewService(store Store, cfg Config) *Service {
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = 10
	}
	if cfg.Backoff.Base <= 0 {
		cfg.Backoff = jobs.Backoff{Base: time.Minute, Max: 6 * time.Hour, Jitter: 0.2}
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{
			Timeout:       cfg.Timeout,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Service{store: store, cfg: cfg, log: cfg.Logger}
}

// RegisterWorker adds the delivery worker to reg.
func (s *Service) RegisterWorker(reg *jobs.Registry) {
	river.AddWorker(reg.Workers, &worker{s: s})
}

// SetJobs gives the service the client its deliveries are enqueued with.
func (s *Service) SetJobs(c *jobs.Client) { s.jobs = c }

// Store returns the service's store.
func (s *Service) Store() Store { return s.store }

// Create makes a webhook; the secret is in the result, and never shown again.
func (s *Service) Create(ctx context.Context, spec Spec) (Webhook, error) {
	if err := spec.Validate(); err != nil {
		return Webhook{}, err
	}
	var b [32]byte
	_, _ = rand.Read(b[:])
	w := Webhook{URL: spec.URL, Events: spec.Events, InstitutionIDs: spec.InstitutionIDs, Levels: spec.Levels,
		Secret: hex.EncodeToString(b[:]), CreatedAt: time.Now().UTC().Truncate(time.Microsecond)}
	return s.store.CreateWebhook(ctx, w)
}

// Webhook returns a webhook, without its secret.
func (s *Service) Webhook(ctx context.Context, id int64) (Webhook, error) {
	w, err := s.store.Webhook(ctx, id)
	w.Secret = ""
	return w, err
}

// Deliveries lists webhook id's deliveries, newest first.
func (s *Service) Deliveries(ctx context.Context, id int64, status string, limit int) ([]Delivery, error) {
	switch status {
	case "", StatusPending, StatusDelivered, StatusFailed:
	default:
		return nil, queue.Errorf(queue.CodeInvalid, "status must be pending, delivered or failed")
	}
	if _, err := s.store.Webhook(ctx, id); err != nil {
		return nil, err
	}
	list, err := s.store.Deliveries(ctx, id, status, limit)
	if list == nil {
		list = []Delivery{}
	}
	return list, err
}

// Retry sends a failed delivery again, from a fresh schedule of attempts.
func (s *Service) Retry(ctx context.Context, webhookID int64, deliveryID string) error {
	if _, err := s.store.Webhook(ctx, webhookID); err != nil {
		return err
	}
	params := []river.InsertManyParams{s.jobParams(deliveryID)}
	return s.store.Requeue(ctx, webhookID, deliveryID, func(ctx context.Context, tx pgx.Tx) error {
		if tx != nil {
			return s.jobs.InsertManyTx(ctx, tx, params)
		}
		return s.jobs.InsertMany(ctx, params)
	})
}

func (s *Service) jobParams(id string) river.InsertManyParams {
	return river.InsertManyParams{Args: deliveryArgs{DeliveryID: id},
		InsertOpts: &river.InsertOpts{Queue: jobs.QueueDeliveries, MaxAttempts: s.cfg.MaxAttempts}}
}

// EnqueueTx implements queue.Outbox: the deliveries of the change's events
// and their jobs are written in the change's transaction.
func (s *Service) EnqueueTx(ctx context.Context, tx pgx.Tx, ch *queue.Changes) error {
	if !hasEvents(ch) {
		return nil
	}
	hooks, err := s.store.subscribers(ctx, tx)
	if err != nil {
		return err
	}
	return s.enqueueTx(ctx, tx, ch, hooks)
}

// QueueReads implements queue.PipelinedOutbox: the webhooks are read in
// the pipeline that writes the change, instead of a round trip of their
// own; the deliveries are built once it has run (the audit ids they carry
// are assigned by it).
func (s *Service) QueueReads(b *pgx.Batch, ch *queue.Changes) func(ctx context.Context, tx pgx.Tx) error {
	if !hasEvents(ch) {
		return func(context.Context, pgx.Tx) error { return nil }
	}
	hooks := s.store.queueSubscribers(b)
	return func(ctx context.Context, tx pgx.Tx) error { return s.enqueueTx(ctx, tx, ch, *hooks) }
}

// enqueueTx writes the deliveries of ch's events that hooks want, and
// their jobs, in tx.
func (s *Service) enqueueTx(ctx context.Context, tx pgx.Tx, ch *queue.Changes, hooks []Webhook) error {
	cands := candidates(ch, hooks)
	if len(cands) == 0 {
		return nil
	}
	ids, err := s.store.insert(ctx, tx, cands)
	if err != nil || len(ids) == 0 {
		return err
	}
	return s.jobs.InsertManyTx(ctx, tx, s.paramsOf(ids))
}

// Enqueue implements queue.Outbox for the memory store: deliveries and jobs
// are written inside its critical section, and taken back if the jobs
// cannot be.
func (s *Service) Enqueue(ctx context.Context, ch *queue.Changes) error {
	if !hasEvents(ch) {
		return nil
	}
	hooks, err := s.store.subscribers(ctx, nil)
	if err != nil {
		return err
	}
	cands := candidates(ch, hooks)
	if len(cands) == 0 {
		return nil
	}
	ids, err := s.store.insert(ctx, nil, cands)
	if err != nil || len(ids) == 0 {
		return err
	}
	if err := s.jobs.InsertMany(context.WithoutCancel(ctx), s.paramsOf(ids)); err != nil {
		s.store.forget(ids)
		return queue.Errorf(queue.CodeUnavailable, "enqueue webhook deliveries: %v", err)
	}
	return nil
}

func (s *Service) paramsOf(ids []string) []river.InsertManyParams {
	params := make([]river.InsertManyParams, len(ids))
	for i, id := range ids {
		params[i] = s.jobParams(id)
	}
	return params
}
