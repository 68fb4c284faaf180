package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/queueless/queueless/internal/app"
	"github.com/queueless/queueless/internal/testapp"
	"github.com/queueless/queueless/queue"
)

// TestAutomaticExpiryAcrossInstances: a called ticket that never checks in
// expires by itself, with nobody calling advance, within seconds of its grace
// period running out; with two production instances sweeping the same
// database, it expires exactly once (one notification, one audit event, one
// count in the metric summed over the instances), and the phone following
// it live on the other instance sees it expire.
func TestAutomaticExpiryAcrossInstances(t *testing.T) {
	t.Parallel()
	const grace = time.Second // GRACE_PERIOD's least value
	cfg := testapp.Config(t, testapp.Production, func(c *app.Config) {
		c.GracePeriod = grace
		c.SweepInterval = 100 * time.Millisecond
	})
	one, two := testapp.StartConfig(t, cfg), testapp.StartConfig(t, cfg)
	id := one.CreateInstitution(nil)
	var tk queue.Ticket
	if r := one.Do(testapp.Request{Method: "POST", Path: testapp.Path("/api/v1/institutions/%d/tickets", id)}); r.Status != http.StatusCreated {
		t.Fatalf("join: %d %s", r.Status, r.Body)
	} else {
		r.JSON(t, &tk)
	}
	phone := followTicket(t, two.URL, tk.ID)
	phone.waitFor(t, "the snapshot", 10*time.Second, func(f frame) bool { return f.Type == "snapshot" })

	r := one.Do(testapp.Request{Method: "POST", Path: testapp.Path("/api/v1/institutions/%d/advance", id), Token: testapp.AdminToken, Body: map[string]any{"counter": "4"}})
	var adv queue.AdvanceResult
	r.JSON(t, &adv)
	if r.Status != http.StatusOK || len(adv.Called) != 1 || adv.Called[0].ID != tk.ID {
		t.Fatalf("advance: %d %s, want ticket %d called", r.Status, r.Body, tk.Number)
	}
	calledAt := *adv.Called[0].CalledAt

	// The phone on the other instance sees the expiry: the sweeper did it,
	// since nobody calls advance again. "Within seconds": the grace period,
	// then a sweep (100ms) and delivery, with room for a loaded machine.
	const bound = 10 * time.Second
	f := phone.waitFor(t, "the expiry on the phone's live stream", grace+bound, func(f frame) bool {
		return f.Ticket != nil && f.Ticket.Status == queue.TicketExpired
	})
	got := f.Ticket
	if got.CompletedAt == nil {
		t.Fatalf("expired ticket on the stream has no completed_at: %+v", got)
	}
	if wait := got.CompletedAt.Sub(calledAt); wait < grace || wait > grace+bound {
		t.Errorf("expired %v after the call, want between the grace period %v and %v", wait, grace, grace+bound)
	}
	phone.waitFor(t, "the expired notification on the phone's live stream", 5*time.Second, func(f frame) bool {
		return f.Type == "notification" && f.Notification != nil && f.Notification.Event == queue.NotifyExpired
	})

	// Exactly once. A second expiry would come from the next sweep of
	// either instance (every 100ms): give both several.
	time.Sleep(10 * cfg.SweepInterval)
	var api queue.Ticket
	two.Do(testapp.Request{Method: "GET", Path: "/api/v1/tickets/" + tk.ID}).JSON(t, &api)
	if api.Status != queue.TicketExpired || !api.CompletedAt.Equal(*got.CompletedAt) {
		t.Errorf("API ticket: %s completed %v, want expired at %v as streamed", api.Status, api.CompletedAt, got.CompletedAt)
	}
	var notes struct{ Items []queue.Notification }
	two.Do(testapp.Request{Method: "GET", Path: "/api/v1/tickets/" + tk.ID + "/notifications"}).JSON(t, &notes)
	if n := countNotes(notes.Items, queue.NotifyExpired); n != 1 {
		t.Errorf("ticket has %d expired notifications, want 1", n)
	}
	var events struct{ Items []queue.AuditEvent }
	one.Do(testapp.Request{Method: "GET", Path: testapp.Path("/api/v1/institutions/%d/events?limit=100", id), Token: testapp.AdminToken}).JSON(t, &events)
	expiries := 0
	for _, e := range events.Items {
		if e.Kind == queue.AuditExpired {
			expiries++
			if e.TicketID == nil || *e.TicketID != tk.ID || e.Actor != queue.ActorSystem {
				t.Errorf("expiry audit event %+v, want ticket %s by %s", e, tk.ID, queue.ActorSystem)
			}
		}
	}
	if expiries != 1 {
		t.Errorf("audit trail has %d %s events, want 1", expiries, queue.AuditExpired)
	}
	sum := 0.0
	for _, s := range []*testapp.Server{one, two} {
		sum += counterValue(t, s.App, "queueless_expiries_total")
	}
	if sum != 1 {
		t.Errorf("queueless_expiries_total summed over both instances = %v, want 1", sum)
	}
}

func countNotes(ns []queue.Notification, event string) int {
	n := 0
	for _, x := range ns {
		if x.Event == event {
			n++
		}
	}
	return n
}

// counterValue reads a counter without labels from the app's registry.
func counterValue(t *testing.T, a *app.App, name string) float64 {
	t.Helper()
	mfs, err := a.Registry.Gather()
	if err != nil {
		t.Fatalf("gather metrics: %v", err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			total := 0.0
			for _, m := range mf.GetMetric() {
				total += m.GetCounter().GetValue()
			}
			return total
		}
	}
	t.Fatalf("no metric %s", name)
	return 0
}

// frame is a live stream frame, as much of it as these tests read.
type frame struct {
	Type         string              `json:"type"`
	Ticket       *queue.Ticket       `json:"ticket"`
	Institution  *queue.Institution  `json:"institution"`
	Notification *queue.Notification `json:"notification"`
}

// liveReader reads every frame of a live stream in the background.
type liveReader struct {
	mu     sync.Mutex
	frames []frame
	err    error
	more   chan struct{} // signalled on every frame and at the end
}

func followTicket(t *testing.T, base, ticketID string) *liveReader {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	url := "ws" + strings.TrimPrefix(base, "http") + "/api/v1/tickets/" + ticketID + "/live"
	c, _, err := websocket.Dial(ctx, url, nil)
	if err != nil {
		t.Fatalf("dial %s: %v", url, err)
	}
	r := &liveReader{more: make(chan struct{}, 1)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			_, b, err := c.Read(context.Background())
			r.mu.Lock()
			if err != nil {
				r.err = err
			} else {
				var f frame
				if jerr := json.Unmarshal(b, &f); jerr != nil {
					r.err = fmt.Errorf("decode frame %s: %w", b, jerr)
				} else {
					r.frames = append(r.frames, f)
				}
			}
			stop := r.err != nil
			r.mu.Unlock()
			select {
			case r.more <- struct{}{}:
			default:
			}
			if stop {
				return
			}
		}
	}()
	t.Cleanup(func() {
		_ = c.CloseNow()
		<-done
	})
	return r
}

// waitFor returns the first frame that satisfies cond, waiting up to d.
func (r *liveReader) waitFor(t *testing.T, what string, d time.Duration, cond func(frame) bool) frame {
	t.Helper()
	timeout := time.After(d)
	for {
		r.mu.Lock()
		for _, f := range r.frames {
			if cond(f) {
				r.mu.Unlock()
				return f
			}
		}
		err, n := r.err, len(r.frames)
		r.mu.Unlock()
		if err != nil {
			t.Fatalf("waiting for %s: stream ended after %d frames: %v", what, n, err)
		}
		select {
		case <-r.more:
		case <-timeout:
			t.Fatalf("waited %v for %s (%d frames)", d, what, n)
		}
	}
}
