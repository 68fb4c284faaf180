package webhooks

import (
	"context"
	"testing"
	"time"
)

// The embedded delivery log stays bounded: delivered deliveries go first,
// then failed ones, and a pending one is never dropped.
func TestMemoryDeliveryLogIsBounded(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	m := NewMemoryStore()
	m.max = 100
	if _, err := m.CreateWebhook(ctx, Webhook{URL: "https://r.example", Events: []string{"ticket.created"}}); err != nil {
		t.Fatal(err)
	}
	var pending, failed []string
	for i := range 1000 {
		ids, err := m.insert(ctx, nil, []candidate{{event: "ticket.created", eventID: int64(i), inst: 1, at: time.Now(), payload: []byte("{}")}})
		if err != nil || len(ids) != 1 {
			t.Fatalf("insert: %v, %v", ids, err)
		}
		switch {
		case i%97 == 0:
			pending = append(pending, ids[0])
		case i%10 == 0:
			failed = append(failed, ids[0])
			_ = m.Record(ctx, ids[0], Outcome{Status: StatusFailed, Error: "down"})
		default:
			_ = m.Record(ctx, ids[0], Outcome{Status: StatusDelivered})
		}
	}
	if n := len(m.deliveries); n > m.max || len(m.order) != n {
		t.Fatalf("%d deliveries (%d in order) kept, want at most %d", n, len(m.order), m.max)
	}
	for _, id := range pending {
		if d, ok := m.deliveries[id]; !ok || d.Status != StatusPending {
			t.Errorf("pending delivery %s dropped", id)
		}
	}
	kept := 0
	for _, id := range failed {
		if _, ok := m.deliveries[id]; ok {
			kept++
		}
	}
	if kept == 0 {
		t.Errorf("no failed delivery kept of %d: delivered ones must go first", len(failed))
	}
}
