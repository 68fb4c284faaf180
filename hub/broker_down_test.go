package hub_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/queueless/queueless/hub"
	"github.com/queueless/queueless/internal/testenv"
)

// downHandler counts what a subscription receives.
type downHandler struct {
	resyncs atomic.Int64
	got     chan []byte
}

func (h *downHandler) Deliver(p []byte) {
	select {
	case h.got <- p:
	default:
	}
}
func (h *downHandler) Resync() { h.resyncs.Add(1) }

// TestSubscribeWhileRedisDown: the first subscriber of a channel while
// Redis is away is not kept waiting (a live stream's first subscriber
// waited 10s and got 503): the subscription starts at once, pending, this
// instance's own messages reach it, and once Redis confirms it the handler
// is told to resync, after which other instances' messages arrive.
func TestSubscribeWhileRedisDown(t *testing.T) {
	t.Parallel()
	opts, err := redis.ParseURL(testenv.RedisURL(t))
	if err != nil {
		t.Fatal(err)
	}
	proxy := testenv.NewTCPProxy(t, opts.Addr)
	proxy.Cut()
	down := *opts
	down.Addr = proxy.Addr()
	client := redis.NewClient(&down)
	t.Cleanup(func() { _ = client.Close() })
	prefix := testenv.RedisPrefix(t)
	b, err := hub.NewRedisBroker(client, hub.RedisBrokerConfig{Prefix: prefix, HealthInterval: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	other := newRedisBroker(t, testenv.RedisURL(t), prefix)

	h := &downHandler{got: make(chan []byte, 16)}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	start := time.Now()
	unsub, err := b.Subscribe(ctx, "inst:1", h)
	if err != nil {
		t.Fatalf("subscribe while Redis is away: %v after %s", err, time.Since(start))
	}
	defer unsub()
	if took := time.Since(start); took > 3*time.Second {
		t.Fatalf("subscribe while Redis is away took %s", took)
	}
	if err := b.Publish(context.Background(), "inst:1", []byte("local")); err != nil {
		t.Logf("publish while away: %v", err) // queued or dropped for Redis; delivered here regardless
	}
	select {
	case p := <-h.got:
		if string(p) != "local" {
			t.Fatalf("got %q", p)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("this instance's own message did not reach the pending subscription")
	}

	proxy.Restore()
	deadline := time.Now().Add(15 * time.Second)
	for h.resyncs.Load() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no resync once Redis confirmed the subscription")
		}
		time.Sleep(20 * time.Millisecond)
	}
	for {
		if err := other.Publish(context.Background(), "inst:1", []byte("remote")); err != nil {
			t.Fatal(err)
		}
		select {
		case p := <-h.got:
			if string(p) == "remote" {
				return
			}
		case <-time.After(200 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal("another instance's message never arrived after the resync")
		}
	}
}
