package webhooks

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/url"
	"slices"
	"time"

	"github.com/queueless/queueless/queue"
)

// Events a webhook may ask for (API.md). The alert events are sent by the
// alert evaluation (alerts.go), to the webhooks that asked for the level.
var Events = []string{
	"ticket.created", "ticket.notified", "ticket.called", "ticket.served",
	"ticket.expired", "ticket.cancelled", "institution.updated",
	"alert.raised", "alert.escalated", "alert.resolved",
}

// eventOf maps an audit event kind to the webhook event it fires; "" when
// it fires none (check-ins, announcements).
func eventOf(auditKind string) string {
	switch auditKind {
	case queue.AuditJoined:
		return "ticket.created"
	case queue.AuditNotified:
		return "ticket.notified"
	case queue.AuditCalled, queue.AuditRecalled:
		return "ticket.called"
	case queue.AuditServed:
		return "ticket.served"
	case queue.AuditExpired:
		return "ticket.expired"
	case queue.AuditCancelled:
		return "ticket.cancelled"
	case queue.AuditUpdated:
		return "institution.updated"
	}
	return ""
}

// Webhook is a receiver of events.
type Webhook struct {
	ID             int64    `json:"id"`
	URL            string   `json:"url"`
	Events         []string `json:"events"`
	InstitutionIDs []int64  `json:"institution_ids"` // empty: every institution
	// Levels are the alert levels it hears of (alerts.go); empty: every level.
	Levels    []string  `json:"levels"`
	Secret    string    `json:"secret,omitempty"`
	CreatedAt time.Time `json:"created_at"`
}

// wants reports whether w receives event about institution inst.
func (w *Webhook) wants(event string, inst int64) bool {
	return slices.Contains(w.Events, event) &&
		(len(w.InstitutionIDs) == 0 || slices.Contains(w.InstitutionIDs, inst))
}

// Spec is what a new webhook is made of.
type Spec struct {
	URL            string
	Events         []string
	InstitutionIDs []int64
	Levels         []string
}

// Validate checks s, naming the field at fault.
func (s *Spec) Validate() error {
	u, err := url.Parse(s.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || len(s.URL) > 2000 {
		return queue.Errorf(queue.CodeInvalid, "url must be an absolute http or https URL of at most 2000 characters")
	}
	if len(s.Events) == 0 {
		return queue.Errorf(queue.CodeInvalid, "events must list at least one of %v", Events)
	}
	seen := map[string]bool{}
	for _, e := range s.Events {
		if !slices.Contains(Events, e) {
			return queue.Errorf(queue.CodeInvalid, "events: %q is not one of %v", e, Events)
		}
		if seen[e] {
			return queue.Errorf(queue.CodeInvalid, "events: %q is listed twice", e)
		}
		seen[e] = true
	}
	for _, id := range s.InstitutionIDs {
		if id <= 0 {
			return queue.Errorf(queue.CodeInvalid, "institution_ids must be positive integers")
		}
	}
	if s.InstitutionIDs == nil {
		s.InstitutionIDs = []int64{}
	}
	return s.validateLevels()
}

// Delivery statuses.
const (
	StatusPending   = "pending"
	StatusDelivered = "delivered"
	StatusFailed    = "failed"
)

// Delivery is one event sent, or to be sent, to one webhook.
type Delivery struct {
	ID            string     `json:"id"`
	WebhookID     int64      `json:"-"`
	Event         string     `json:"event"`
	EventID       int64      `json:"-"`
	InstitutionID int64      `json:"-"`
	Payload       []byte     `json:"-"`
	Attempts      int        `json:"attempts"`
	Status        string     `json:"status"`
	LastError     *string    `json:"last_error"`
	NextAttemptAt *time.Time `json:"next_attempt_at"`
	CreatedAt     time.Time  `json:"created_at"`
}

// Headers of a delivery.
const (
	HeaderEvent     = "X-QueueLess-Event"
	HeaderDelivery  = "X-QueueLess-Delivery"
	HeaderSignature = "X-QueueLess-Signature"
)

// Sign returns the X-QueueLess-Signature value of body: "sha256=" and the
// hex HMAC-SHA256 of body with secret.
func Sign(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// Verify reports whether sig is body's signature with secret, in constant
// time: what a receiver does.
func Verify(secret string, body []byte, sig string) bool {
	return hmac.Equal([]byte(Sign(secret, body)), []byte(sig))
}
