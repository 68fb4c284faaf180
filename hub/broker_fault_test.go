package hub_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/queueless/queueless/hub"
	"github.com/queueless/queueless/internal/testenv"
)

// newRedisBrokerWith is newRedisBroker with a config and a registry of its own.
func newRedisBrokerWith(t *testing.T, url string, cfg hub.RedisBrokerConfig) (*hub.RedisBroker, *prometheus.Registry) {
	t.Helper()
	opts, err := redis.ParseURL(url)
	if err != nil {
		t.Fatalf("parse redis url: %v", err)
	}
	client := redis.NewClient(opts)
	reg := prometheus.NewRegistry()
	cfg.Registerer = reg
	b, err := hub.NewRedisBroker(client, cfg)
	if err != nil {
		t.Fatalf("new redis broker: %v", err)
	}
	t.Cleanup(func() {
		_ = b.Close()
		_ = client.Close()
	})
	return b, reg
}

// TestRedisBrokerRestartsSilentSubscription: a subscription connection that
// stays open but goes silent (Redis answers nothing, not even the health
// ping: here CLIENT PAUSE on a private server) is replaced by a new one,
// whose confirmation resyncs the handlers, and messages flow again. Nothing
// is closed, so go-redis's own reconnect never starts: only the broker's
// watch on silence can notice.
func TestRedisBrokerRestartsSilentSubscription(t *testing.T) {
	t.Parallel()
	addr, _, _ := testenv.StartRedisServer(t)
	url := "redis://" + addr + "/0"
	const health = 200 * time.Millisecond
	sub, reg := newRedisBrokerWith(t, url, hub.RedisBrokerConfig{Prefix: "p:", HealthInterval: health})
	pub, _ := newRedisBrokerWith(t, url, hub.RedisBrokerConfig{Prefix: "p:", HealthInterval: health})
	var r recorder
	subscribe(t, sub, "c", &r)
	publish(t, pub, "c", "before")
	r.waitFor(t, "the message before the pause", count(1))

	admin := redis.NewClient(&redis.Options{Addr: addr})
	t.Cleanup(func() { _ = admin.Close() })
	// Long enough for a ping and its missing answer (two health intervals)
	// several times over; the admin connection is paused too, and its
	// command returns at once.
	if err := admin.Do(context.Background(), "CLIENT", "PAUSE", "2000", "ALL").Err(); err != nil {
		t.Fatalf("client pause: %v", err)
	}
	r.waitFor(t, "a resync after the silent connection was replaced", func(_ []string, resyncs int) bool { return resyncs >= 1 })
	if got := metric(t, reg, "queueless_live_broker_reconnects_total"); got < 1 {
		t.Errorf("queueless_live_broker_reconnects_total = %v, want at least 1", got)
	}
	publish(t, pub, "c", "after")
	if got := r.waitFor(t, "the message after the pause", count(2)); !slices.Equal(got, []string{"before", "after"}) {
		t.Errorf("got %q, want [before after]", got)
	}
}

// TestRedisBrokerDropsWhenQueueFull: with Redis gone, messages for other
// instances queue up to PublishQueue and are dropped past it, each one
// counted and each refusal an error to the publisher; this instance's own
// handlers still get every message at once. What the retry of the batch in
// flight finally gives up on is counted too: in the end every message is.
func TestRedisBrokerDropsWhenQueueFull(t *testing.T) {
	t.Parallel()
	addr, stop, _ := testenv.StartRedisServer(t)
	// A health interval long enough that the batch in flight is still
	// being retried (for two intervals) while the test publishes.
	const health, queue, n = 2 * time.Second, 2, 300
	b, reg := newRedisBrokerWith(t, "redis://"+addr+"/0", hub.RedisBrokerConfig{Prefix: "p:", HealthInterval: health, PublishQueue: queue})
	var local recorder
	subscribe(t, b, "c", &local)
	stop()

	refused := 0
	var want []string
	for i := range n {
		m := fmt.Sprintf("m%d", i)
		want = append(want, m)
		if err := b.Publish(context.Background(), "c", []byte(m)); err != nil {
			refused++
		}
	}
	// At most the queue and one batch (up to 256, however many the
	// publishing goroutine happened to find queued) are not refused.
	const maxBatch = 256
	if refused < n-queue-maxBatch || refused > n-queue {
		t.Errorf("%d publishes refused, want %d to %d (queue of %d, batches of up to %d)", refused, n-queue-maxBatch, n-queue, queue, maxBatch)
	}
	if got := metric(t, reg, "queueless_live_broker_publish_dropped_total"); got < float64(refused) {
		t.Errorf("dropped_total = %v right after %d refusals", got, refused)
	}
	if got, _ := local.snapshot(); !slices.Equal(got, want) {
		t.Errorf("local handler got %d messages, want all %d at once, in order", len(got), len(want))
	}
	deadline := time.Now().Add(6*health + 10*time.Second)
	for metric(t, reg, "queueless_live_broker_publish_dropped_total") != n {
		if time.Now().After(deadline) {
			t.Fatalf("dropped_total = %v, want %d once the retries give up", metric(t, reg, "queueless_live_broker_publish_dropped_total"), n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
