package notify_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/queueless/queueless/internal/testenv"
	"github.com/queueless/queueless/jobs"
	"github.com/queueless/queueless/notify"
	"github.com/queueless/queueless/queue"
)

// BenchmarkJoinBatchPhones times batches of 200 joins into one
// institution, one after another as the join batcher sends them in a
// crowd (one transaction at a time per institution and instance), with and
// without phones, with notify's outbox as in production, and reports the
// round trips sent per batch (statements and pipelines, BEGIN and COMMIT
// included).
func BenchmarkJoinBatchPhones(b *testing.B) {
	for _, phones := range []bool{false, true} {
		b.Run(fmt.Sprintf("phones=%v", phones), func(b *testing.B) {
			ctx := context.Background()
			trips := &testenv.RoundTrips{}
			pool := migratedPool(b, func(cfg *pgxpool.Config) { cfg.ConnConfig.Tracer = trips })
			jc, err := jobs.NewPostgres(pool, jobs.NewRegistry(), jobs.Config{})
			if err != nil {
				b.Fatal(err)
			}
			svc := notify.NewService(notify.NewPostgresStore(pool), notify.Config{Gateway: nullGateway{}, Verify: true, PublicURL: "https://q.example"})
			svc.SetJobs(jc)
			store := queue.NewPostgresStore(pool)
			store.SetOutbox(svc)
			q := queue.NewService(store, queue.Config{})
			svc.SetQueue(q)
			inst, err := q.CreateInstitution(ctx, queue.Fields{Name: "Hall", Kind: "government", Status: "open"}, queue.Meta{Actor: queue.ActorSystem})
			if err != nil {
				b.Fatal(err)
			}
			const size = 200
			metas := make([]queue.Meta, size)
			for i := range metas {
				metas[i] = queue.Meta{Actor: queue.ActorCitizen}
			}
			n := 0
			trips.N.Store(0)
			b.ResetTimer()
			for b.Loop() {
				reqs := make([]queue.JoinRequest, size)
				for i := range reqs {
					n++
					if phones {
						reqs[i].Phone = new(fmt.Sprintf("0917%07d", n))
					}
					if err := reqs[i].Validate(); err != nil {
						b.Fatal(err)
					}
				}
				for _, r := range q.JoinBatch(ctx, inst.ID, reqs, metas) {
					if r.Err != nil {
						b.Fatal(r.Err)
					}
				}
			}
			b.ReportMetric(float64(trips.N.Load())/float64(b.N), "roundtrips/batch")
		})
	}
}
