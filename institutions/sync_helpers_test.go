package institutions_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/queueless/queueless/internal/app"
	"github.com/queueless/queueless/internal/testapp"
	"github.com/queueless/queueless/mockapi"
	"github.com/queueless/queueless/queue"
)

// simStart is when every simulation starts, in simulated time.
var simStart = time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC)

// fastSync makes pollers quick enough for tests.
func fastSync(c *app.Config) {
	c.Sync.Tick = 50 * time.Millisecond
	c.Sync.Timeout = 3 * time.Second
	c.Sync.LeaseTTL = 10 * time.Second
	c.Sync.BackoffMax = time.Second
	c.Sync.BreakerFailures = 5
	c.Sync.BreakerOpen = time.Second
}

// startMock serves one simulated institution "T" at speed times the wall
// clock, with faults.
func startMock(t *testing.T, speed float64, ic mockapi.InstitutionConfig, f mockapi.Faults) (*mockapi.Server, string) {
	t.Helper()
	ic.ExternalID = "T"
	if ic.Name == "" {
		ic.Name = "Mock Office"
	}
	srv, err := mockapi.New(mockapi.Config{Institutions: []mockapi.InstitutionConfig{ic}, Seed: 42,
		Clock: mockapi.NewClock(simStart, speed), Faults: f})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	return srv, hs.URL + "/api/v1/institutions/T/queue"
}

func mustDist(t *testing.T, s string) mockapi.Dist {
	t.Helper()
	d, err := mockapi.ParseDist(s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// putLink links institution id and returns the link as answered.
func putLink(t *testing.T, s *testapp.Server, id int64, body map[string]any) map[string]any {
	t.Helper()
	r := s.Do(testapp.Request{Method: "PUT", Path: fmt.Sprintf("/api/v1/institutions/%d/link", id), Body: body, Token: testapp.AdminToken})
	if r.Status != http.StatusOK {
		t.Fatalf("put link: %d %s", r.Status, r.Body)
	}
	return r.Map(t)
}

type instState struct {
	NowServing int64 `json:"now_serving"`
	LastIssued int64 `json:"last_issued"`
	Waiting    int64 `json:"waiting_count"`
	Version    int64 `json:"version"`
}

func getInst(t *testing.T, s *testapp.Server, id int64) instState {
	t.Helper()
	r := s.Do(testapp.Request{Method: "GET", Path: fmt.Sprintf("/api/v1/institutions/%d", id)})
	if r.Status != http.StatusOK {
		t.Fatalf("get institution: %d %s", r.Status, r.Body)
	}
	var st instState
	r.JSON(t, &st)
	return st
}

type linkState struct {
	Stale               bool    `json:"stale"`
	Breaker             *string `json:"breaker"`
	ConsecutiveFailures int     `json:"consecutive_failures"`
	LastError           *string `json:"last_error"`
	Outside             *struct {
		NowServing int64 `json:"now_serving"`
		LastIssued int64 `json:"last_issued"`
	} `json:"outside"`
}

func getLink(t *testing.T, s *testapp.Server, id int64) linkState {
	t.Helper()
	r := s.Do(testapp.Request{Method: "GET", Path: fmt.Sprintf("/api/v1/institutions/%d/link", id), Token: testapp.AdminToken})
	if r.Status != http.StatusOK {
		t.Fatalf("get link: %d %s", r.Status, r.Body)
	}
	var l linkState
	r.JSON(t, &l)
	return l
}

type auditEvent struct {
	ID     int64     `json:"id"`
	At     time.Time `json:"at"`
	Kind   string    `json:"kind"`
	Number *int64    `json:"number"`
	Actor  string    `json:"actor"`
	Data   struct {
		Counter *string `json:"counter"`
	} `json:"data"`
}

// events reads institution id's whole audit trail.
func events(t *testing.T, s *testapp.Server, id int64) []auditEvent {
	t.Helper()
	var all []auditEvent
	after := int64(0)
	for {
		r := s.Do(testapp.Request{Method: "GET", Token: testapp.AdminToken,
			Path: fmt.Sprintf("/api/v1/institutions/%d/events?limit=500&after=%d", id, after)})
		if r.Status != http.StatusOK {
			t.Fatalf("events: %d %s", r.Status, r.Body)
		}
		var page struct {
			Items     []auditEvent `json:"items"`
			NextAfter *int64       `json:"next_after"`
		}
		r.JSON(t, &page)
		all = append(all, page.Items...)
		if page.NextAfter == nil {
			return all
		}
		after = *page.NextAfter
	}
}

// calledNumbers returns the numbers called, in the order of the audit trail.
func calledNumbers(evs []auditEvent) []int64 {
	var out []int64
	for _, e := range evs {
		if e.Kind == queue.AuditCalled && e.Number != nil {
			out = append(out, *e.Number)
		}
	}
	return out
}

// checkCalls asserts that numbers were called once each, in rising order,
// 1 to want with no gap (nobody but the outside system called), by sync.
func checkCalls(t *testing.T, evs []auditEvent, want int64) {
	t.Helper()
	called := calledNumbers(evs)
	for i, n := range called {
		if n != int64(i+1) {
			t.Fatalf("call %d was number %d, want %d (calls %v): a number called twice, skipped or out of order", i, n, i+1, called)
		}
	}
	if got := int64(len(called)); got != want {
		t.Fatalf("%d numbers called, want %d", got, want)
	}
	for _, e := range evs {
		if e.Kind == queue.AuditCalled && e.Actor != queue.ActorSync {
			t.Fatalf("number %d called by %q, want %q", *e.Number, e.Actor, queue.ActorSync)
		}
	}
}

// watchForward samples the institution until the test ends and fails it if
// now_serving, last_issued or version ever go back.
func watchForward(t *testing.T, s *testapp.Server, id int64) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		var last instState
		for ctx.Err() == nil {
			r, err := s.Try(testapp.Request{Method: "GET", Path: fmt.Sprintf("/api/v1/institutions/%d", id)})
			if err == nil && r.Status == http.StatusOK {
				var st instState
				if err := json.Unmarshal(r.Body, &st); err != nil {
					t.Errorf("institution: %v", err)
					return
				}
				if st.NowServing < last.NowServing || st.LastIssued < last.LastIssued || st.Version < last.Version {
					t.Errorf("institution went back: from %+v to %+v", last, st)
				}
				last = st
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
	return func() { cancel(); wg.Wait() }
}

// eventually polls cond every 50 ms until it holds or d passes.
func eventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %s", d, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// metric returns the value of the first line of /metrics that starts with
// prefix, or "" when there is none.
func metric(t *testing.T, s *testapp.Server, prefix string) string {
	t.Helper()
	r := s.Do(testapp.Request{Method: "GET", Path: "/metrics"})
	for _, line := range strings.Split(string(r.Body), "\n") {
		if strings.HasPrefix(line, prefix) {
			return strings.TrimSpace(strings.TrimPrefix(line, prefix))
		}
	}
	return ""
}

// startInstance starts another QueueLess instance without an HTTP
// listener (it polls, which is all it is here for) and returns a func that
// shuts it down as a deploy would, before the test ends.
func startInstance(t *testing.T, cfg app.Config) (*app.App, func()) {
	t.Helper()
	a, err := app.New(context.Background(), cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	a.Start(context.Background())
	var once sync.Once
	stop := func() {
		once.Do(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			a.Close(ctx)
		})
	}
	t.Cleanup(stop)
	return a, stop
}
