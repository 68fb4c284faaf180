package notify_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/queueless/queueless/internal/testenv"
	"github.com/queueless/queueless/jobs"
	"github.com/queueless/queueless/migrations"
	"github.com/queueless/queueless/notify"
	"github.com/queueless/queueless/queue"
)

// The phone jobs of a batch of joins are enqueued before the institution's
// lock, for every join that plans a ticket; once the batch is decided only
// the jobs of the tickets it issued remain: refused joins (a phone already
// waiting, the same phone twice in the batch, a closed office) and
// replayed ones (an idempotency key seen before) leave no job, and a batch
// that rolls back leaves none at all.
func TestPhoneJobsEnqueuedBeforeTheLock(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, testenv.NewSchema(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	db := migrations.OpenDB(pool)
	if err := migrations.Up(ctx, db); err != nil {
		t.Fatal(err)
	}
	db.Close()
	jc, err := jobs.NewPostgres(pool, jobs.NewRegistry(), jobs.Config{})
	if err != nil {
		t.Fatal(err)
	}
	svc := notify.NewService(notify.NewPostgresStore(pool), notify.Config{Gateway: nullGateway{}, Verify: true, PublicURL: "https://q.example"})
	svc.SetJobs(jc)
	store := queue.NewPostgresStore(pool)
	kill := &switchable{}
	store.SetOutbox(queue.Outboxes{svc, kill})
	q := queue.NewService(store, queue.Config{})
	svc.SetQueue(q)
	inst, err := q.CreateInstitution(ctx, queue.Fields{Name: "Hall", Kind: "government", Status: "open"}, queue.Meta{Actor: queue.ActorSystem})
	if err != nil {
		t.Fatal(err)
	}

	// ticket ids of the sms_phone jobs, and of the tickets with a phone
	jobTickets := func() (jobs, tickets []string) {
		t.Helper()
		rows, _ := pool.Query(ctx, `SELECT args->>'ticket_id' FROM river_job WHERE kind = 'sms_phone' ORDER BY 1`)
		jobs, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		rows, _ = pool.Query(ctx, `SELECT id::text FROM tickets WHERE phone IS NOT NULL ORDER BY 1`)
		tickets, err = pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		return jobs, tickets
	}
	batch := func(id int64, reqs ...queue.JoinRequest) []queue.BatchResult {
		t.Helper()
		metas := make([]queue.Meta, len(reqs))
		for i := range reqs {
			if err := reqs[i].Validate(); err != nil {
				t.Fatal(err)
			}
			metas[i] = queue.Meta{Actor: queue.ActorCitizen}
		}
		return q.JoinBatch(ctx, id, reqs, metas)
	}
	phone := func(s string) *string { return &s }

	first := batch(inst.ID, queue.JoinRequest{Phone: phone("09170000001"), IdempotencyKey: "key-1"},
		queue.JoinRequest{Phone: phone("09170000002")})
	for i, r := range first {
		if r.Err != nil {
			t.Fatalf("first batch, join %d: %v", i, r.Err)
		}
	}
	second := batch(inst.ID,
		queue.JoinRequest{Phone: phone("09170000001"), IdempotencyKey: "key-1"}, // replayed
		queue.JoinRequest{Phone: phone("09170000002")},                          // already waiting
		queue.JoinRequest{Phone: phone("09170000003")},                          // issued
		queue.JoinRequest{Phone: phone("09170000003")},                          // twice in the batch
		queue.JoinRequest{}, // issued, no phone
	)
	want := []bool{true, false, true, false, true} // succeeded
	for i, r := range second {
		if (r.Err == nil) != want[i] {
			t.Errorf("second batch, join %d: err %v, want success %v", i, r.Err, want[i])
		}
	}
	if !second[0].Replayed {
		t.Errorf("second batch, join 0 was not replayed")
	}
	j, tk := jobTickets()
	if len(tk) != 3 || !slices.Equal(j, tk) {
		t.Errorf("sms_phone jobs for tickets %v; tickets with phones %v: want one job per ticket, 3 tickets", j, tk)
	}

	// A batch that rolls back after notify wrote its jobs leaves none.
	kill.on = true
	for _, r := range batch(inst.ID, queue.JoinRequest{Phone: phone("09170000004")}) {
		if !errors.Is(r.Err, errKilled) {
			t.Errorf("killed batch: %v, want %v", r.Err, errKilled)
		}
	}
	kill.on = false
	// A closed office refuses every join of the batch.
	closed, err := q.CreateInstitution(ctx, queue.Fields{Name: "Shut", Kind: "government", Status: "closed"}, queue.Meta{Actor: queue.ActorSystem})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range batch(closed.ID, queue.JoinRequest{Phone: phone("09170000005")}, queue.JoinRequest{Phone: phone("09170000006")}) {
		if r.Err == nil {
			t.Errorf("a join of a closed office succeeded")
		}
	}
	if j2, tk2 := jobTickets(); !slices.Equal(j2, j) || !slices.Equal(tk2, tk) {
		t.Errorf("after a killed batch and a refused one: jobs for %v, tickets %v; want as before (%v)", j2, tk2, tk)
	}
}

// switchable fails every change while on, after notify's outbox.
type switchable struct{ on bool }

func (s *switchable) EnqueueTx(context.Context, pgx.Tx, *queue.Changes) error {
	if s.on {
		return errKilled
	}
	return nil
}
func (s *switchable) Enqueue(context.Context, *queue.Changes) error { return nil }
