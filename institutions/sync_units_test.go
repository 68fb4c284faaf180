package institutions_test

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/queueless/queueless/institutions"
	"github.com/queueless/queueless/mockapi"
	"github.com/queueless/queueless/queue"
)

func TestDecodeOutsideQueue(t *testing.T) {
	t.Parallel()
	good := `{"now_serving": 3, "last_issued": 5, "extra": {"ignored": true},
		"counters": [{"counter": "1", "number": 3, "called_at": "2026-11-23T08:00:00Z"}, {"counter": "2", "number": null}, {"counter": "3", "number": 9}]}`
	q, err := institutions.DecodeOutsideQueue([]byte(good))
	if err != nil {
		t.Fatal(err)
	}
	if q.NowServing != 3 || q.LastIssued != 5 || len(q.Calls) != 1 || *q.Calls[0].Counter != "1" {
		t.Fatalf("decoded %+v: want 3, 5 and one call (idle and impossible counters dropped)", q)
	}
	for name, body := range map[string]string{
		"truncated":        good[:len(good)/2],
		"empty":            ``,
		"html":             `<html>Service Unavailable</html>`,
		"array":            `[]`,
		"string number":    `{"now_serving": "3", "last_issued": 5}`,
		"missing serving":  `{"last_issued": 5}`,
		"serving > issued": `{"now_serving": 6, "last_issued": 5}`,
		"negative":         `{"now_serving": -1, "last_issued": 5}`,
		"huge":             `{"now_serving": 1, "last_issued": 1e300}`,
		"trailing":         `{"now_serving": 1, "last_issued": 1} {}`,
	} {
		if _, err := institutions.DecodeOutsideQueue([]byte(body)); err == nil {
			t.Errorf("%s: decoded %q", name, body)
		} else if code, _ := queue.ErrorCode(err); code != queue.CodeInvalid {
			t.Errorf("%s: error code %s, want invalid_request", name, code)
		}
	}
}

func TestLinkSpecValidate(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		spec institutions.LinkSpec
		ok   bool
	}{
		{institutions.LinkSpec{Mode: queue.LinkPoll, URL: "http://outside/q"}, true},
		{institutions.LinkSpec{Mode: queue.LinkPoll, URL: "ftp://outside/q"}, false},
		{institutions.LinkSpec{Mode: queue.LinkPoll, URL: "/relative"}, false},
		{institutions.LinkSpec{Mode: queue.LinkPoll, URL: "http://outside/q", PollInterval: time.Millisecond}, false},
		{institutions.LinkSpec{Mode: queue.LinkPush}, true},
		{institutions.LinkSpec{Mode: queue.LinkPush, URL: "http://outside/q"}, false},
		{institutions.LinkSpec{Mode: queue.LinkPush, StaleAfter: 100 * time.Hour}, false},
		{institutions.LinkSpec{Mode: "carrier-pigeon"}, false},
	} {
		err := c.spec.Validate()
		if (err == nil) != c.ok {
			t.Errorf("%+v: %v, want ok %v", c.spec, err, c.ok)
		}
	}
	sp := institutions.LinkSpec{Mode: queue.LinkPoll, URL: "http://outside/q", PollInterval: 20 * time.Second}
	if err := sp.Validate(); err != nil || sp.StaleAfter != time.Minute {
		t.Errorf("default stale_after of a 20 s poll: %s %v, want 3 polls", sp.StaleAfter, err)
	}
}

// TestSyncerStopsClean runs the poller against a mock and stops it: every
// goroutine it started ends. Not parallel: goleak sees every goroutine.
func TestSyncerStopsClean(t *testing.T) {
	ignore := goleak.IgnoreCurrent()
	arr, _ := mockapi.ParseDist("fixed:1s")
	mock, err := mockapi.New(mockapi.Config{Institutions: []mockapi.InstitutionConfig{{ExternalID: "T", Name: "T", Arrival: arr, Service: arr}},
		Clock: mockapi.NewClock(simStart, 10)})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(mock)
	svc := queue.NewService(queue.NewMemoryStore(), queue.Config{})
	ctx, cancel := context.WithCancel(context.Background())
	inst, err := svc.CreateInstitution(ctx, queue.Fields{Name: "Linked", Kind: "bank", Status: queue.StatusOpen}, queue.Meta{})
	if err != nil {
		t.Fatal(err)
	}
	s := institutions.NewSyncer(institutions.SyncConfig{Queue: svc, Links: queue.NewMemoryLinkStore(nil), Tick: 10 * time.Millisecond})
	if _, err := s.PutLink(ctx, inst.ID, institutions.LinkSpec{Mode: queue.LinkPoll, URL: hs.URL + "/api/v1/institutions/T/queue", PollInterval: 100 * time.Millisecond}, queue.Meta{}); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { s.Run(ctx); close(done) }()
	deadline := time.Now().Add(5 * time.Second)
	for {
		l, err := s.Link(ctx, inst.ID)
		if err == nil && l.Outside != nil && l.Outside.NowServing > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the poller did not follow the mock: %+v %v", l, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if s.Owner() == "" {
		t.Fatal("the syncer has no owner name for its leases")
	}
	cancel()
	<-done
	hs.Close()
	goleak.VerifyNone(t, ignore)
}
