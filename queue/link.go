package queue

import (
	"context"
	"time"
)

// LinkMode is how QueueLess follows an institution's own queue system.
type LinkMode string

// Link modes.
const (
	// LinkPoll: QueueLess reads the outside queue's URL on an interval.
	LinkPoll LinkMode = "poll"
	// LinkPush: the outside system posts its queue, signed with the link's secret.
	LinkPush LinkMode = "push"
)

// Circuit breaker states of a polled link, as stored and shown.
const (
	BreakerClosed   = "closed"
	BreakerHalfOpen = "half-open"
	BreakerOpen     = "open"
)

// Link connects an institution to its own queue system. Its configuration
// is set by an admin; its status by whoever polls or receives pushes.
type Link struct {
	InstitutionID int64
	Mode          LinkMode
	URL           string // poll: the outside queue's URL
	PollInterval  time.Duration
	StaleAfter    time.Duration
	Secret        string // push: the HMAC-SHA256 key; never shown after creation

	LinkStatus

	LeaseOwner string
	LeaseUntil *time.Time
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

// LinkStatus is what the last contact with the outside system found.
type LinkStatus struct {
	// Outside is the outside queue as last read or pushed; nil before that.
	Outside             *OutsideQueue
	LastSuccessAt       *time.Time
	LastAttemptAt       *time.Time
	LastError           string
	ConsecutiveFailures int
	Stale               bool
	Breaker             string
}

// OutsideQueue is an outside system's queue as it reports it. Numbers are
// the same numbers as QueueLess's (see docs/API-EXTENSIONS.md).
type OutsideQueue struct {
	NowServing int64
	LastIssued int64
	// Calls are the latest call of each counter, in any order; they name
	// the counter of the numbers they mention.
	Calls     []Call
	UpdatedAt *time.Time // the outside clock's, shown only: clocks jump
}

// LinkStore keeps links. Its two implementations, MemoryLinkStore and
// PostgresLinkStore, pass one contract suite.
type LinkStore interface {
	// PutLink creates or replaces institution l.InstitutionID's link with
	// l's configuration; status and lease start afresh.
	PutLink(ctx context.Context, l Link) (Link, error)
	Link(ctx context.Context, institutionID int64) (Link, error)
	// Links lists every link by institution id.
	Links(ctx context.Context) ([]Link, error)
	DeleteLink(ctx context.Context, institutionID int64) error
	// SetLinkStatus records the status of a link. With owner set it does so
	// only while owner holds the lease, and reports whether it did.
	SetLinkStatus(ctx context.Context, institutionID int64, owner string, st LinkStatus) (bool, error)
	// AcquireLinkLease takes or renews the poll lease of a link for owner,
	// for ttl from now in the store's clock. It reports false when another
	// owner holds an unexpired lease, or the link is not polled.
	AcquireLinkLease(ctx context.Context, institutionID int64, owner string, ttl time.Duration) (bool, error)
	// ReleaseLinkLease gives the lease up, when owner holds it.
	ReleaseLinkLease(ctx context.Context, institutionID int64, owner string) error
}

func notFoundLink(id int64) error {
	return Errorf(CodeNotFound, "institution %d has no link", id)
}
