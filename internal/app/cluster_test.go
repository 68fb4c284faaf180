package app

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/queueless/queueless/internal/testenv"
	"github.com/queueless/queueless/queue"
)

// TestRedisClusterInstances: two instances over REDIS_CLUSTER_URL share
// live changes (sharded pub/sub) and the join throttle's counters.
func TestRedisClusterInstances(t *testing.T) {
	t.Parallel()
	c := testenv.StartRedisCluster(t)
	env := map[string]string{
		"DATABASE_URL": testenv.NewSchema(t), "REDIS_URL": "", "REDIS_CLUSTER_URL": c.URL(),
		"REDIS_PREFIX": "cl:", "JOIN_RATE": "3-M",
	}
	a, b := newLiveApp(t, env), newLiveApp(t, env)
	srvA, srvB := httptest.NewServer(a.HTTP), httptest.NewServer(b.HTTP)
	t.Cleanup(func() {
		a.Close(context.Background())
		b.Close(context.Background())
		srvA.Close()
		srvB.Close()
	})
	if _, ok := a.redis.(interface{ ReloadState(context.Context) }); !ok {
		t.Fatalf("redis client is %T, want a cluster client", a.redis)
	}
	inst := openInstitution(t, a)

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, wsURL(srvB.URL, fmt.Sprintf("/api/v1/institutions/%d/live", inst.ID)), nil)
	if err != nil {
		t.Fatalf("dial instance B: %v", err)
	}
	defer ws.CloseNow()
	if _, _, err := ws.Read(ctx); err != nil {
		t.Fatalf("snapshot: %v", err)
	}
	if _, err := a.Queue.Join(ctx, inst.ID, queue.JoinRequest{}, queue.Meta{Actor: queue.ActorCitizen}); err != nil {
		t.Fatalf("join on instance A: %v", err)
	}
	for {
		_, msg, err := ws.Read(ctx)
		if err != nil {
			t.Fatalf("instance B's stream never showed the join made on A: %v", err)
		}
		if strings.Contains(string(msg), `"last_issued":1`) {
			break
		}
	}

	// JOIN_RATE 3-M counted by both instances together in the cluster.
	path := fmt.Sprintf("/api/v1/institutions/%d/tickets", inst.ID)
	var statuses []int
	for i, base := range []string{srvA.URL, srvB.URL, srvA.URL, srvB.URL} {
		resp, err := http.Post(base+path, "application/json", strings.NewReader(fmt.Sprintf(`{"phone":"0917000000%d"}`, i)))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		statuses = append(statuses, resp.StatusCode)
	}
	if want := []int{201, 201, 201, 429}; fmt.Sprint(statuses) != fmt.Sprint(want) {
		t.Errorf("joins alternating between instances answered %v, want %v: one limit for the deployment", statuses, want)
	}
}

func TestRedisURLAndClusterURLExclusive(t *testing.T) {
	t.Parallel()
	env := map[string]string{"REDIS_URL": "redis://127.0.0.1:6379/0", "REDIS_CLUSTER_URL": "redis://127.0.0.1:7000?addr=127.0.0.1:7001"}
	_, err := LoadConfig(func(k string) string { return env[k] })
	if err == nil || !strings.Contains(err.Error(), "REDIS_CLUSTER_URL") {
		t.Errorf("both set: error %v, want one naming REDIS_CLUSTER_URL", err)
	}
	env = map[string]string{"REDIS_CLUSTER_URL": "http://nope"}
	if _, err := LoadConfig(func(k string) string { return env[k] }); err == nil || !strings.Contains(err.Error(), "REDIS_CLUSTER_URL") {
		t.Errorf("bad scheme: error %v, want one naming REDIS_CLUSTER_URL", err)
	}
}
