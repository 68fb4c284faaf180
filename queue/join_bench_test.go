package queue

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkJoinHot issues tickets of one institution from many callers at
// once against PostgreSQL: with join coalescing (the default: one
// transaction for up to 256 waiting joins), with a phone number on every
// join (one duplicate check for all the phones of a batch inside the locked
// transaction), and without coalescing (MaxJoinBatch 1: one transaction per
// ticket, what loadtest/pgbench/one_ticket.sql measures). joins/s is the
// figure; ns/op is its inverse.
func BenchmarkJoinHot(b *testing.B) {
	for _, bc := range []struct {
		name   string
		batch  int
		phones bool
	}{
		{"coalesced", 0, false},
		{"coalesced-with-phone", 0, true},
		{"one-per-transaction", 1, false},
	} {
		b.Run(bc.name, func(b *testing.B) {
			ctx := context.Background()
			svc := NewService(newTestPostgresStore(b), Config{MaxJoinBatch: bc.batch})
			inst, err := svc.CreateInstitution(ctx, Fields{Name: "Hot Office", Kind: "government", Status: StatusOpen}, Meta{})
			if err != nil {
				b.Fatal(err)
			}
			var phones atomic.Int64
			b.SetParallelism(128) // 128 callers per CPU
			b.ResetTimer()
			start := time.Now()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					var req JoinRequest
					if bc.phones {
						p := fmt.Sprintf("09%09d", phones.Add(1))
						req.Phone = &p
					}
					if _, err := svc.Join(ctx, inst.ID, req, Meta{Actor: ActorCitizen}); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "joins/s")
		})
	}
}

// BenchmarkJoinBatchMemory is the CPU cost of the service's part of a
// coalesced join (validation, numbering, audit, notifications), on the
// memory store: per ticket, in batches of 256.
func BenchmarkJoinBatchMemory(b *testing.B) {
	ctx := context.Background()
	svc := NewService(NewMemoryStore(), Config{})
	inst, err := svc.CreateInstitution(ctx, Fields{Name: "Hot Office", Kind: "government", Status: StatusOpen}, Meta{})
	if err != nil {
		b.Fatal(err)
	}
	const batch = 256
	reqs := make([]JoinRequest, batch)
	metas := make([]Meta, batch)
	for i := range reqs {
		reqs[i] = JoinRequest{Threshold: DefaultThreshold}
		metas[i] = Meta{Actor: ActorCitizen}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for done := 0; done < b.N; done += batch {
		n := min(batch, b.N-done)
		for _, r := range svc.JoinBatch(ctx, inst.ID, reqs[:n], metas[:n]) {
			if r.Err != nil {
				b.Fatal(r.Err)
			}
		}
	}
}
