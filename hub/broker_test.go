package hub_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/queueless/queueless/hub"
	"github.com/queueless/queueless/internal/testenv"
)

// recorder is a Handler that keeps what it gets.
type recorder struct {
	mu      sync.Mutex
	msgs    []string
	resyncs int
}

func (r *recorder) Deliver(p []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.msgs = append(r.msgs, string(p))
}

func (r *recorder) Resync() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.resyncs++
}

func (r *recorder) snapshot() ([]string, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.msgs), r.resyncs
}

// waitFor waits until cond holds for the recorder, or fails the test.
func (r *recorder) waitFor(t *testing.T, what string, cond func(msgs []string, resyncs int) bool) []string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		msgs, resyncs := r.snapshot()
		if cond(msgs, resyncs) {
			return msgs
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s; have %d messages %q, %d resyncs", what, len(msgs), msgs, resyncs)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func count(n int) func([]string, int) bool {
	return func(msgs []string, _ int) bool { return len(msgs) >= n }
}

// brokerPair returns two brokers that reach each other, as two instances'
// brokers do.
type brokerPair func(t *testing.T) (a, b hub.Broker)

func memoryPair(t *testing.T) (hub.Broker, hub.Broker) {
	b := hub.NewMemoryBroker()
	t.Cleanup(func() { _ = b.Close() })
	return b, b
}

func redisPair(t *testing.T) (hub.Broker, hub.Broker) {
	prefix := testenv.RedisPrefix(t)
	return newRedisBroker(t, testenv.RedisURL(t), prefix), newRedisBroker(t, testenv.RedisURL(t), prefix)
}

func newRedisBroker(t *testing.T, url, prefix string) *hub.RedisBroker {
	t.Helper()
	opts, err := redis.ParseURL(url)
	if err != nil {
		t.Fatalf("parse redis url: %v", err)
	}
	return brokerOn(t, redis.NewClient(opts), prefix)
}

// brokerOn is a RedisBroker on client (one Redis or a cluster), closed
// with its client when the test ends.
func brokerOn(t *testing.T, client redis.UniversalClient, prefix string) *hub.RedisBroker {
	t.Helper()
	b, err := hub.NewRedisBroker(client, hub.RedisBrokerConfig{Prefix: prefix, HealthInterval: time.Second})
	if err != nil {
		t.Fatalf("new redis broker: %v", err)
	}
	t.Cleanup(func() {
		_ = b.Close()
		_ = client.Close()
	})
	return b
}

func subscribe(t *testing.T, b hub.Broker, channel string, h hub.Handler) func() {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	unsub, err := b.Subscribe(ctx, channel, h)
	if err != nil {
		t.Fatalf("subscribe %s: %v", channel, err)
	}
	return unsub
}

func publish(t *testing.T, b hub.Broker, channel, msg string) {
	t.Helper()
	if err := b.Publish(context.Background(), channel, []byte(msg)); err != nil {
		t.Fatalf("publish %s: %v", channel, err)
	}
}

// TestBrokerContract runs the same cases against every Broker.
func TestBrokerContract(t *testing.T) {
	t.Parallel()
	for _, impl := range []struct {
		name  string
		setup func(t *testing.T) brokerPair
	}{
		{"memory", func(*testing.T) brokerPair { return memoryPair }},
		{"redis", func(*testing.T) brokerPair { return redisPair }},
		{"redis cluster", clusterPairs},
	} {
		t.Run(impl.name, func(t *testing.T) {
			t.Parallel()
			impl := struct{ pair brokerPair }{impl.setup(t)}
			t.Run("every subscriber gets every message in order", func(t *testing.T) {
				t.Parallel()
				a, b := impl.pair(t)
				var onA, onB recorder
				subscribe(t, a, "c", &onA)
				subscribe(t, b, "c", &onB)
				var want []string
				for i := range 200 {
					m := fmt.Sprintf("m%d", i)
					want = append(want, m)
					publish(t, a, "c", m)
				}
				for name, r := range map[string]*recorder{"publisher's": &onA, "other's": &onB} {
					if got := r.waitFor(t, name+" messages", count(len(want))); !slices.Equal(got, want) {
						t.Errorf("%s subscriber got %q, want %q", name, got, want)
					}
				}
			})
			t.Run("a message published right after Subscribe returns arrives", func(t *testing.T) {
				t.Parallel()
				a, b := impl.pair(t)
				for i := range 20 {
					var r recorder
					ch := fmt.Sprintf("fresh%d", i)
					unsub := subscribe(t, b, ch, &r)
					publish(t, a, ch, "first")
					r.waitFor(t, "the first message on "+ch, count(1))
					unsub()
				}
			})
			t.Run("channels are separate and unsubscribe stops delivery", func(t *testing.T) {
				t.Parallel()
				a, b := impl.pair(t)
				var x1, x2, y recorder
				unsub := subscribe(t, b, "x", &x1)
				subscribe(t, b, "x", &x2)
				subscribe(t, b, "y", &y)
				publish(t, a, "x", "x1")
				publish(t, a, "y", "y1")
				x1.waitFor(t, "x1 on the first x subscriber", count(1))
				unsub()
				publish(t, a, "x", "x2")
				publish(t, a, "y", "y2")
				if got := x2.waitFor(t, "two messages on the second x subscriber", count(2)); !slices.Equal(got, []string{"x1", "x2"}) {
					t.Errorf("second x subscriber got %q, want [x1 x2]", got)
				}
				if got := y.waitFor(t, "two messages on y", count(2)); !slices.Equal(got, []string{"y1", "y2"}) {
					t.Errorf("y subscriber got %q, want [y1 y2]", got)
				}
				if got, _ := x1.snapshot(); !slices.Equal(got, []string{"x1"}) {
					t.Errorf("unsubscribed handler got %q, want [x1] only", got)
				}
			})
			t.Run("a closed broker refuses", func(t *testing.T) {
				t.Parallel()
				a, _ := impl.pair(t)
				if err := a.Close(); err != nil {
					t.Fatalf("close: %v", err)
				}
				if err := a.Publish(context.Background(), "c", []byte("m")); err == nil {
					t.Error("Publish on a closed broker succeeded")
				}
				if _, err := a.Subscribe(context.Background(), "c", &recorder{}); err == nil {
					t.Error("Subscribe on a closed broker succeeded")
				}
			})
		})
	}
}

// TestRedisBrokerPrefixesIsolate: two deployments (prefixes) on one Redis
// do not hear each other. A broker delivers its own messages to its own
// handlers synchronously, so each message here is published by a second
// broker of the same deployment and comes back only through Redis; and the
// order is forced: the other deployment's message has reached a subscriber
// of its own before this deployment publishes, and Redis writes one
// PUBLISH to every subscribed connection before it runs the next, so a
// leak would arrive before the message waited for.
func TestRedisBrokerPrefixesIsolate(t *testing.T) {
	t.Parallel()
	url := testenv.RedisURL(t)
	prefixA, prefixB := testenv.RedisPrefix(t), testenv.RedisPrefix(t)
	subA, pubA := newRedisBroker(t, url, prefixA), newRedisBroker(t, url, prefixA)
	subB, pubB := newRedisBroker(t, url, prefixB), newRedisBroker(t, url, prefixB)
	var onA, onB recorder
	subscribe(t, subA, "c", &onA)
	subscribe(t, subB, "c", &onB)

	publish(t, pubA, "c", "a1")
	onA.waitFor(t, "a1 through redis on deployment A", count(1))
	publish(t, pubB, "c", "b1")
	if got := onB.waitFor(t, "b1 through redis on deployment B", count(1)); !slices.Equal(got, []string{"b1"}) {
		t.Errorf("deployment B got %q, want only [b1]: deployment A's message got through", got)
	}
	publish(t, pubA, "c", "a2")
	if got := onA.waitFor(t, "a2 through redis on deployment A", count(2)); !slices.Equal(got, []string{"a1", "a2"}) {
		t.Errorf("deployment A got %q, want only [a1 a2]: deployment B's message got through", got)
	}
}

// TestRedisBrokerResyncsAfterRestart: pub/sub loses what is published
// while the connection is down, so every handler must be told to resync
// once the subscription is back, and messages flow again.
func TestRedisBrokerResyncsAfterRestart(t *testing.T) {
	t.Parallel()
	addr, stop, start := testenv.StartRedisServer(t)
	url := "redis://" + addr + "/0"
	a, b := newRedisBroker(t, url, "p:"), newRedisBroker(t, url, "p:")
	var r recorder
	subscribe(t, b, "c", &r)
	publish(t, a, "c", "before")
	r.waitFor(t, "the message before the restart", count(1))

	stop()
	start()
	r.waitFor(t, "a resync after the restart", func(_ []string, resyncs int) bool { return resyncs >= 1 })
	// The publisher's connection pool also reconnects by itself.
	deadline := time.Now().Add(10 * time.Second)
	for i := 0; ; i++ {
		publish(t, a, "c", fmt.Sprintf("after%d", i))
		msgs, _ := r.snapshot()
		if len(msgs) > 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no message got through after the restart; have %q", msgs)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
