package webhooks_test

import (
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/queueless/queueless/internal/testapp"
)

// A receiver that is down for a while (500s, dropped connections) and then
// back gets every delivery, each delivery id accepted exactly once, after
// attempts spaced by the backoff schedule.
func TestWebhookReceiverDownThenBack(t *testing.T) {
	t.Parallel()
	const base = 50 * time.Millisecond
	for _, mode := range testapp.Modes {
		t.Run(string(mode), func(t *testing.T) {
			t.Parallel()
			s := testapp.Start(t, mode, fastRetries(base, 8))
			inst := s.CreateInstitution(nil)
			r := newReceiver(t)
			// Down (500, 503 or the connection dropped) until the joins
			// are in and 1.2 s more, then back.
			var back atomic.Int64
			back.Store(time.Now().Add(time.Hour).UnixNano())
			r.setAnswer(func(a attempt) int {
				if a.at.UnixNano() >= back.Load() {
					return http.StatusOK
				}
				switch a.delivery[0] % 3 {
				case 0:
					return http.StatusInternalServerError
				case 1:
					return http.StatusServiceUnavailable
				}
				return dropConnection
			})
			hook := createHook(t, s, r, []string{"ticket.created", "ticket.called", "ticket.notified"}, nil)
			const joins = 12
			for range joins {
				join(t, s, inst)
			}
			advance(t, s, inst, 2)
			back.Store(time.Now().Add(1200 * time.Millisecond).UnixNano())

			var want int
			waitFor(t, 60*time.Second, "every delivery delivered", func() bool {
				ds := deliveries(t, s, hook.ID, "")
				want = len(ds)
				for _, d := range ds {
					if d.Status != "delivered" {
						return false
					}
				}
				return want > 0
			})
			// joins created, notified the first ones, 2 called.
			if want < joins+2 {
				t.Fatalf("%d deliveries, want at least %d (a created per join and a called per call)", want, joins+2)
			}
			time.Sleep(3 * base) // a repeat, if any, would arrive now
			acc := r.accepted()
			if len(acc) != want {
				t.Errorf("receiver accepted %d delivery ids, want %d", len(acc), want)
			}
			for id, n := range acc {
				if n != 1 {
					t.Errorf("delivery %s accepted %d times, want once", id, n)
				}
			}

			byID := map[string][]time.Time{}
			for _, a := range r.attempts() {
				if !a.sigOK {
					t.Errorf("delivery %s: bad signature", a.delivery)
				}
				byID[a.delivery] = append(byID[a.delivery], a.at)
			}
			retried := 0
			for _, d := range deliveries(t, s, hook.ID, "") {
				times := byID[d.ID]
				if d.Attempts != len(times) {
					t.Errorf("delivery %s: %d attempts recorded, the receiver saw %d", d.ID, d.Attempts, len(times))
				}
				if len(times) > 1 {
					retried++
				}
				sort.Slice(times, func(i, j int) bool { return times[i].Before(times[j]) })
				// The wait after failed attempt n is base*2^(n-1) less 20%
				// jitter at least; polling only makes it longer.
				for n := 1; n < len(times); n++ {
					gap := times[n].Sub(times[n-1])
					min := time.Duration(float64(base) * float64(int(1)<<(n-1)) * 0.8)
					if gap < min-5*time.Millisecond {
						t.Errorf("delivery %s: attempt %d came %s after attempt %d, before the schedule's %s", d.ID, n+1, gap, n, min)
					}
				}
			}
			if retried == 0 {
				t.Errorf("no delivery needed a retry: the receiver was never down for them")
			}
		})
	}
}

// A receiver down for good: the delivery is failed after its attempts and
// listed with the dead letters; a retry by hand, once the receiver is back,
// delivers it once.
func TestWebhookDownForGoodThenManualRetry(t *testing.T) {
	t.Parallel()
	for _, mode := range testapp.Modes {
		t.Run(string(mode), func(t *testing.T) {
			t.Parallel()
			const attempts = 8
			s := testapp.Start(t, mode, fastRetries(10*time.Millisecond, attempts))
			inst := s.CreateInstitution(nil)
			r := newReceiver(t)
			r.setAnswer(func(attempt) int { return http.StatusInternalServerError })
			hook := createHook(t, s, r, []string{"ticket.created"}, nil)
			join(t, s, inst)

			var failed []deliveryOut
			waitFor(t, 60*time.Second, "the delivery to fail", func() bool {
				failed = deliveries(t, s, hook.ID, "failed")
				return len(failed) == 1
			})
			d := failed[0]
			if d.Attempts != attempts || d.NextAttemptAt != nil || d.LastError == nil || !strings.Contains(*d.LastError, "500") {
				t.Errorf("failed delivery %+v: want %d attempts, no next attempt, the receiver's 500 as last error", d, attempts)
			}
			if n := len(r.attempts()); n != attempts {
				t.Errorf("receiver saw %d attempts, want %d", n, attempts)
			}
			if p := deliveries(t, s, hook.ID, "pending"); len(p) != 0 {
				t.Errorf("pending deliveries %+v, want none", p)
			}
			time.Sleep(200 * time.Millisecond)
			if n := len(r.attempts()); n != attempts {
				t.Errorf("receiver saw %d attempts after the delivery failed, want %d: a failed delivery waits for a retry by hand", n, attempts)
			}

			r.setAnswer(nil)
			path := fmt.Sprintf("/api/v1/webhooks/%d/deliveries/%s/retry", hook.ID, d.ID)
			resp := s.Do(testapp.Request{Method: "POST", Path: path, Token: testapp.AdminToken})
			if resp.Status != http.StatusAccepted {
				t.Fatalf("retry: %d %s, want 202", resp.Status, resp.Body)
			}
			waitFor(t, 30*time.Second, "the retried delivery to arrive", func() bool { return r.accepted()[d.ID] == 1 })
			waitFor(t, 10*time.Second, "the delivery recorded as delivered", func() bool {
				ds := deliveries(t, s, hook.ID, "delivered")
				return len(ds) == 1 && ds[0].Attempts == attempts+1 && ds[0].LastError == nil
			})
			resp = s.Do(testapp.Request{Method: "POST", Path: path, Token: testapp.AdminToken})
			if resp.Status != http.StatusConflict {
				t.Errorf("retry of a delivered delivery: %d %s, want 409", resp.Status, resp.Body)
			}
			time.Sleep(100 * time.Millisecond)
			if n := r.accepted()[d.ID]; n != 1 {
				t.Errorf("delivery accepted %d times, want once", n)
			}
		})
	}
}
