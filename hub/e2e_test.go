package hub_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/queueless/queueless/internal/testenv"
	"github.com/queueless/queueless/queue"
)

// cluster is n server processes on one schema and one Redis.
func cluster(t *testing.T, n int, redisURL, prefix string) []*server {
	t.Helper()
	schema := testenv.NewSchema(t)
	var out []*server
	for range n {
		out = append(out, startServer(t, "DATABASE_URL="+schema, "REDIS_URL="+redisURL, "REDIS_PREFIX="+prefix))
	}
	return out
}

// followers dials, on every server, two boards of inst and one phone per
// ticket given.
func followers(t *testing.T, servers []*server, instID int64, tickets []queue.Ticket) (boards, phones []*client) {
	t.Helper()
	for i, s := range servers {
		for range 2 {
			c, err := dialURL(t, s.ws(fmt.Sprintf("/api/v1/institutions/%d/live", instID)), nil)
			if err != nil {
				t.Fatalf("dial board on server %d: %v", i, err)
			}
			boards = append(boards, c)
		}
		tk := tickets[i%len(tickets)]
		c, err := dialURL(t, s.ws("/api/v1/tickets/"+tk.ID+"/live"), nil)
		if err != nil {
			t.Fatalf("dial phone on server %d: %v", i, err)
		}
		phones = append(phones, c)
	}
	for _, c := range append(boards, phones...) {
		c.waitFor("snapshot", 10*time.Second, func(f liveFrame) bool { return f.Type == "snapshot" })
	}
	return boards, phones
}

// converge waits until every client's last state frame equals what the
// API says, and checks that none was disconnected on the way.
func converge(t *testing.T, api *server, instID int64, boards, phones []*client, phoneTickets []string) {
	t.Helper()
	var want queue.Institution
	api.call("GET", fmt.Sprintf("/api/v1/institutions/%d", instID), nil, &want)
	for i, b := range boards {
		f := b.waitLast(fmt.Sprintf("version %d on board %d", want.Version, i), 20*time.Second, func(f liveFrame) bool {
			return f.Institution != nil && f.Institution.Version == want.Version
		})
		if got, want := instJSON(t, f.Institution), instJSON(t, &want); got != want {
			t.Errorf("board %d: last frame\n%s\nwant (API)\n%s", i, got, want)
		}
	}
	for i, p := range phones {
		var tk queue.Ticket
		api.call("GET", "/api/v1/tickets/"+phoneTickets[i], nil, &tk)
		want := ticketJSON(t, &tk)
		p.waitLast(fmt.Sprintf("ticket as the API shows it on phone %d", i), 20*time.Second, func(f liveFrame) bool {
			return f.Ticket != nil && ticketJSON(t, f.Ticket) == want
		})
	}
	for i, c := range append(boards, phones...) {
		c.mu.Lock()
		err := c.err
		c.mu.Unlock()
		if err != nil {
			t.Errorf("client %d was disconnected: %v", i, err)
		}
	}
}

// TestThreeInstances: joins, calls, a cancel and an announcement made
// through one server process reach the clients of all three, and every
// client ends on the state the API reports.
func TestThreeInstances(t *testing.T) {
	t.Parallel()
	servers := cluster(t, 3, testenv.RedisURL(t), testenv.RedisPrefix(t))
	api := servers[0]
	var inst queue.Institution
	api.call("POST", "/api/v1/institutions", map[string]any{"name": "Three Instances Office", "kind": "bank", "status": "open"}, &inst)
	var tickets []queue.Ticket
	for range 6 {
		var tk queue.Ticket
		api.call("POST", fmt.Sprintf("/api/v1/institutions/%d/tickets", inst.ID), nil, &tk)
		tickets = append(tickets, tk)
	}
	followed := []queue.Ticket{tickets[5], tickets[3], tickets[1]}
	boards, phones := followers(t, servers, inst.ID, followed)

	for range 20 {
		api.call("POST", fmt.Sprintf("/api/v1/institutions/%d/tickets", inst.ID), nil, nil)
	}
	api.call("POST", "/api/v1/tickets/"+tickets[4].ID+"/cancel", nil, nil)
	for range 3 {
		api.call("POST", fmt.Sprintf("/api/v1/institutions/%d/advance", inst.ID), map[string]any{"counter": "2"}, nil)
	}
	api.call("POST", fmt.Sprintf("/api/v1/institutions/%d/announcements", inst.ID), map[string]any{"message": "Counter 2 closes at noon"}, nil)

	for i, c := range append(boards, phones...) {
		c.waitFor(fmt.Sprintf("announcement on client %d", i), 10*time.Second, func(f liveFrame) bool {
			return f.Type == "announcement" && f.Message == "Counter 2 closes at noon"
		})
	}
	converge(t, api, inst.ID, boards, phones, []string{followed[0].ID, followed[1].ID, followed[2].ID})
	// The phone of the ticket called (number 2) heard its turn.
	phones[2].waitFor("turn_called", 5*time.Second, func(f liveFrame) bool {
		return f.Type == "notification" && f.Notification.Event == queue.NotifyTurnCalled
	})
}

// TestRedisRestartMidRun: Redis dies and comes back in the middle of a run
// of advances; every client, on both processes, still ends on the current
// state, on the connection it had, and the phone on the other process whose
// ticket was called during the outage gets the notification it missed.
//
// Nothing depends on the order of events: the outage's events are known to
// be lost (server 0 counted them dropped, after its retries gave up) before
// Redis comes back, and nothing changes after it is back, so that server 1
// can only get there by the reload its reconnect must trigger (no later
// event reveals a gap, and its periodic check is 30s away, past the wait).
func TestRedisRestartMidRun(t *testing.T) {
	t.Parallel()
	addr, stopRedis, startRedis := testenv.StartRedisServer(t)
	servers := cluster(t, 2, "redis://"+addr+"/0", "live:")
	api := servers[0]
	var inst queue.Institution
	api.call("POST", "/api/v1/institutions", map[string]any{"name": "Restart Office", "kind": "utility", "status": "open"}, &inst)
	var tickets []queue.Ticket
	for range 30 {
		var tk queue.Ticket
		api.call("POST", fmt.Sprintf("/api/v1/institutions/%d/tickets", inst.ID), nil, &tk)
		tickets = append(tickets, tk)
	}
	// Server 1's phone follows number 8, called during the outage.
	followed := []queue.Ticket{tickets[20], tickets[7]}
	boards, phones := followers(t, servers, inst.ID, followed)
	advance := func(n int) {
		for range n {
			api.call("POST", fmt.Sprintf("/api/v1/institutions/%d/advance", inst.ID), map[string]any{"counter": "1"}, nil)
		}
	}
	advance(5)
	converge(t, api, inst.ID, boards, phones, []string{followed[0].ID, followed[1].ID})
	stopRedis()
	dropped := servers[0].metric("queueless_live_broker_publish_dropped_total")
	advance(5) // calls 6..10
	// Server 0 retries its batch for two health intervals (10s), then
	// drops it: only then are the events certainly lost to server 1.
	deadline := time.Now().Add(30 * time.Second)
	for servers[0].metric("queueless_live_broker_publish_dropped_total") < dropped+5 {
		if time.Now().After(deadline) {
			t.Fatalf("server 0 did not drop the outage's 5 events within 30s (dropped_total %v)", servers[0].metric("queueless_live_broker_publish_dropped_total"))
		}
		time.Sleep(100 * time.Millisecond)
	}
	if got := servers[1].metric(`queueless_live_resyncs_total{reason="reconnect"}`); got != 0 {
		t.Fatalf("server 1 reloaded for a reconnect before Redis came back (%v)", got)
	}
	startRedis()
	converge(t, api, inst.ID, boards, phones, []string{followed[0].ID, followed[1].ID})
	// The phone on server 1 heard its turn, though the event was lost.
	phones[1].waitFor("the turn_called missed during the outage", 10*time.Second, func(f liveFrame) bool {
		return f.Type == "notification" && f.Notification.Event == queue.NotifyTurnCalled && f.Notification.TicketID == followed[1].ID
	})
	for _, name := range []string{"queueless_live_broker_reconnects_total", `queueless_live_resyncs_total{reason="reconnect"}`} {
		if got := servers[1].metric(name); got < 1 {
			t.Errorf("server 1: %s = %v, want at least 1", name, got)
		}
	}
	if got := servers[1].metric(`queueless_live_resyncs_total{reason="gap"}`); got != 0 {
		t.Errorf("server 1: %d gap reloads, want 0: nothing changed after Redis came back", int(got))
	}
	// And the streams still flow after the resync.
	advance(3)
	converge(t, api, inst.ID, boards, phones, []string{followed[0].ID, followed[1].ID})
}
