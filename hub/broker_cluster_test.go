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

// clusterPairs starts a private Redis Cluster for t and returns pairs of
// brokers over it, each pair with a prefix of its own.
func clusterPairs(t *testing.T) brokerPair {
	c := testenv.StartRedisCluster(t)
	var mu sync.Mutex
	n := 0
	return func(t *testing.T) (hub.Broker, hub.Broker) {
		mu.Lock()
		n++
		prefix := fmt.Sprintf("p%d:", n)
		mu.Unlock()
		return newClusterBroker(t, c.URL(), prefix), newClusterBroker(t, c.URL(), prefix)
	}
}

func newClusterBroker(t *testing.T, url, prefix string) *hub.RedisBroker {
	t.Helper()
	opts, err := redis.ParseClusterURL(url)
	if err != nil {
		t.Fatalf("parse cluster url: %v", err)
	}
	return brokerOn(t, redis.NewClusterClient(opts), prefix)
}

// TestRedisBrokerClusterShardsChannels: live channels are sharded channels
// spread over every master, not cluster-wide PUBLISH.
func TestRedisBrokerClusterShardsChannels(t *testing.T) {
	t.Parallel()
	c := testenv.StartRedisCluster(t)
	a, b := newClusterBroker(t, c.URL(), "s:"), newClusterBroker(t, c.URL(), "s:")
	const channels = 30
	recs := make([]*recorder, channels)
	for i := range recs {
		recs[i] = &recorder{}
		subscribe(t, b, fmt.Sprintf("inst:%d", i), recs[i])
	}
	for i := range recs {
		publish(t, a, fmt.Sprintf("inst:%d", i), "m")
	}
	for i, r := range recs {
		r.waitFor(t, fmt.Sprintf("the message on inst:%d", i), count(1))
	}
	// Every master carries some of the sharded channels.
	for _, i := range c.Masters() {
		if n := len(redisCLI(t, c.Addrs()[i], "PUBSUB", "SHARDCHANNELS", "*s:inst:*")); n == 0 {
			t.Errorf("master %s carries none of the %d channels", c.Addrs()[i], channels)
		}
		if out := redisCLI(t, c.Addrs()[i], "PUBSUB", "CHANNELS", "*"); len(out) != 0 {
			t.Errorf("master %s has plain (cluster-wide) channels %q, want sharded only", c.Addrs()[i], out)
		}
	}
}

// TestRedisBrokerClusterFailover: a master is killed while three brokers
// publish and subscribe; its replica is promoted; every subscriber of
// every channel ends on the last message published, and the subscribers
// of the killed shard were told to resync.
func TestRedisBrokerClusterFailover(t *testing.T) {
	t.Parallel()
	c := testenv.StartRedisCluster(t)
	brokers := []*hub.RedisBroker{
		newClusterBroker(t, c.URL(), "f:"), newClusterBroker(t, c.URL(), "f:"), newClusterBroker(t, c.URL(), "f:"),
	}
	const channels = 24
	type sub struct {
		r       *recorder
		channel int
	}
	var subs []sub
	for i := range channels {
		for _, b := range brokers {
			r := &recorder{}
			subscribe(t, b, fmt.Sprintf("inst:%d", i), r)
			subs = append(subs, sub{r, i})
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var mu sync.Mutex
	last := make([]int, channels) // last sequence number published per channel
	publishAll := func(seq int) {
		for i := range channels {
			p := brokers[(i+seq)%len(brokers)]
			if err := p.Publish(context.Background(), fmt.Sprintf("inst:%d", i), []byte(fmt.Sprintf("%d", seq))); err != nil {
				t.Errorf("publish: %v", err)
				return
			}
			mu.Lock()
			last[i] = seq
			mu.Unlock()
		}
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for seq := 1; ctx.Err() == nil; seq++ {
			publishAll(seq)
			time.Sleep(20 * time.Millisecond)
		}
	}()
	time.Sleep(500 * time.Millisecond)
	victim := c.Masters()[0]
	c.Kill(victim)
	c.WaitHealthy()
	time.Sleep(2 * time.Second) // calls go on across the new layout
	cancel()
	wg.Wait()

	// Convergence: publishing the final state until every subscriber has
	// it, as the hub's next event (or its reload) would.
	deadline := time.Now().Add(30 * time.Second)
	final := 1_000_000
	behindOf := func(final int) int {
		behind := 0
		for _, s := range subs {
			msgs, _ := s.r.snapshot()
			if len(msgs) == 0 || msgs[len(msgs)-1] != fmt.Sprint(final) {
				behind++
			}
		}
		return behind
	}
	for {
		publishAll(final)
		round := time.Now().Add(2 * time.Second)
		for behindOf(final) > 0 && time.Now().Before(round) {
			time.Sleep(20 * time.Millisecond)
		}
		if behindOf(final) == 0 {
			break
		}
		if time.Now().After(deadline) {
			for i, s := range subs {
				msgs, n := s.r.snapshot()
				if len(msgs) > 0 && msgs[len(msgs)-1] != fmt.Sprint(final) {
					t.Logf("subscriber %d (broker %d) of channel %d: %d messages, last %s, %d resyncs", i, i%len(brokers), s.channel, len(msgs), msgs[len(msgs)-1], n)
				}
			}
			t.Fatalf("%d of %d subscribers never got the final message after the failover", behindOf(final), len(subs))
		}
		final++
	}
	resynced := 0
	for _, s := range subs {
		if _, n := s.r.snapshot(); n > 0 {
			resynced++
		}
		// Order holds per publisher; publishers take turns per sequence.
		msgs, _ := s.r.snapshot()
		for p := range brokers {
			var own []int
			for _, m := range msgs {
				if n := atoi(m); (s.channel+n)%len(brokers) == p {
					own = append(own, n)
				}
			}
			// Non-decreasing: a message the dying master took but did not
			// acknowledge may come again right after itself, never later.
			if !slices.IsSorted(own) {
				t.Errorf("channel %d: publisher %d's messages out of order: %v", s.channel, p, own)
			}
		}
	}
	if resynced == 0 {
		t.Errorf("no subscriber was told to resync after its shard's master died")
	}
	t.Logf("%d subscribers on %d channels converged; %d were resynced", len(subs), channels, resynced)
}

func atoi(s string) int {
	var n int
	fmt.Sscan(s, &n)
	return n
}

// redisCLI runs one command on one node with a plain client and returns
// its array reply.
func redisCLI(t *testing.T, addr string, args ...string) []any {
	t.Helper()
	client := redis.NewClient(&redis.Options{Addr: addr})
	defer client.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	a := make([]any, len(args))
	for i, s := range args {
		a[i] = s
	}
	v, err := client.Do(ctx, a...).Slice()
	if err != nil {
		t.Fatalf("%s %v: %v", addr, args, err)
	}
	return v
}

// newBenchBroker is newRedisBroker / newClusterBroker for benchmarks.
func newBenchBroker(tb testing.TB, url string, cluster bool) *hub.RedisBroker {
	tb.Helper()
	var client redis.UniversalClient
	if cluster {
		opts, err := redis.ParseClusterURL(url)
		if err != nil {
			tb.Fatal(err)
		}
		client = redis.NewClusterClient(opts)
	} else {
		opts, err := redis.ParseURL(url)
		if err != nil {
			tb.Fatal(err)
		}
		client = redis.NewClient(opts)
	}
	b, err := hub.NewRedisBroker(client, hub.RedisBrokerConfig{Prefix: "bench:", PublishQueue: 1 << 16})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		_ = b.Close()
		_ = client.Close()
	})
	return b
}

func subscribeB(tb testing.TB, b hub.Broker, channel string, h hub.Handler) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := b.Subscribe(ctx, channel, h); err != nil {
		tb.Fatalf("subscribe %s: %v", channel, err)
	}
}
