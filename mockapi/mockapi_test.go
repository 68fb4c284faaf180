package mockapi

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC)

func office(t *testing.T, ext string) InstitutionConfig {
	t.Helper()
	arr, _ := ParseDist("exp:30s")
	svc, _ := ParseDist("exp:80s:10s")
	return InstitutionConfig{ExternalID: ext, Name: "Office " + ext, Kind: "government", Counters: 3, Arrival: arr, Service: svc, Initial: 4}
}

// newServer returns a server on a stopped clock, moved by Advance only.
func newServer(t *testing.T, f Faults, ics ...InstitutionConfig) (*Server, *httptest.Server) {
	t.Helper()
	s, err := New(Config{Institutions: ics, Seed: 7, Clock: NewClock(t0, 0), Faults: f})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(s)
	t.Cleanup(hs.Close)
	return s, hs
}

func TestSimulationIsRepeatableAndOrderly(t *testing.T) {
	t.Parallel()
	a, _ := newServer(t, Faults{}, office(t, "A"))
	b, _ := newServer(t, Faults{}, office(t, "A"))
	// a is looked at every simulated second, b once: same calls.
	for range 3600 {
		a.Clock().Advance(time.Second)
		a.Queue("A")
	}
	b.Clock().Advance(time.Hour)
	ca, cb := a.Calls("A"), b.Calls("A")
	if !reflect.DeepEqual(ca, cb) {
		t.Fatalf("same seed, different calls: %d vs %d", len(ca), len(cb))
	}
	if len(ca) < 60 {
		t.Fatalf("%d calls in an hour with 3 counters of 80 s: too few", len(ca))
	}
	q, _ := a.Queue("A")
	busy := map[string]time.Time{}
	for i, c := range ca {
		if c.Number != int64(i+1) {
			t.Fatalf("call %d was number %d: counters call in order, each number once", i, c.Number)
		}
		if i > 0 && c.At.Before(ca[i-1].At) {
			t.Fatalf("call %d at %s before call %d at %s", i, c.At, i-1, ca[i-1].At)
		}
		busy[c.Counter] = c.At
	}
	if q.NowServing != int64(len(ca)) || q.NowServing > q.LastIssued {
		t.Fatalf("queue %+v after %d calls", q, len(ca))
	}
	for _, c := range q.Counters {
		if c.CalledAt == nil || !c.CalledAt.Equal(busy[c.Counter]) {
			t.Errorf("counter %s's last call at %v, want %v", c.Counter, c.CalledAt, busy[c.Counter])
		}
	}
}

func TestSimulationHoursAndUntil(t *testing.T) {
	t.Parallel()
	ic := office(t, "H")
	ic.Hours = &Hours{Open: 9 * time.Hour, Close: 10 * time.Hour}
	ic.Until = t0.Add(24 * time.Hour)
	s, _ := newServer(t, Faults{}, ic)
	s.Clock().Advance(50 * time.Minute) // 08:50: closed
	if q, _ := s.Queue("H"); q.NowServing != 0 || q.LastIssued != 4 {
		t.Fatalf("before opening: %+v", q)
	}
	s.Clock().Advance(48 * time.Hour)
	for _, c := range s.Calls("H") {
		if h := c.At.Hour(); h != 9 || c.At.After(ic.Until) {
			t.Fatalf("a call at %s: outside 09:00-10:00 or after the end", c.At)
		}
	}
	if len(s.Calls("H")) == 0 {
		t.Fatal("no calls in opening hours")
	}
}

func get(t *testing.T, url string) (*http.Response, []byte, error) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp, body, err
}

func TestFaults(t *testing.T) {
	t.Parallel()
	s, hs := newServer(t, Faults{}, office(t, "F"), office(t, "G"))
	url := hs.URL + "/api/v1/institutions/F/queue"
	if err := s.SetFaults("F", Faults{ErrorRate: 0.3}); err != nil {
		t.Fatal(err)
	}
	fails := 0
	for range 200 {
		resp, _, err := get(t, url)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode == 500 {
			fails++
		}
	}
	if fails < 35 || fails > 85 {
		t.Errorf("%d of 200 answers failed at an error rate of 0.3", fails)
	}
	// Other institutions keep the global (no) faults.
	if resp, _, err := get(t, hs.URL+"/api/v1/institutions/G/queue"); err != nil || resp.StatusCode != 200 {
		t.Fatalf("G: %v %v", resp, err)
	}

	cases := map[string]struct {
		f     Faults
		check func(resp *http.Response, body []byte, err error) bool
	}{
		"outage": {Faults{Outages: []Window{{From: t0.Add(-time.Minute), To: t0.Add(time.Minute)}}},
			func(_ *http.Response, _ []byte, err error) bool { return err != nil }},
		"down": {Faults{Down: true}, func(_ *http.Response, _ []byte, err error) bool { return err != nil }},
		"truncated": {Faults{TruncateRate: 1}, func(_ *http.Response, _ []byte, err error) bool {
			return err != nil && strings.Contains(err.Error(), "unexpected EOF")
		}},
		"malformed": {Faults{MalformedRate: 1}, func(r *http.Response, body []byte, err error) bool {
			var q Queue
			return err == nil && r.StatusCode == 200 && (json.Unmarshal(body, &q) != nil || q.NowServing > q.LastIssued || q.ExternalID == "")
		}},
		"latency": {Faults{LatencyMS: 300}, func(r *http.Response, _ []byte, err error) bool { return err == nil && r.StatusCode == 200 }},
		"clock jump": {Faults{ClockJumpMS: 3_600_000}, func(r *http.Response, body []byte, err error) bool {
			var q Queue
			return err == nil && json.Unmarshal(body, &q) == nil && !q.UpdatedAt.Equal(t0)
		}},
	}
	for name, c := range cases {
		if err := s.SetFaults("F", c.f); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		resp, body, err := get(t, url)
		if !c.check(resp, body, err) {
			t.Errorf("%s: answer %v %q %v", name, resp, body, err)
		}
		if name == "latency" && time.Since(start) < 300*time.Millisecond {
			t.Errorf("latency: answered in %s", time.Since(start))
		}
	}
}

func TestAdminAndPush(t *testing.T) {
	t.Parallel()
	s, err := New(Config{Institutions: []InstitutionConfig{office(t, "P")}, Seed: 1, Clock: NewClock(t0, 0),
		AdminToken: "admin", PushInterval: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(s)
	defer hs.Close()
	do := func(method, path, token, body string) int {
		req, _ := http.NewRequest(method, hs.URL+path, strings.NewReader(body))
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := do("PUT", "/admin/faults", "", `{"error_rate": 1}`); got != 401 {
		t.Fatalf("admin without token: %d", got)
	}
	if got := do("PUT", "/admin/faults/P", "admin", `{"error_rate": 2}`); got != 400 {
		t.Fatalf("error_rate 2: %d", got)
	}
	if got := do("PUT", "/admin/faults/P", "admin", `{"error_rate": 1}`); got != 200 {
		t.Fatalf("set faults: %d", got)
	}
	if resp, _, _ := get(t, hs.URL+"/api/v1/institutions/P/queue"); resp.StatusCode != 500 {
		t.Fatalf("with error_rate 1: %d", resp.StatusCode)
	}
	if got := do("POST", "/admin/clock", "admin", `{"advance_seconds": 3600}`); got != 200 {
		t.Fatalf("jump clock: %d", got)
	}
	if !s.Clock().Now().Equal(t0.Add(time.Hour)) {
		t.Fatalf("clock at %s after a jump of an hour", s.Clock().Now())
	}

	// Pushes are signed, and what QueueLess issued is reserved.
	var mu sync.Mutex
	var got []Queue
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if r.Header.Get("X-QueueLess-Signature") != Sign("sec", body) {
			w.WriteHeader(401)
			return
		}
		var q Queue
		_ = json.NewDecoder(bytes.NewReader(body)).Decode(&q)
		mu.Lock()
		got = append(got, q)
		mu.Unlock()
		_, _ = w.Write([]byte(`{"institution": {"last_issued": 500}}`))
	}))
	defer recv.Close()
	if err := s.SetPush("P", recv.URL, "sec"); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go s.Run(ctx)
	deadline := time.Now().Add(5 * time.Second)
	for {
		mu.Lock()
		n := len(got)
		mu.Unlock()
		if n > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no push arrived")
		}
		time.Sleep(10 * time.Millisecond)
	}
	mu.Lock()
	if got[0].ExternalID != "P" || got[0].NowServing == 0 {
		t.Errorf("pushed %+v", got[0])
	}
	mu.Unlock()
	// The pusher reads the answer after the receiver has recorded the push.
	for {
		q, _ := s.Queue("P")
		if q.LastIssued >= 500 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("last issued %d after QueueLess said it issued 500", q.LastIssued)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
