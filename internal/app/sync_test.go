package app

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/queueless/queueless/mockapi"
)

// TestEmbeddedSeed: in embedded mode SEED_TICKETS and SEED_MOCKAPI_URL seed
// the serving process itself, and the poller follows the mock in-process.
func TestEmbeddedSeed(t *testing.T) {
	t.Parallel()
	dist, _ := mockapi.ParseDist("fixed:1s")
	mock, err := mockapi.New(mockapi.Config{Institutions: []mockapi.InstitutionConfig{
		{ExternalID: "X", Name: "Outside X", Kind: "health", Arrival: dist, Service: dist, Initial: 3}},
		Clock: mockapi.NewClock(time.Now(), 5)})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(mock)
	defer hs.Close()
	env := map[string]string{"SEED_TICKETS": "5", "SEED_MOCKAPI_URL": hs.URL, "SEED_POLL_INTERVAL": "100ms", "SYNC_TICK": "100ms"}
	cfg, err := LoadConfig(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	a, err := New(ctx, cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	a.Start(ctx)
	defer a.Close(ctx)
	list, err := a.Queue.Institutions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var linked int64
	for _, inst := range list {
		switch {
		case inst.Name == "Outside X":
			linked = inst.ID
		case inst.Hours != nil:
			// Offices with hours are seeded only while open (institutions/demo_day.go).
		case inst.WaitingCount != 5:
			t.Errorf("%s has %d waiting, want 5", inst.Name, inst.WaitingCount)
		}
	}
	if linked == 0 {
		t.Fatalf("the mock's institution was not imported: %d institutions", len(list))
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		inst, _ := a.Queue.Institution(ctx, linked)
		q, _ := mock.Queue("X")
		if inst.NowServing > 0 && inst.LastIssued >= q.LastIssued-1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the in-process poller did not follow the mock: %+v, mock %+v", inst, q)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := mockAPIURLVar(&cfg, "not a url"); err == nil || !strings.Contains(err.Error(), "http") {
		t.Errorf("SEED_MOCKAPI_URL=not a url: %v", err)
	}
}
