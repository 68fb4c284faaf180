package alerts

import (
	"errors"
	"fmt"
	"time"
)

// Kind is what an alert is about.
type Kind string

// Kinds of alert (../shared/API.md, "Staff insight and integration").
const (
	// KindQueueStalled: the institution is open, people wait, and nobody
	// has been called for stall_minutes.
	KindQueueStalled Kind = "queue_stalled"
	// KindWaitSLA: a ticket has waited longer than wait_sla_minutes.
	KindWaitSLA Kind = "wait_sla"
)

// Kinds lists every kind, in the order Evaluate reports them.
var Kinds = []Kind{KindQueueStalled, KindWaitSLA}

// Level is how loudly an open alert calls for attention.
type Level string

// Levels, from the first to the loudest.
const (
	LevelInitiated Level = "initiated"
	LevelP2        Level = "p2"
	LevelP1        Level = "p1"
	LevelP0        Level = "p0"
)

// Levels lists every level in escalation order.
var Levels = []Level{LevelInitiated, LevelP2, LevelP1, LevelP0}

// rank is the level's place in Levels, -1 for an unknown level.
func (l Level) rank() int {
	for i, v := range Levels {
		if v == l {
			return i
		}
	}
	return -1
}

// Valid reports whether l is one of Levels.
func (l Level) Valid() bool { return l.rank() >= 0 }

// ResolvedBySystem is Alert.ResolvedBy when the condition cleared by itself.
const ResolvedBySystem = "system"

// Alert is one alert, open while ResolvedAt is nil.
type Alert struct {
	ID            int64      `json:"id"`
	InstitutionID int64      `json:"institution_id"`
	Kind          Kind       `json:"kind"`
	Level         Level      `json:"level"`
	OpenedAt      time.Time  `json:"opened_at"`
	EscalatedAt   *time.Time `json:"escalated_at"`
	ResolvedAt    *time.Time `json:"resolved_at"`
	// ResolvedBy is "system" (the condition cleared) or the staff actor
	// ("token:<id>") who resolved it; empty while open. An extension.
	ResolvedBy string `json:"resolved_by,omitempty"`
	Detail     Detail `json:"detail"`
}

// Open reports whether the alert is still open.
func (a Alert) Open() bool { return a.ResolvedAt == nil }

// Detail is what the evaluator saw when it last raised or escalated the
// alert.
type Detail struct {
	// Waiting is how many people were waiting.
	Waiting int64 `json:"waiting"`
	// Since is when the condition began: the last call (or the moment the
	// wait began) for queue_stalled, the longest-waiting ticket's join for
	// wait_sla.
	Since time.Time `json:"since"`
	// ThresholdMinutes is the stall_minutes or wait_sla_minutes in force.
	ThresholdMinutes int `json:"threshold_minutes"`
}

// Errors of the alerts package. Callers map them to the contract's codes:
// ErrNotFound to not_found, ErrInvalidState to invalid_state, a
// *ValidationError to invalid_request.
var (
	ErrNotFound     = errors.New("alert not found")
	ErrInvalidState = errors.New("alert is not in a state that allows this")
)

// notFound wraps ErrNotFound with the alert's id.
func notFound(id int64) error { return fmt.Errorf("alert %d: %w", id, ErrNotFound) }
