package hub

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/queueless/queueless/queue"
)

// wireEvent is a queue.Event as it travels through the broker: encoded once
// by the instance that committed the change, decoded once per room on every
// instance. It carries what the JSON of the domain types leaves out and the
// hub needs (the call pace, for ticket estimates) and the publish time, for
// the lag metric. Phone numbers never travel: Ticket's JSON omits them.
type wireEvent struct {
	Institution   queue.Institution    `json:"institution"`
	CallInterval  time.Duration        `json:"call_interval_ns"`
	Transitions   []wireTransition     `json:"transitions,omitempty"`
	Updated       []queue.Ticket       `json:"updated,omitempty"`
	Notifications []queue.Notification `json:"notifications,omitempty"`
	Announcement  *queue.Announcement  `json:"announcement,omitempty"`
	PublishedAt   int64                `json:"published_at"` // Unix nanoseconds
	// Lines are the institution's services with their state (the priority
	// streaks); Places the places of the tickets above, which their JSON
	// leaves out: the calling order needs both.
	Lines  []queue.LineRecord   `json:"lines,omitempty"`
	Places map[string]time.Time `json:"places,omitempty"`
	Calls  []queue.CallRecord   `json:"calls,omitempty"`
	// CallEvents are the calls' audit event ids, which their JSON leaves out.
	CallEvents []int64 `json:"call_events,omitempty"`
}

type wireTransition struct {
	Ticket queue.Ticket       `json:"ticket"`
	From   queue.TicketStatus `json:"from,omitempty"`
}

// announcementOnly reports whether the event carries a message and no
// change: its version is the current one, not a new one.
func (ev *wireEvent) announcementOnly() bool {
	return ev.Announcement != nil && len(ev.Transitions) == 0 && len(ev.Updated) == 0
}

func encodeEvent(ev queue.Event, now time.Time) ([]byte, error) {
	w := wireEvent{
		Institution:   ev.Institution,
		CallInterval:  ev.Institution.CallInterval,
		Updated:       ev.Updated,
		Notifications: ev.Notifications,
		Announcement:  ev.Announcement,
		PublishedAt:   now.UnixNano(),
		Lines:         queue.LineRecords(ev.Institution.Services),
		Calls:         ev.Calls,
	}
	for _, c := range ev.Calls {
		w.CallEvents = append(w.CallEvents, c.EventID)
	}
	place := func(t *queue.Ticket) {
		if w.Places == nil {
			w.Places = map[string]time.Time{}
		}
		p := t.Place
		if p.IsZero() {
			p = t.IssuedAt
		}
		w.Places[t.ID] = p
	}
	if len(ev.Transitions) > 0 {
		w.Transitions = make([]wireTransition, len(ev.Transitions))
		for i, t := range ev.Transitions {
			w.Transitions[i] = wireTransition{Ticket: t.Ticket, From: t.From}
			place(&w.Transitions[i].Ticket)
		}
	}
	for i := range w.Updated {
		place(&w.Updated[i])
	}
	return json.Marshal(w)
}

func decodeEvent(b []byte) (wireEvent, error) {
	var w wireEvent
	if err := json.Unmarshal(b, &w); err != nil {
		return w, fmt.Errorf("decode live event: %w", err)
	}
	w.Institution.CallInterval = w.CallInterval
	if w.Institution.RecentCalls == nil {
		w.Institution.RecentCalls = []queue.Call{}
	}
	if len(w.Lines) > 0 {
		w.Institution.Services = queue.LinesOf(w.Lines)
		w.Institution.Estimate()
	}
	for i := range w.Transitions {
		w.Transitions[i].Ticket.Place = w.Places[w.Transitions[i].Ticket.ID]
	}
	for i := range w.Updated {
		w.Updated[i].Place = w.Places[w.Updated[i].ID]
	}
	for i := range w.Calls {
		if i < len(w.CallEvents) {
			w.Calls[i].EventID = w.CallEvents[i]
		}
	}
	return w, nil
}

// channelName is the broker channel of an institution's events.
func channelName(institutionID int64) string {
	return "live:inst:" + strconv.FormatInt(institutionID, 10)
}

// frame is one encoded WebSocket message, shared by every connection it is
// written to.
type frame struct {
	data []byte
	// at is the publish time (Unix ns) of the newest event the frame
	// reflects, 0 for snapshots; it feeds the lag histogram.
	at int64
	// call marks a call frame, which the outbox makes more room for.
	call bool
}

// Frame types of the contract.
const (
	typeSnapshot     = "snapshot"
	typeUpdate       = "update"
	typeNotification = "notification"
	typeAnnouncement = "announcement"
	typeCall         = "call"
)

// callFrame is a call as the board hears of it. Call frames are never
// conflated: one per ticket called, in call order.
func callFrame(c *queue.CallRecord) []byte {
	return mustJSON(struct {
		Type string            `json:"type"`
		Call *queue.CallRecord `json:"call"`
	}{typeCall, c})
}

func institutionFrame(typ string, inst *queue.Institution) []byte {
	return mustJSON(struct {
		Type        string             `json:"type"`
		Institution *queue.Institution `json:"institution"`
	}{typ, inst})
}

func ticketFrame(typ string, t *queue.Ticket) []byte {
	return mustJSON(struct {
		Type   string        `json:"type"`
		Ticket *queue.Ticket `json:"ticket"`
	}{typ, t})
}

func notificationFrame(n *queue.Notification) []byte {
	return mustJSON(struct {
		Type         string              `json:"type"`
		Notification *queue.Notification `json:"notification"`
	}{typeNotification, n})
}

func announcementFrame(a *queue.Announcement) []byte {
	return mustJSON(struct {
		Type      string    `json:"type"`
		Message   string    `json:"message"`
		CreatedAt time.Time `json:"created_at"`
	}{typeAnnouncement, a.Message, a.CreatedAt})
}

// mustJSON encodes values whose types cannot fail to encode.
func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("hub: encode frame: %v", err))
	}
	return b
}
