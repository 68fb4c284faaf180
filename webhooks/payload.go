package webhooks

import (
	"encoding/json"
	"time"

	"github.com/queueless/queueless/queue"
)

// Payload is the JSON body of a delivery.
type Payload struct {
	Event         string             `json:"event"`
	EventID       int64              `json:"event_id"` // the audit event's id (GET .../events)
	OccurredAt    time.Time          `json:"occurred_at"`
	InstitutionID int64              `json:"institution_id"`
	Actor         string             `json:"actor"`
	Ticket        *PayloadTicket     `json:"ticket,omitempty"`
	Institution   *queue.Institution `json:"institution,omitempty"`
	Data          json.RawMessage    `json:"data"`
}

// PayloadTicket is a ticket as a webhook sees it: no phone, no figures that
// depend on the moment it is read (people ahead, estimates).
type PayloadTicket struct {
	ID          string             `json:"id"`
	Number      int64              `json:"number"`
	Name        string             `json:"name"` // how texts name it (the label, once services exist)
	Status      queue.TicketStatus `json:"status"`
	Counter     *string            `json:"counter"`
	IssuedAt    time.Time          `json:"issued_at"`
	CalledAt    *time.Time         `json:"called_at"`
	CheckedInAt *time.Time         `json:"checked_in_at"`
	CompletedAt *time.Time         `json:"completed_at"`
	UpdatedAt   time.Time          `json:"updated_at"`
}

// candidate is an event of a change that some webhook may want.
type candidate struct {
	event   string
	eventID int64
	inst    int64
	at      time.Time
	payload []byte
}

// candidates lists the events of a change that one of hooks wants, with
// their payloads. A ticket's state is its last in the change. The payload
// is built only for an event some webhook wants: with none configured (the
// usual case) a join costs no JSON encoding here, and PostgreSQL parses no
// payload it would then throw away.
func candidates(ch *queue.Changes, hooks []Webhook) []candidate {
	var out []candidate
	var tickets map[string]*queue.Ticket
	for i := range ch.Audit {
		a := &ch.Audit[i]
		ev := eventOf(a.Kind)
		if ev == "" || !anyWants(hooks, ev, a.InstitutionID) {
			continue
		}
		if tickets == nil {
			tickets = map[string]*queue.Ticket{}
			for j := range ch.Inserted {
				tickets[ch.Inserted[j].ID] = &ch.Inserted[j]
			}
			for j := range ch.Updated {
				tickets[ch.Updated[j].ID] = &ch.Updated[j]
			}
		}
		p := Payload{Event: ev, EventID: a.ID, OccurredAt: a.At, InstitutionID: a.InstitutionID, Actor: a.Actor, Data: a.Data}
		if len(p.Data) == 0 {
			p.Data = json.RawMessage("{}")
		}
		if a.TicketID != nil {
			if t := tickets[*a.TicketID]; t != nil {
				p.Ticket = &PayloadTicket{ID: t.ID, Number: t.Number, Name: queue.DisplayName(*t), Status: t.Status,
					Counter: t.Counter, IssuedAt: t.IssuedAt, CalledAt: t.CalledAt, CheckedInAt: t.CheckedInAt,
					CompletedAt: t.CompletedAt, UpdatedAt: t.UpdatedAt}
			}
		}
		if ev == "institution.updated" && ch.Institution != nil {
			inst := *ch.Institution
			p.Institution = &inst
		}
		body, err := json.Marshal(p)
		if err != nil {
			continue // cannot happen: every field marshals
		}
		out = append(out, candidate{event: ev, eventID: a.ID, inst: a.InstitutionID, at: a.At, payload: body})
	}
	return out
}

// anyWants reports whether one of hooks receives event about inst.
func anyWants(hooks []Webhook, event string, inst int64) bool {
	for i := range hooks {
		if hooks[i].wants(event, inst) {
			return true
		}
	}
	return false
}

// hasEvents reports whether ch holds an event a webhook could receive, so
// that a change with none reads no webhooks.
func hasEvents(ch *queue.Changes) bool {
	for i := range ch.Audit {
		if eventOf(ch.Audit[i].Kind) != "" {
			return true
		}
	}
	return false
}
