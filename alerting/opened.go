package alerting

import (
	"context"
	"encoding/json"
	"time"

	"github.com/queueless/queueless/queue"
)

// openSince is what the embedded evaluator has read of one institution's
// audit trail: the last event read and the last opening seen.
type openSince struct {
	after  int64
	opened time.Time
}

// openedAt reports whether ev opened the institution, and when.
func openedAt(ev queue.AuditEvent) (time.Time, bool) {
	var data struct {
		Status json.RawMessage `json:"status"`
	}
	if json.Unmarshal(ev.Data, &data) != nil || len(data.Status) == 0 {
		return time.Time{}, false
	}
	switch ev.Kind {
	case queue.AuditCreated:
		var s queue.Status
		if json.Unmarshal(data.Status, &s) == nil && s == queue.StatusOpen {
			return ev.At, true
		}
	case queue.AuditUpdated:
		var ch struct {
			To queue.Status `json:"to"`
		}
		if json.Unmarshal(data.Status, &ch) == nil && ch.To == queue.StatusOpen {
			return ev.At, true
		}
	}
	return time.Time{}, false
}

// openedMemory reads the institution's audit trail from where it last
// stopped (embedded mode: the memory store's events, before its lock is
// taken) and returns the last opening.
func (e *Evaluator) openedMemory(ctx context.Context, id int64) (time.Time, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	o := e.opening[id]
	if o == nil {
		o = &openSince{}
		e.opening[id] = o
	}
	for {
		evs, err := e.queue.Events(ctx, id, o.after, 500)
		if err != nil {
			return time.Time{}, err
		}
		for _, ev := range evs {
			o.after = ev.ID
			if at, ok := openedAt(ev); ok && at.After(o.opened) {
				o.opened = at.UTC()
			}
		}
		if len(evs) < 500 {
			return o.opened, nil
		}
	}
}
