package notify_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/queueless/queueless/jobs"
	"github.com/queueless/queueless/notify"
	"github.com/queueless/queueless/queue"
	"github.com/queueless/queueless/sms"
)

// recorder is a gateway that keeps every text.
type recorder struct {
	mu  sync.Mutex
	got map[string]int // number -> texts
}

func (r *recorder) Send(_ context.Context, m sms.Message) (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got[m.To]++
	return fmt.Sprintf("SM%d", len(r.got)), nil
}

// switchable fails every change while on, after notify's outbox.
type switchable struct {
	mu sync.Mutex
	on bool
}

func (s *switchable) set(on bool) { s.mu.Lock(); s.on = on; s.mu.Unlock() }
func (s *switchable) EnqueueTx(context.Context, pgx.Tx, *queue.Changes) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.on {
		return errKilled
	}
	return nil
}
func (s *switchable) Enqueue(context.Context, *queue.Changes) error { return nil }

// A batch of joins issuing many tickets with phones adds one job for all
// of them to its transaction (sms_phone_batch) instead of one each; that
// job, worked, inserts each ticket's own sms_phone job. It names exactly
// the tickets the batch issued: not the refused joins (a number already
// waiting, the same number twice, a closed office) nor the replayed one,
// and a batch rolled back leaves no job. Worked, every issued number gets
// its code once, and the refused ones nothing.
func TestPhoneJobsOfABatchGoAsOne(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := migratedPool(t, nil)
	gw := &recorder{got: map[string]int{}}
	svc := notify.NewService(notify.NewPostgresStore(pool), notify.Config{Gateway: gw, Verify: true, PublicURL: "https://q.example"})
	reg := jobs.NewRegistry()
	svc.RegisterWorkers(reg)
	jc, err := jobs.NewPostgres(pool, reg, jobs.Config{Workers: 4, PollInterval: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
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
	number := func(i int) *string { s := fmt.Sprintf("0917%07d", i); return &s }
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
	strs := func(sql string, args ...any) []string {
		t.Helper()
		rows, _ := pool.Query(ctx, sql, args...)
		out, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		return out
	}

	// A few phones: their own jobs, as before.
	for i, r := range batch(inst.ID, queue.JoinRequest{Phone: number(1), IdempotencyKey: "key-1"}, queue.JoinRequest{Phone: number(2)}) {
		if r.Err != nil {
			t.Fatalf("first batch, join %d: %v", i, r.Err)
		}
	}
	if kinds := strs(`SELECT kind FROM river_job WHERE kind LIKE 'sms_phone%' ORDER BY kind`); !slices.Equal(kinds, []string{"sms_phone", "sms_phone"}) {
		t.Fatalf("jobs of a batch of two phones: %v, want two sms_phone", kinds)
	}
	// Many phones, some refused or replayed.
	reqs := []queue.JoinRequest{
		{Phone: number(1), IdempotencyKey: "key-1"}, // replayed
		{Phone: number(2)},                          // already waiting
		{Phone: number(3)}, {Phone: number(3)},      // the second refused
		{}, // no phone
	}
	for i := 10; i < 20; i++ {
		reqs = append(reqs, queue.JoinRequest{Phone: number(i)})
	}
	res := batch(inst.ID, reqs...)
	var issued []string
	for i, r := range res {
		want := i != 1 && i != 3
		if (r.Err == nil) != want {
			t.Errorf("second batch, join %d: err %v, want success %v", i, r.Err, want)
		}
		if r.Err == nil && !r.Replayed && r.Ticket.Phone != nil {
			issued = append(issued, r.Ticket.ID)
		}
	}
	slices.Sort(issued)
	if len(issued) != 11 {
		t.Fatalf("%d tickets with a phone issued by the second batch, want 11", len(issued))
	}
	listed := strs(`SELECT split_part(e, ':', 1) FROM river_job, unnest(string_to_array(args->>'list', ',')) AS e
		WHERE kind = 'sms_phone_batch' ORDER BY 1`)
	if !slices.Equal(listed, issued) {
		t.Errorf("the batch job lists tickets %v; the batch issued %v", listed, issued)
	}
	// One string, so that river_job's GIN index on args has two entries
	// for it, not two per phone.
	if shape := strs(`SELECT string_agg(k || '=' || jsonb_typeof(v), ' ') FROM river_job, jsonb_each(args) AS a(k, v)
		WHERE kind = 'sms_phone_batch'`); !slices.Equal(shape, []string{"list=string"}) {
		t.Errorf("the batch job's arguments: %v, want one string (list)", shape)
	}
	// Rolled back, or refused altogether: no job.
	kill.set(true)
	many := make([]queue.JoinRequest, 12)
	for i := range many {
		many[i].Phone = number(100 + i)
	}
	for _, r := range batch(inst.ID, many...) {
		if !errors.Is(r.Err, errKilled) {
			t.Errorf("killed batch: %v, want %v", r.Err, errKilled)
		}
	}
	kill.set(false)
	closed, err := q.CreateInstitution(ctx, queue.Fields{Name: "Shut", Kind: "government", Status: "closed"}, queue.Meta{Actor: queue.ActorSystem})
	if err != nil {
		t.Fatal(err)
	}
	for i := range many {
		many[i].Phone = number(200 + i)
	}
	for _, r := range batch(closed.ID, many...) {
		if r.Err == nil {
			t.Errorf("a join of a closed office succeeded")
		}
	}
	if n := strs(`SELECT id::text FROM river_job WHERE kind = 'sms_phone_batch'`); len(n) != 1 {
		t.Errorf("%d sms_phone_batch jobs after a killed and a refused batch, want the one", len(n))
	}

	// Worked: one sms_phone job and one code per ticket with a phone.
	if err := jc.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = jc.Stop(context.WithoutCancel(ctx)) })
	tickets := strs(`SELECT id::text FROM tickets WHERE phone IS NOT NULL ORDER BY 1`)
	deadline := time.Now().Add(30 * time.Second)
	var done []string
	for time.Now().Before(deadline) {
		done = strs(`SELECT args->>'ticket_id' FROM river_job WHERE kind = 'sms_phone' AND state = 'completed' ORDER BY 1`)
		left := strs(`SELECT kind FROM river_job WHERE state <> 'completed'`)
		if len(done) >= len(tickets) && len(left) == 0 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !slices.Equal(done, tickets) {
		t.Fatalf("completed sms_phone jobs for %v; tickets with phones %v", done, tickets)
	}
	gw.mu.Lock()
	defer gw.mu.Unlock()
	for i := range 300 {
		n, want := gw.got[*number(i)], 0
		if (i >= 1 && i <= 3) || (i >= 10 && i < 20) {
			want = 1
		}
		if n != want {
			t.Errorf("%s got %d texts, want %d", *number(i), n, want)
		}
	}
}
