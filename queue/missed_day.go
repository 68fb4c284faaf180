package queue

import (
	"context"
	"sort"
	"strconv"
	"time"
)

// The day's missed numbers: what a hall board shows so that someone back
// from the restroom sees their number was called and can ask to be put
// back. Public, like the fairness log: labels and times, never a phone
// number or a ticket id.

// MissedTurn is one ticket of the day that was called and expired without
// checking in, and has not been put back since.
type MissedTurn struct {
	// TicketID is shown to staff of the institution only (to put it back).
	TicketID  string    `json:"ticket_id,omitempty"`
	Label     string    `json:"label"`
	Service   string    `json:"service"`
	Counter   *string   `json:"counter"`
	ExpiredAt time.Time `json:"expired_at"`
}

// MissedPage is the day's missed numbers, oldest expiry first.
type MissedPage struct {
	Date  string       `json:"date"`
	Items []MissedTurn `json:"items"`
}

// MaxMissedListed bounds the list: a board shows a handful; a day with more
// missed numbers than this shows its latest.
const MaxMissedListed = 200

// missedPage is how many tickets one store read returns.
const missedPage = 500

// Missed lists institution id's tickets that expired on the local day date
// (YYYY-MM-DD; empty: today) and are still expired, with their ticket ids
// (a caller that is not staff of the institution must drop them).
//
// Every such ticket was called that day, so its number is at least the
// lowest number called that day: the read walks the day's calls for that
// number, then the expired tickets from there, in number order. Both are
// the size of one day, never of the institution's history.
func (s *Service) Missed(ctx context.Context, id int64, date string) (MissedPage, error) {
	inst, err := s.store.Institution(ctx, id)
	if err != nil {
		return MissedPage{}, err
	}
	if date == "" {
		date = LocalDay(&inst, s.clock())
	}
	from, to, err := DayBounds(&inst, date)
	if err != nil {
		return MissedPage{}, err
	}
	page := MissedPage{Date: date, Items: []MissedTurn{}}
	lowest := int64(-1)
	for after := int64(0); ; {
		evs, err := s.store.CallEvents(ctx, id, from, to, after, missedPage)
		if err != nil {
			return MissedPage{}, err
		}
		for _, e := range evs {
			after = e.ID
			if e.Number != nil && (lowest < 0 || *e.Number < lowest) {
				lowest = *e.Number
			}
		}
		if len(evs) < missedPage {
			break
		}
	}
	if lowest < 0 {
		return page, nil // nobody was called that day: nobody missed a call
	}
	for after := lowest - 1; ; {
		list, err := s.store.Tickets(ctx, id, []TicketStatus{TicketExpired}, after, missedPage)
		if err != nil {
			return MissedPage{}, err
		}
		for _, t := range list {
			after = t.Number
			// Only a ticket that was called missed its turn: one expired
			// while waiting (the office closed) was never called.
			if t.CalledAt == nil || t.CompletedAt == nil || t.CompletedAt.Before(from) || !t.CompletedAt.Before(to) {
				continue
			}
			page.Items = append(page.Items, MissedTurn{TicketID: t.ID, Label: labelOf(t), Service: t.Service, Counter: t.Counter, ExpiredAt: *t.CompletedAt})
		}
		if len(list) < missedPage {
			break
		}
	}
	sort.SliceStable(page.Items, func(i, j int) bool { return page.Items[i].ExpiredAt.Before(page.Items[j].ExpiredAt) })
	if len(page.Items) > MaxMissedListed {
		page.Items = page.Items[len(page.Items)-MaxMissedListed:]
	}
	return page, nil
}

// labelOf is how a ticket is shown: its label, else (a ticket from before
// services had labels) its number.
func labelOf(t Ticket) string {
	if t.Label != "" {
		return t.Label
	}
	return strconv.FormatInt(t.Number, 10)
}
