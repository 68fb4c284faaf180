package alerting_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/queueless/queueless/internal/app"
	"github.com/queueless/queueless/internal/testapp"
)

// TestTwoInstancesEvaluate: two server instances on one PostgreSQL, their
// River periodic jobs running every second and, at each moment of a
// controlled clock, three evaluations at once on each instance: still one
// alert per institution, each transition applied once, and one webhook per
// level change to each webhook that asked for the level.
func TestTwoInstancesEvaluate(t *testing.T) {
	t.Parallel()
	var offset atomic.Int64
	now := func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }
	cfg := testapp.Config(t, testapp.Production, func(c *app.Config) { c.Alerts.Now, c.Alerts.Interval = now, time.Second })
	s1, s2 := testapp.StartConfig(t, cfg), testapp.StartConfig(t, cfg)

	var mu sync.Mutex
	got := map[string]map[string]int{} // path -> "event level" -> count
	seen := map[string]bool{}
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var p struct {
			Event string
			Alert struct{ Level string }
		}
		_ = json.Unmarshal(body, &p)
		mu.Lock()
		defer mu.Unlock()
		if id := r.Header.Get("X-QueueLess-Delivery"); !seen[id] {
			seen[id] = true
			if got[r.URL.Path] == nil {
				got[r.URL.Path] = map[string]int{}
			}
			got[r.URL.Path][p.Event+" "+p.Alert.Level]++
		}
	}))
	defer recv.Close()
	for path, levels := range map[string][]string{"/all": {}, "/p1": {"p1"}} {
		r := s1.Do(testapp.Request{Method: "POST", Path: "/api/v1/webhooks", Token: testapp.AdminToken, Body: map[string]any{
			"url": recv.URL + path, "events": []string{"alert.raised", "alert.escalated", "alert.resolved"}, "levels": levels}})
		if r.Status != http.StatusCreated {
			t.Fatalf("webhook: %d %s", r.Status, r.Body)
		}
	}
	const n = 4
	var ids []int64
	for range n {
		id := s1.CreateInstitution(map[string]any{"stall_minutes": 10, "wait_sla_minutes": 1440})
		s2.Do(testapp.Request{Method: "POST", Path: testapp.Path("/api/v1/institutions/%d/tickets", id), Body: map[string]any{}})
		ids = append(ids, id)
	}
	evaluateAtOnce := func() {
		var wg sync.WaitGroup
		for _, s := range []*testapp.Server{s1, s2, s1, s2, s1, s2} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := s.App.AlertEvaluator.EvaluateAll(context.Background()); err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
	}
	for _, m := range []int{11, 27, 42, 72} {
		offset.Store(int64(time.Duration(m) * time.Minute))
		evaluateAtOnce()
		time.Sleep(1200 * time.Millisecond) // a run of each periodic job too
	}
	for _, id := range ids {
		r := s2.Do(testapp.Request{Method: "POST", Path: testapp.Path("/api/v1/institutions/%d/advance", id), Token: testapp.AdminToken})
		if r.Status != http.StatusOK {
			t.Fatalf("advance: %d %s", r.Status, r.Body)
		}
	}
	offset.Store(int64(73 * time.Minute))
	evaluateAtOnce()

	all, err := s1.App.Alerts.List(context.Background(), alertsFilterAll())
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != n {
		t.Fatalf("%d alerts, want one per institution (%d): %+v", len(all), n, all)
	}
	for _, a := range all {
		if a.Open() || a.Level != "p0" || a.ResolvedBy != "system" {
			t.Fatalf("alert %+v, want resolved by the system at p0", a)
		}
	}
	want := map[string]map[string]int{
		"/all": {"alert.raised initiated": n, "alert.escalated p2": n, "alert.escalated p1": n, "alert.escalated p0": n, "alert.resolved p0": n},
		"/p1":  {"alert.escalated p1": n, "alert.resolved p0": n},
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		mu.Lock()
		done := equal(got, want)
		snapshot, _ := json.Marshal(got)
		mu.Unlock()
		if done {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("webhooks received %s, want %v", snapshot, want)
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(500 * time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	if !equal(got, want) {
		t.Fatalf("more webhooks came: %v", got)
	}
}

func equal(a, b map[string]map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, m := range b {
		if len(a[k]) != len(m) {
			return false
		}
		for e, n := range m {
			if a[k][e] != n {
				return false
			}
		}
	}
	return true
}
