package hub_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/queueless/queueless/hub"
	"github.com/queueless/queueless/internal/testenv"
)

// redisCPU sums used_cpu_user and used_cpu_sys (seconds) of the nodes.
func redisCPU(tb testing.TB, addrs []string) float64 {
	tb.Helper()
	var sum float64
	for _, a := range addrs {
		c := redis.NewClient(&redis.Options{Addr: a})
		info, err := c.Info(context.Background(), "cpu").Result()
		_ = c.Close()
		if err != nil {
			tb.Fatalf("INFO cpu %s: %v", a, err)
		}
		for _, l := range strings.Split(info, "\n") {
			k, v, _ := strings.Cut(strings.TrimSpace(l), ":")
			if k == "used_cpu_user" || k == "used_cpu_sys" {
				f, _ := strconv.ParseFloat(v, 64)
				sum += f
			}
		}
	}
	return sum
}

// counter is a Handler that counts deliveries.
type counter struct{ n atomic.Int64 }

func (c *counter) Deliver([]byte) { c.n.Add(1) }
func (c *counter) Resync()        {}

// BenchmarkRedisBrokerThroughput: messages per second from one instance's
// broker to another's through Redis, over 64 channels (institutions), with
// frames of an event's size; against one Redis and a three-master cluster
// (sharded pub/sub). docs/SCALING.md takes its per-shard figure from it.
func BenchmarkRedisBrokerThroughput(b *testing.B) {
	payload := make([]byte, 700) // an institution event with its recent calls
	for _, impl := range []string{"redis", "cluster"} {
		b.Run(impl, func(b *testing.B) {
			var pub, sub *hub.RedisBroker
			var nodes []string
			switch impl {
			case "redis":
				addr, _, _ := testenv.StartRedisServer(b)
				nodes = []string{addr}
				pub, sub = newBenchBroker(b, "redis://"+addr+"/0", false), newBenchBroker(b, "redis://"+addr+"/0", false)
			case "cluster":
				c := testenv.StartRedisCluster(b)
				nodes = c.Addrs()
				pub, sub = newBenchBroker(b, c.URL(), true), newBenchBroker(b, c.URL(), true)
			}
			cpu0 := redisCPU(b, nodes)
			const channels = 64
			var got counter
			for i := range channels {
				subscribeB(b, sub, fmt.Sprintf("inst:%d", i), &got)
			}
			b.ResetTimer()
			start := time.Now()
			for i := range b.N {
				for pub.Publish(b.Context(), fmt.Sprintf("inst:%d", i%channels), payload) != nil {
					time.Sleep(time.Millisecond) // queue full: let it drain
				}
			}
			deadline := time.Now().Add(time.Minute)
			for got.n.Load() < int64(b.N) && time.Now().Before(deadline) {
				time.Sleep(time.Millisecond)
			}
			el := time.Since(start)
			b.StopTimer()
			if got.n.Load() < int64(b.N) {
				b.Fatalf("delivered %d of %d", got.n.Load(), b.N)
			}
			b.ReportMetric(float64(b.N)/el.Seconds(), "msgs/s")
			// Redis's own CPU per message, all nodes together: how many
			// messages a second one Redis core (one shard) carries.
			if cpu := redisCPU(b, nodes) - cpu0; cpu > 0 {
				b.ReportMetric(float64(b.N)/cpu, "msgs/redis-cpu-s")
			}
		})
	}
}
