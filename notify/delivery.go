package notify

import (
	"time"

	"github.com/queueless/queueless/queue"
)

// Channels.
const (
	ChannelSMS  = "sms"
	ChannelPush = "push"
)

// Delivery statuses.
const (
	StatusPending    = "pending"
	StatusSent       = "sent"
	StatusFailed     = "failed"
	StatusSuppressed = "suppressed"
)

// Delivery is one notification's delivery on one channel.
type Delivery struct {
	NotificationID int64     `json:"notification_id"`
	Channel        string    `json:"channel"`
	TicketID       string    `json:"ticket_id"`
	Event          string    `json:"event"`
	Status         string    `json:"status"`
	Attempts       int       `json:"attempts"`
	LastError      *string   `json:"last_error"`
	CreatedAt      time.Time `json:"created_at"` // the notification's time
	UpdatedAt      time.Time `json:"updated_at"`
}

// delivered lists the notification events sent on the channels: the
// moments a citizen must act on (API.md v1: near_turn, turn_called,
// expired texts). The others are recorded and shown on the page only.
var delivered = map[string]bool{
	queue.NotifyNearTurn:   true,
	queue.NotifyTurnCalled: true,
	queue.NotifyExpired:    true,
}

// Delivered reports whether event is sent on the channels.
func Delivered(event string) bool { return delivered[event] }

// LateAfter is how late a turn_called may be sent: after it, the citizen
// has been called long ago and the text would mislead.
const LateAfter = 10 * time.Minute

// Suppressed says whether a delivery's moment has passed, and why: a
// turn_called more than LateAfter after it happened, a near_turn for a
// ticket that has been called (or has left the queue) since.
func Suppressed(event string, at, now time.Time, status queue.TicketStatus) (bool, string) {
	switch event {
	case queue.NotifyTurnCalled:
		if now.Sub(at) > LateAfter {
			return true, "turn_called more than 10 minutes late"
		}
	case queue.NotifyNearTurn:
		if !status.Waiting() {
			return true, "the ticket is " + string(status) + " already"
		}
	}
	return false, ""
}
