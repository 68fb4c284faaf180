package notify_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync/atomic"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/queueless/queueless/jobs"
	"github.com/queueless/queueless/notify"
	"github.com/queueless/queueless/queue"
	"github.com/queueless/queueless/sms"
)

// nullGateway is never called: no worker runs in this test.
type nullGateway struct{}

func (nullGateway) Send(context.Context, sms.Message) (string, error) {
	return "", errors.New("not here")
}

// failing rolls back a random share of changes after notify has written
// its rows and jobs in the transaction.
type failing struct {
	rng  *rand.Rand
	n    atomic.Int64
	fail atomic.Int64
}

var errKilled = errors.New("killed after notify's outbox")

func (f *failing) EnqueueTx(context.Context, pgx.Tx, *queue.Changes) error {
	f.n.Add(1)
	if f.rng.IntN(3) == 0 {
		f.fail.Add(1)
		return errKilled
	}
	return nil
}
func (f *failing) Enqueue(context.Context, *queue.Changes) error { return nil }

// No change without its deliveries, no delivery for a change that rolled
// back: changes are killed at random after notify's outbox wrote its rows
// and jobs in the transaction; the job table and the delivery rows then
// match the committed tickets and notifications exactly.
func TestDeliveriesCommitWithTheirChange(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := migratedPool(t, nil)
	jc, err := jobs.NewPostgres(pool, jobs.NewRegistry(), jobs.Config{})
	if err != nil {
		t.Fatal(err)
	}
	svc := notify.NewService(notify.NewPostgresStore(pool), notify.Config{Gateway: nullGateway{}, Verify: true, PublicURL: "https://q.example"})
	svc.SetJobs(jc)
	store := queue.NewPostgresStore(pool)
	kill := &failing{rng: rand.New(rand.NewPCG(13, 13))}
	store.SetOutbox(queue.Outboxes{svc, kill})
	q := queue.NewService(store, queue.Config{})
	svc.SetQueue(q)
	inst, err := q.CreateInstitution(ctx, queue.Fields{Name: "Hall", Kind: "government", Status: "open"}, queue.Meta{Actor: queue.ActorSystem})
	if err != nil {
		t.Fatal(err)
	}
	counter := "1"
	for i := range 120 {
		var err error
		if i%4 == 3 {
			_, err = q.Advance(ctx, inst.ID, queue.AdvanceRequest{Count: 1, Counter: &counter}, queue.Meta{Actor: queue.ActorSystem})
		} else {
			phone := fmt.Sprintf("0917%07d", i)
			_, err = q.Join(ctx, inst.ID, queue.JoinRequest{Phone: &phone}, queue.Meta{Actor: queue.ActorCitizen})
		}
		if err != nil && !errors.Is(err, errKilled) {
			t.Fatalf("change %d: %v", i, err)
		}
	}
	if kill.fail.Load() == 0 || kill.fail.Load() == kill.n.Load() {
		t.Fatalf("%d of %d changes killed: want some of each", kill.fail.Load(), kill.n.Load())
	}
	count := func(sql string) int {
		var n int
		if err := pool.QueryRow(ctx, sql).Scan(&n); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
		return n
	}
	phones := count(`SELECT count(*) FROM tickets WHERE phone IS NOT NULL`)
	phoneJobs := count(`SELECT count(*) FROM river_job WHERE kind = 'sms_phone'`)
	texts := count(`SELECT count(*) FROM notifications n JOIN tickets t ON t.id = n.ticket_id
		WHERE t.phone IS NOT NULL AND n.event IN ('near_turn', 'turn_called', 'expired')`)
	rows := count(`SELECT count(*) FROM notification_deliveries WHERE channel = 'sms'`)
	textJobs := count(`SELECT count(*) FROM river_job WHERE kind = 'sms_delivery'`)
	orphans := count(`SELECT count(*) FROM notification_deliveries d WHERE NOT EXISTS (SELECT 1 FROM notifications n WHERE n.id = d.notification_id)`)
	t.Logf("%d of %d changes killed; %d tickets with phones, %d texts", kill.fail.Load(), kill.n.Load(), phones, texts)
	if phones == 0 || texts == 0 {
		t.Fatalf("%d phones, %d texts committed: the test proves nothing", phones, texts)
	}
	if phoneJobs != phones {
		t.Errorf("%d sms_phone jobs for %d committed tickets with phones", phoneJobs, phones)
	}
	if rows != texts || textJobs != texts || orphans != 0 {
		t.Errorf("%d delivery rows and %d sms_delivery jobs for %d committed notifications (%d orphans)", rows, textJobs, texts, orphans)
	}
}
