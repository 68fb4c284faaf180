package queue

import (
	"context"
	"encoding/json"
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
			out = append(out, c)
		}
		if len(evs) < 500 {
			break
		}
	}
	return out, nil
}
