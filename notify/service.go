package notify

import (
	"log/slog"
	"strings"
	"time"

	"github.com/riverqueue/river"

	"github.com/queueless/queueless/jobs"
	"github.com/queueless/queueless/push"
	"github.com/queueless/queueless/queue"
	"github.com/queueless/queueless/sms"
)

// Config sets the channels up.
type Config struct {
	// Gateway sends texts; nil: no texts (nothing is enqueued for them).
	Gateway sms.Gateway
	// Verify: the first text to a number is a code, and nothing else is
	// sent to it until the code is entered (SMS_VERIFY).
	Verify bool
	// Push sends web pushes; nil: push is off.
	Push *push.Sender
	// PushPolicy is what subscriptions are parsed with (loopback in tests).
	PushPolicy push.Policy
	// PublicURL is the site's address, for the ticket's link in texts and
	// pushes ("https://queue.example"), without a trailing slash.
	PublicURL string
	// MaxAttempts per delivery before it fails; default 8.
	MaxAttempts int
	// Backoff between attempts; default 10s doubling up to 10 min, ±20%.
	Backoff jobs.Backoff
	// Timeout bounds one send; default 15s.
	Timeout time.Duration
	Logger  *slog.Logger
	// Now is the clock (tests); nil: time.Now.
	Now func() time.Time
}

// Service delivers notifications; it is a queue.Outbox.
type Service struct {
	store Store
	cfg   Config
	jobs  *jobs.Client
	q     *queue.Service
	log   *slog.Logger
}

var _ queue.Outbox = (*Service)(nil)

// NewService returns a service over store. Register its workers
// (RegisterWorkers) before the jobs client is built, then SetJobs and
// SetQueue.
func NewService(store Store, cfg Config) *Service {
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = 8
	}
	if cfg.Backoff.Base <= 0 {
		cfg.Backoff = jobs.Backoff{Base: 10 * time.Second, Max: 10 * time.Minute, Jitter: 0.2}
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 15 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	cfg.PublicURL = strings.TrimRight(cfg.PublicURL, "/")
	return &Service{store: store, cfg: cfg, log: cfg.Logger}
}

// RegisterWorkers adds the delivery, verification and reply workers.
func (s *Service) RegisterWorkers(reg *jobs.Registry) {
	river.AddWorker(reg.Workers, &smsWorker{jobPolicy[smsArgs]{s: s}})
	river.AddWorker(reg.Workers, &pushWorker{jobPolicy[pushArgs]{s: s}})
	river.AddWorker(reg.Workers, &phoneWorker{jobPolicy[phoneArgs]{s: s}})
	river.AddWorker(reg.Workers, &phonesWorker{jobPolicy[phonesArgs]{s: s}})
	river.AddWorker(reg.Workers, &replyWorker{jobPolicy[replyArgs]{s: s}})
}

// SetJobs gives the service the client its jobs are enqueued with.
func (s *Service) SetJobs(c *jobs.Client) { s.jobs = c }

// SetQueue gives the service the queue it reads tickets from and acts on
// for replies.
func (s *Service) SetQueue(q *queue.Service) { s.q = q }

// Store returns the service's store.
func (s *Service) Store() Store { return s.store }

// SMSOn reports whether texts are sent; PushOn whether pushes are.
func (s *Service) SMSOn() bool  { return s.cfg.Gateway != nil }
func (s *Service) PushOn() bool { return s.cfg.Push != nil }

// PushKey is the VAPID public key, "" when push is off.
func (s *Service) PushKey() string {
	if s.cfg.Push == nil {
		return ""
	}
	return s.cfg.Push.Keys.PublicKey()
}

func (s *Service) now() time.Time { return s.cfg.Now().UTC().Truncate(time.Microsecond) }

// Link is the ticket's phone page.
func (s *Service) Link(ticketID string) string { return s.cfg.PublicURL + "/?ticket=" + ticketID }

// name is how texts name a ticket: its label, else its number.
func name(t queue.Ticket) string {
	if t.Label != "" {
		return t.Label
	}
	return queue.DisplayName(t)
}

func (s *Service) insertOpts() *river.InsertOpts {
	return &river.InsertOpts{Queue: jobs.QueueDeliveries, MaxAttempts: s.cfg.MaxAttempts,
		UniqueOpts: river.UniqueOpts{ByArgs: true}}
}
