package webhooks_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/queueless/queueless/internal/app"
	"github.com/queueless/queueless/internal/testapp"
	"github.com/queueless/queueless/internal/testenv"
	"github.com/queueless/queueless/webhooks"
)

// No change without its deliveries, no delivery for a change that rolled
// back: the connection to PostgreSQL is cut at random moments while joins,
// calls and cancels run, so transactions die at random points (mid-change,
// mid-enqueue, mid-commit, with the commit's answer lost). Afterwards the
// committed audit events, the delivery rows and River's job table must
// match one to one.
func TestWebhookDeliveriesCommitWithTheirChanges(t *testing.T) {
	t.Parallel()
	var direct, proxied string
	var proxy *testenv.TCPProxy
	cfg := testapp.Config(t, testapp.Production, func(c *app.Config) {
		direct = c.DatabaseURL
		u, err := url.Parse(direct)
		if err != nil {
			t.Fatal(err)
		}
		proxy = testenv.NewTCPProxy(t, u.Host)
		u.Host = proxy.Addr()
		proxied = u.String()
		c.DatabaseURL = proxied
		c.Jobs.Workers = 0 // jobs stay in the table to be counted
		c.RequestTimeout = 2 * time.Second
	})
	s := testapp.StartConfig(t, cfg)
	insts := []int64{s.CreateInstitution(nil), s.CreateInstitution(nil)}
	r := newReceiver(t)
	createHook(t, s, r, webhooks.Events, nil)

	var ok, failed atomic.Int64
	var mu sync.Mutex
	var tickets []string
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), 7))
			for {
				select {
				case <-stop:
					return
				default:
				}
				inst := insts[rng.IntN(len(insts))]
				var req testapp.Request
				switch n := rng.IntN(10); {
				case n < 6:
					req = testapp.Request{Method: "POST", Path: fmt.Sprintf("/api/v1/institutions/%d/tickets", inst), Body: map[string]any{}}
				case n < 8:
					req = testapp.Request{Method: "POST", Path: fmt.Sprintf("/api/v1/institutions/%d/advance", inst),
						Token: testapp.AdminToken, Body: map[string]any{"count": 1 + rng.IntN(3), "counter": "2"}}
				default:
					mu.Lock()
					if len(tickets) == 0 {
						mu.Unlock()
						continue
					}
					id := tickets[rng.IntN(len(tickets))]
					mu.Unlock()
					req = testapp.Request{Method: "POST", Path: "/api/v1/tickets/" + id + "/cancel"}
				}
				resp, err := s.Try(req)
				if err != nil || resp.Status >= 500 {
					failed.Add(1)
					continue
				}
				ok.Add(1)
				if resp.Status == 201 {
					var tk struct{ ID string }
					resp.JSON(t, &tk)
					mu.Lock()
					tickets = append(tickets, tk.ID)
					mu.Unlock()
				}
			}
		})
	}
	rng := rand.New(rand.NewPCG(42, 42))
	cuts := 0
	for end := time.Now().Add(5 * time.Second); time.Now().Before(end); cuts++ {
		time.Sleep(time.Duration(60+rng.IntN(340)) * time.Millisecond)
		proxy.Cut()
		time.Sleep(time.Duration(rng.IntN(30)) * time.Millisecond)
		proxy.Restore()
	}
	// A last stretch without cuts, so that changes commit again.
	time.Sleep(500 * time.Millisecond)
	close(stop)
	wg.Wait()
	t.Logf("%d cuts; %d requests answered, %d failed while PostgreSQL was cut", cuts, ok.Load(), failed.Load())
	if failed.Load() == 0 || ok.Load() == 0 {
		t.Fatalf("%d succeeded, %d failed: the cuts must hit some transactions and spare others", ok.Load(), failed.Load())
	}

	ctx := context.Background()
	pool, err := pgxpool.New(ctx, direct)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	// Every committed audit event that fires a webhook event: its delivery,
	// exactly once (one webhook wants every event).
	var missing, orphans, twice, jobless, jobOrphans, jobTwice, changes int64
	err = pool.QueryRow(ctx, `
		WITH e AS (SELECT id FROM events WHERE kind IN ('ticket.joined', 'ticket.notified', 'ticket.called',
				'ticket.recalled', 'ticket.served', 'ticket.expired', 'ticket.cancelled', 'institution.updated')),
			d AS (SELECT id, event_id FROM webhook_deliveries),
			j AS (SELECT (args->>'delivery_id')::uuid AS delivery_id FROM river_job WHERE kind = 'webhook_delivery')
		SELECT
			(SELECT count(*) FROM e WHERE NOT EXISTS (SELECT 1 FROM d WHERE d.event_id = e.id)),
			(SELECT count(*) FROM d WHERE NOT EXISTS (SELECT 1 FROM e WHERE e.id = d.event_id)),
			(SELECT count(*) FROM (SELECT event_id FROM d GROUP BY event_id HAVING count(*) > 1) x),
			(SELECT count(*) FROM d WHERE NOT EXISTS (SELECT 1 FROM j WHERE j.delivery_id = d.id)),
			(SELECT count(*) FROM j WHERE NOT EXISTS (SELECT 1 FROM d WHERE d.id = j.delivery_id)),
			(SELECT count(*) FROM (SELECT delivery_id FROM j GROUP BY delivery_id HAVING count(*) > 1) x),
			(SELECT count(*) FROM e)`).Scan(&missing, &orphans, &twice, &jobless, &jobOrphans, &jobTwice, &changes)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d committed events that fire webhooks", changes)
	if changes == 0 {
		t.Fatal("no change committed")
	}
	for _, c := range []struct {
		n    int64
		what string
	}{
		{missing, "committed events without a delivery"},
		{orphans, "deliveries of events that never committed"},
		{twice, "events delivered twice"},
		{jobless, "deliveries without a job"},
		{jobOrphans, "jobs without a delivery"},
		{jobTwice, "deliveries with two jobs"},
	} {
		if c.n != 0 {
			t.Errorf("%d %s, want 0", c.n, c.what)
		}
	}
}
