package testenv_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/queueless/queueless/internal/testenv"
)

// TestStartRedisCluster: the cluster serves every slot through a
// ClusterClient built from its URL, and a killed master's replica takes
// over; the killed node comes back as a replica.
func TestStartRedisCluster(t *testing.T) {
	t.Parallel()
	c := testenv.StartRedisCluster(t)
	opts, err := redis.ParseClusterURL(c.URL())
	if err != nil {
		t.Fatalf("parse cluster url %s: %v", c.URL(), err)
	}
	if got, want := len(opts.Addrs), 6; got != want {
		t.Fatalf("cluster URL names %d nodes, want %d", got, want)
	}
	client := redis.NewClusterClient(opts)
	defer client.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, k := range []string{"a", "b", "c", "d", "e", "f"} {
		if err := client.Set(ctx, k, k, 0).Err(); err != nil {
			t.Fatalf("set %s: %v", k, err)
		}
	}
	masters := c.Masters()
	if got, want := len(masters), 3; got != want {
		t.Fatalf("%d masters, want %d", got, want)
	}
	victim := masters[0]
	c.Kill(victim)
	c.WaitHealthy()
	after := c.Masters()
	if slices.Contains(after, victim) || len(after) != 3 {
		t.Fatalf("masters after killing node %d: %v, want three others", victim, after)
	}
	c.Start(victim)
	c.WaitHealthy()
	if slices.Contains(c.Masters(), victim) {
		t.Errorf("restarted node %d is a master again, want a replica", victim)
	}
}
