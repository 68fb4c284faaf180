package institutions_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/queueless/queueless/institutions"
	"github.com/queueless/queueless/internal/testapp"
	"github.com/queueless/queueless/mockapi"
	"github.com/queueless/queueless/queue"
)

// A minute of simulated calls (12 s of wall time at speed 5) from an
// outside system that fails 30% of requests and answers the rest a second
// late: QueueLess ends where the outside system ends, having called every
// number once, in order, and never gone back.
func TestPollFollowsFaultyOutside(t *testing.T) {
	t.Parallel()
	const speed = 5
	s := testapp.Start(t, testapp.Production, fastSync)
	id := s.CreateInstitution(nil)
	stop := watchForward(t, s, id)
	// The simulated minute starts now, with QueueLess ready to poll.
	mock, queueURL := startMock(t, speed, mockapi.InstitutionConfig{Counters: 3,
		Arrival: mustDist(t, "exp:3s"), Service: mustDist(t, "exp:6s:1s"), Initial: 10, Until: simStart.Add(time.Minute)},
		mockapi.Faults{ErrorRate: 0.3, LatencyMS: 1000})
	putLink(t, s, id, map[string]any{"mode": "poll", "url": queueURL, "poll_interval_seconds": 0.2})

	// The simulation ends at its minute; then QueueLess must catch up.
	eventually(t, 20*time.Second, "the simulated minute did not end", func() bool {
		return mock.Clock().Now().After(simStart.Add(time.Minute))
	})
	final, _ := mock.Queue("T")
	var got instState
	eventually(t, 15*time.Second, "QueueLess did not reach the outside queue", func() bool {
		got = getInst(t, s, id)
		return got.NowServing == final.NowServing && got.LastIssued == final.LastIssued
	})
	stop()
	if final.NowServing < 10 {
		t.Fatalf("the outside system called only %d numbers in its minute: the test shows little", final.NowServing)
	}
	evs := events(t, s, id)
	checkCalls(t, evs, final.NowServing)
	if got, want := got.Waiting, final.LastIssued-final.NowServing; got != want {
		t.Errorf("waiting_count = %d, want %d (walk-ins not yet called)", got, want)
	}
	// The faults did happen, and the poller lived through them.
	if st := mock.Stats("T"); st.Requests < 5 {
		t.Errorf("only %d polls reached the outside system", st.Requests)
	}
	failed := metric(t, s, `queueless_link_polls_total{result="error"}`)
	if failed == "" || failed == "0" {
		t.Errorf("no failed poll counted (queueless_link_polls_total error = %q): were faults injected?", failed)
	}
	t.Logf("outside: now serving %d, last issued %d; %d polls reached it, %s failed",
		final.NowServing, final.LastIssued, mock.Stats("T").Requests, failed)
	// Each counter's latest call is attributed to it.
	for _, c := range final.Counters {
		if c.Number == nil {
			continue
		}
		for _, e := range evs {
			if e.Kind == queue.AuditCalled && *e.Number == *c.Number {
				if e.Data.Counter == nil || *e.Data.Counter != c.Counter {
					t.Errorf("number %d called at counter %v, want %q", *c.Number, e.Data.Counter, c.Counter)
				}
			}
		}
	}
}

// An outage window: the link goes stale (on the link and in the metric),
// phones are still served, and when the outside system is back QueueLess
// catches up in one step.
func TestPollOutageGoesStaleAndCatchesUp(t *testing.T) {
	t.Parallel()
	const speed = 5
	outage := mockapi.Window{From: simStart.Add(20 * time.Second), To: simStart.Add(50 * time.Second)}
	s := testapp.Start(t, testapp.Production, fastSync)
	id := s.CreateInstitution(nil)
	stop := watchForward(t, s, id)
	defer stop()
	mock, queueURL := startMock(t, speed, mockapi.InstitutionConfig{Counters: 2,
		Arrival: mustDist(t, "fixed:2s"), Service: mustDist(t, "fixed:3s"), Initial: 30, Until: simStart.Add(80 * time.Second)},
		mockapi.Faults{Outages: []mockapi.Window{outage}})
	putLink(t, s, id, map[string]any{"mode": "poll", "url": queueURL, "poll_interval_seconds": 0.2, "stale_after_seconds": 1})

	var before instState
	eventually(t, 15*time.Second, "the link did not go stale in the outage", func() bool {
		if !mock.Clock().Now().After(outage.From) {
			before = getInst(t, s, id)
			return false
		}
		return getLink(t, s, id).Stale
	})
	staleSeen := time.Now()
	if mock.Clock().Now().After(outage.To) {
		t.Fatal("the link went stale only after the outage: the test proves nothing")
	}
	// The gauge is refreshed from the store every SYNC_TICK.
	eventually(t, time.Second, "queueless_link_stale did not turn 1 in the outage", func() bool {
		return metric(t, s, fmt.Sprintf(`queueless_link_stale{institution_id="%d"}`, id)) == "1"
	})
	// Phones are served from QueueLess's own state meanwhile.
	r := s.Do(testapp.Request{Method: "POST", Path: fmt.Sprintf("/api/v1/institutions/%d/tickets", id), Body: map[string]any{"phone": "09171234567"}})
	if r.Status != http.StatusCreated {
		t.Fatalf("join in the outage: %d %s", r.Status, r.Body)
	}
	var phone struct {
		ID     string `json:"id"`
		Number int64  `json:"number"`
	}
	r.JSON(t, &phone)
	if r := s.Do(testapp.Request{Method: "GET", Path: "/api/v1/tickets/" + phone.ID}); r.Status != http.StatusOK {
		t.Fatalf("ticket in the outage: %d %s", r.Status, r.Body)
	}

	eventually(t, 15*time.Second, "the link did not recover after the outage", func() bool {
		l := getLink(t, s, id)
		return !l.Stale && mock.Clock().Now().After(outage.To)
	})
	eventually(t, 2*time.Second, "queueless_link_stale stayed 1 after recovery", func() bool {
		return metric(t, s, fmt.Sprintf(`queueless_link_stale{institution_id="%d"}`, id)) == "0"
	})
	eventually(t, 20*time.Second, "QueueLess did not reach the outside queue", func() bool {
		q, _ := mock.Queue("T")
		return mock.Clock().Now().After(simStart.Add(80*time.Second)) && getInst(t, s, id).NowServing == q.NowServing
	})
	// The calls of the outage arrived in one step: one transaction, one time.
	evs := events(t, s, id)
	var first *auditEvent
	for i, e := range evs {
		if e.Kind == queue.AuditCalled && e.At.After(staleSeen) {
			first = &evs[i]
			break
		}
	}
	if first == nil {
		t.Fatal("nothing was called after the link went stale")
	}
	step, lastBefore, lastInStep := 0, int64(0), int64(0)
	for _, e := range evs {
		switch {
		case e.Kind != queue.AuditCalled:
		case e.At.Before(first.At):
			lastBefore = max(lastBefore, *e.Number)
		case e.At.Equal(first.At):
			step++
			lastInStep = max(lastInStep, *e.Number)
		}
	}
	if int64(step) != lastInStep-lastBefore {
		t.Errorf("the catch-up called %d numbers, but %d to %d were due", step, lastBefore+1, lastInStep)
	}
	t.Logf("before the outage QueueLess served %d; the first sync after it called %d numbers at once, from %d", before.NowServing, step, *first.Number)
	if step < 3 {
		t.Errorf("the first sync after the outage called %d numbers; an outage of 30 simulated seconds at ~1 call a 1.5 s should leave many to catch up at once", step)
	}
	called := calledNumbers(evs)
	seen := map[int64]bool{}
	for i, n := range called {
		if seen[n] || (i > 0 && n < called[i-1]) {
			t.Fatalf("calls %v: %d called twice or out of order", called, n)
		}
		seen[n] = true
	}
	// The phone's number is on the shared number line: it is called when
	// the outside system calls that number.
	q, _ := mock.Queue("T")
	if phone.Number <= q.NowServing && !seen[phone.Number] {
		t.Errorf("the phone's ticket %d was not called though the outside is at %d", phone.Number, q.NowServing)
	}
}

func sign(secret string, body []byte) string { return institutions.Sign(secret, body) }

// Push mode: signed pushes are applied in order; a replayed, a reordered
// (older after newer) and a badly signed push change nothing.
func TestPushSignedInOrder(t *testing.T) {
	t.Parallel()
	for _, mode := range testapp.Modes {
		t.Run(string(mode), func(t *testing.T) {
			t.Parallel()
			s := testapp.Start(t, mode)
			id := s.CreateInstitution(nil)
			link := putLink(t, s, id, map[string]any{"mode": "push"})
			secret, _ := link["secret"].(string)
			if secret == "" {
				t.Fatalf("a new push link shows no secret: %v", link)
			}
			if again := getLink(t, s, id); again.Outside != nil {
				t.Fatalf("a new link has an outside state: %+v", again)
			}
			r := s.Do(testapp.Request{Method: "GET", Path: fmt.Sprintf("/api/v1/institutions/%d/link", id), Token: testapp.AdminToken})
			if _, shown := r.Map(t)["secret"]; shown {
				t.Fatal("GET link shows the secret")
			}
			path := fmt.Sprintf("/api/v1/institutions/%d/link/push", id)
			doc := func(serving, issued int64, counter string) []byte {
				b, _ := json.Marshal(map[string]any{"now_serving": serving, "last_issued": issued, "updated_at": time.Now().UTC(),
					"counters": []map[string]any{{"counter": counter, "number": serving}}})
				return b
			}
			push := func(body []byte, sig string) (int, map[string]any) {
				t.Helper()
				h := map[string]string{}
				if sig != "" {
					h[institutions.SignatureHeader] = sig
				}
				r := s.Do(testapp.Request{Method: "POST", Path: path, Body: body, Header: h})
				return r.Status, r.Map(t)
			}
			d1, d2, d3 := doc(2, 5, "1"), doc(4, 6, "2"), doc(7, 9, "3")
			for i, d := range [][]byte{d1, d2, d3} {
				if st, m := push(d, sign(secret, d)); st != http.StatusOK || m["changed"] != true {
					t.Fatalf("push %d: %d %v", i+1, st, m)
				}
			}
			after := getInst(t, s, id)
			if after.NowServing != 7 || after.LastIssued != 9 || after.Waiting != 2 {
				t.Fatalf("after three pushes: %+v, want now_serving 7, last_issued 9, 2 waiting", after)
			}
			trail := len(events(t, s, id))

			older := doc(5, 8, "1") // never sent, but behind what was
			for name, d := range map[string][]byte{"replayed": d3, "reordered": d2, "older": older, "first again": d1} {
				st, m := push(d, sign(secret, d))
				if st != http.StatusOK || m["changed"] != false {
					t.Errorf("%s push: %d %v, want 200 with changed false", name, st, m)
				}
			}
			d4 := doc(9, 12, "1")
			for name, sig := range map[string]string{
				"missing":       "",
				"wrong secret":  sign("qls_not-the-secret", d4),
				"other body":    sign(secret, d3),
				"not hex":       "sha256=zz",
				"no scheme":     sign(secret, d4)[len("sha256="):],
				"tampered body": sign(secret, doc(9, 13, "1")),
			} {
				st, m := push(d4, sig)
				if st != http.StatusUnauthorized || m["code"] != "unauthorized" || m["request_id"] == "" || m["message"] == "" {
					t.Errorf("%s signature: %d %v, want 401 unauthorized in the contract's error body", name, st, m)
				}
			}
			if got := getInst(t, s, id); got != after {
				t.Fatalf("state changed by pushes that should change nothing: %+v, was %+v", got, after)
			}
			if got := len(events(t, s, id)); got != trail {
				t.Fatalf("audit trail grew from %d to %d on pushes that change nothing", trail, got)
			}

			if st, m := push(d4, sign(secret, d4)); st != http.StatusOK || m["changed"] != true {
				t.Fatalf("push 4: %d %v", st, m)
			}
			evs := events(t, s, id)
			checkCalls(t, evs, 9)
			for _, e := range evs {
				if e.Kind == queue.AuditCalled && *e.Number == 4 && (e.Data.Counter == nil || *e.Data.Counter != "2") {
					t.Errorf("number 4 called at counter %v, want 2", e.Data.Counter)
				}
			}
			if l := getLink(t, s, id); l.Outside == nil || l.Outside.NowServing != 9 || l.Stale {
				t.Errorf("link after push 4: %+v, want outside now_serving 9, not stale", l)
			}

			// Malformed but signed: 400, nothing changes.
			bad := []byte(`{"now_serving": 20, "last_issued": 10}`)
			if st, m := push(bad, sign(secret, bad)); st != http.StatusBadRequest || m["code"] != "invalid_request" {
				t.Errorf("signed push with now_serving above last_issued: %d %v, want 400", st, m)
			}
			// An institution without a push link takes no pushes.
			other := s.CreateInstitution(nil)
			r = s.Do(testapp.Request{Method: "POST", Path: fmt.Sprintf("/api/v1/institutions/%d/link/push", other), Body: d4,
				Header: map[string]string{institutions.SignatureHeader: sign(secret, d4)}})
			if r.Status != http.StatusUnauthorized {
				t.Errorf("push to an unlinked institution: %d %s, want 401", r.Status, r.Body)
			}
		})
	}
}

// Two instances on one database: one polls a link at a time, and when it
// shuts down the other takes over.
func TestTwoInstancesOnePoller(t *testing.T) {
	t.Parallel()
	mock, queueURL := startMock(t, 1, mockapi.InstitutionConfig{Counters: 2,
		Arrival: mustDist(t, "exp:2s"), Service: mustDist(t, "exp:3s"), Initial: 5}, mockapi.Faults{LatencyMS: 150})
	cfg := testapp.Config(t, testapp.Production, fastSync)
	a, stopA := startInstance(t, cfg)
	ctx := t.Context()
	inst, err := a.Queue.CreateInstitution(ctx, queue.Fields{Name: "Linked Office", Kind: "government", Status: queue.StatusOpen}, queue.Meta{Actor: "token:admin"})
	if err != nil {
		t.Fatal(err)
	}
	id := inst.ID
	if _, err := a.Sync.PutLink(ctx, id, institutions.LinkSpec{Mode: queue.LinkPoll, URL: queueURL, PollInterval: 100 * time.Millisecond}, queue.Meta{Actor: "token:admin"}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "A did not poll", func() bool { return mock.Stats("T").Requests >= 5 })

	// B starts while A holds the lease: B must not poll.
	b := testapp.StartConfig(t, cfg)
	time.Sleep(2 * time.Second)
	st := mock.Stats("T")
	if st.Overlaps != 0 || st.MaxInFlight != 1 {
		t.Fatalf("two polls of one link at once: %+v", st)
	}
	if n := st.ByInstance[b.App.Sync.Owner()]; n != 0 || len(st.ByInstance) != 1 {
		t.Fatalf("B polled %d times while A held the lease (polls by instance: %v)", n, st.ByInstance)
	}
	if l := getLink(t, b, id); l.Outside == nil {
		t.Fatalf("B does not show what A polled: %+v", l)
	}

	stopA()
	eventually(t, 10*time.Second, "B did not take over after A shut down", func() bool {
		return mock.Stats("T").ByInstance[b.App.Sync.Owner()] >= 10
	})
	st = mock.Stats("T")
	if st.Overlaps != 0 || st.MaxInFlight != 1 {
		t.Fatalf("two polls of one link at once across the handover: %+v", st)
	}
	q, _ := mock.Queue("T")
	eventually(t, 5*time.Second, "B did not follow the outside queue", func() bool {
		return getInst(t, b, id).NowServing >= q.NowServing
	})
	checkCalls(t, events(t, b, id), getInst(t, b, id).NowServing)
}
