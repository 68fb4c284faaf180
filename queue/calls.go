package queue

import (
	"context"
	"encoding/json"
	"time"
)

// maxCallsReplayed bounds CallsSince: a board that missed more than this
// many calls gets the newest state, not a history lesson.
const maxCallsReplayed = 5000

// CallsSince reads back from institution id's audit trail the calls made
// after audit event after, oldest first: what a live board missed while
// its events were lost (a Redis outage, a gap).
func CallsSince(ctx context.Context, st Store, id, after int64) ([]CallRecord, error) {
	var out []CallRecord
	for len(out) < maxCallsReplayed {
		evs, err := st.Events(ctx, id, after, 500)
		if err != nil {
			return nil, err
		}
		for _, e := range evs {
			after = e.ID
			if e.Kind != AuditCalled && e.Kind != AuditRecalled {
				continue
			}
			out = append(out, callOf(e))
		}
		if len(evs) < 500 {
			break
		}
	}
	return out, nil
}

// LoggedCall is one call in the fairness log: what the hall saw, never a
// phone number or a ticket id.
type LoggedCall struct {
	ID       int64     `json:"id"`
	Label    string    `json:"label"`
	Service  string    `json:"service"`
	Counter  *string   `json:"counter"`
	CalledAt time.Time `json:"called_at"`
	Reason   string    `json:"reason"`
}

// CallPage is one page of the fairness log; NextAfter is nil on the last.
type CallPage struct {
	Items     []LoggedCall `json:"items"`
	NextAfter *int64       `json:"next_after"`
}

// MaxCallPage bounds a page of the fairness log.
const MaxCallPage = 500

// Calls is the fairness log of institution id: every call of the local
// day date (YYYY-MM-DD; empty: today), oldest first, after audit event after.
func (s *Service) Calls(ctx context.Context, id int64, date string, after int64, limit int) (CallPage, error) {
	if limit < 1 || limit > MaxCallPage {
		return CallPage{}, Errorf(CodeInvalid, "limit must be an integer from 1 to %d", MaxCallPage)
	}
	inst, err := s.store.Institution(ctx, id)
	if err != nil {
		return CallPage{}, err
	}
	if date == "" {
		date = LocalDay(&inst, s.clock())
	}
	from, to, err := DayBounds(&inst, date)
	if err != nil {
		return CallPage{}, err
	}
	evs, err := s.store.CallEvents(ctx, id, from, to, after, limit)
	if err != nil {
		return CallPage{}, err
	}
	page := CallPage{Items: make([]LoggedCall, 0, len(evs))}
	for _, e := range evs {
		c := callOf(e)
		if c.Service == "" { // a call made before services existed
			c.Service = DefaultLineCode
		}
		page.Items = append(page.Items, LoggedCall{ID: e.ID, Label: c.Label, Service: c.Service,
			Counter: c.Counter, CalledAt: e.At, Reason: c.Reason})
	}
	if len(evs) == limit {
		next := evs[len(evs)-1].ID
		page.NextAfter = &next
	}
	return page, nil
}

// callOf reads a call back from its ticket.called or ticket.recalled event.
func callOf(e AuditEvent) CallRecord {
	var d struct {
		Counter *string `json:"counter"`
		Service string  `json:"service"`
		Label   string  `json:"label"`
		Reason  string  `json:"reason"`
	}
	_ = json.Unmarshal(e.Data, &d) // a v1 event has only the counter
	c := CallRecord{Label: d.Label, Service: d.Service, Counter: d.Counter, CalledAt: e.At, Reason: d.Reason, EventID: e.ID}
	if e.Number != nil {
		c.Number = *e.Number
	}
	if c.Reason == "" {
		c.Reason = ReasonInOrder
		if e.Kind == AuditRecalled {
			c.Reason = ReasonRecall
		}
	}
	return c
}
