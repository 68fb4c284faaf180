package alerts

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestCollector(t *testing.T) {
	t.Parallel()
	s := NewMemoryStore()
	c := NewCollector(s, time.Second, nil)
	reg := prometheus.NewRegistry()
	reg.MustRegister(c)
	if n := testutil.CollectAndCount(c, OpenGaugeName); n != len(Kinds)*len(Levels) {
		t.Fatalf("%d series with nothing open, want %d (zeros included)", n, len(Kinds)*len(Levels))
	}
	ctx := context.Background()
	done, _ := s.Apply(ctx, []Transition{raise(1, KindQueueStalled, at(10)), raise(2, KindQueueStalled, at(10)), raise(2, KindWaitSLA, at(10))})
	esc := done[0].Alert
	esc.Level, esc.EscalatedAt = LevelP2, tp(at(25))
	if got, _ := s.Apply(ctx, []Transition{{Action: ActionEscalate, From: LevelInitiated, Alert: esc}}); len(got) != 1 {
		t.Fatal("escalate did not apply")
	}
	if _, err := s.Resolve(ctx, done[2].Alert.ID, at(30), "token:1"); err != nil {
		t.Fatal(err)
	}
	want := `
# HELP queueless_alerts_open Open alerts by kind and level.
# TYPE queueless_alerts_open gauge
queueless_alerts_open{kind="queue_stalled",level="initiated"} 1
queueless_alerts_open{kind="queue_stalled",level="p0"} 0
queueless_alerts_open{kind="queue_stalled",level="p1"} 0
queueless_alerts_open{kind="queue_stalled",level="p2"} 1
queueless_alerts_open{kind="wait_sla",level="initiated"} 0
queueless_alerts_open{kind="wait_sla",level="p0"} 0
queueless_alerts_open{kind="wait_sla",level="p1"} 0
queueless_alerts_open{kind="wait_sla",level="p2"} 0
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), OpenGaugeName); err != nil {
		t.Fatal(err)
	}
}

type failingStore struct{ Store }

func (failingStore) CountOpen(context.Context) (map[Kind]map[Level]int, error) {
	return nil, errors.New("database away")
}

func TestCollectorStoreDown(t *testing.T) {
	t.Parallel()
	c := NewCollector(failingStore{NewMemoryStore()}, time.Second, nil)
	if n := testutil.CollectAndCount(c); n != 0 {
		t.Fatalf("%d series while the store fails, want none (a scrape without the gauge, not zeros)", n)
	}
}
