package queue

import (
	"context"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// TestLookUpsFollowTableGrowth: the look-ups a join makes under the
// institution's lock (idempotency keys, phones with an active ticket) keep
// probing their index after their tables grew from a few rows to
// thousands without a new ANALYZE, as in a new deployment's first crowd
// (lookUpMode): with the look-ups prepared the usual way it fails, their
// cached generic plans scanning. The same SQL prepared is run too, on the
// same connection, and its scans logged.
func TestLookUpsFollowTableGrowth(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	base := newTestPostgresStore(t)
	// One connection, so that every run below meets the statements this
	// connection prepared.
	cfg, err := pgxpool.ParseConfig(base.pool.Config().ConnString())
	if err != nil {
		t.Fatal(err)
	}
	cfg.MaxConns = 1
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	s := NewPostgresStore(pool)
	inst := pgInstitution(t, s)

	seed := func(from, to int) {
		t.Helper()
		_, err := pool.Exec(ctx, `INSERT INTO tickets (id, institution_id, number, status, phone, near_turn_threshold,
				issued_at, updated_at, service, label, place, source)
			SELECT gen_random_uuid(), $1, n, 'waiting', '09' || lpad(n::text, 9, '0'), 3, $2, $2, 'A', 'A-' || n, $2, 'phone'
			FROM generate_series($3::bigint, $4::bigint) AS n`, inst.ID, pgNow, from, to)
		if err != nil {
			t.Fatal(err)
		}
		_, err = pool.Exec(ctx, `INSERT INTO idempotency_keys (institution_id, key, ticket_id, created_at)
			SELECT $1, 'k' || number, id, $2 FROM tickets WHERE institution_id = $1 AND number BETWEEN $3 AND $4`,
			inst.ID, pgNow, from, to)
		if err != nil {
			t.Fatal(err)
		}
	}
	if _, err := pool.Exec(ctx, `ALTER TABLE tickets SET (autovacuum_enabled = false);
		ALTER TABLE idempotency_keys SET (autovacuum_enabled = false)`); err != nil {
		t.Fatal(err)
	}
	seed(1, 60)
	if _, err := pool.Exec(ctx, `ANALYZE tickets; ANALYZE idempotency_keys`); err != nil {
		t.Fatal(err)
	}

	keys := []string{"k5", "k7", "nokey"}
	phones := []string{"09000000005", "09179999999"}
	since := pgNow.Add(-IdempotencyWindow)
	// The same SQL as a prepared statement, pgx's default.
	prepared := func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, idempotentTicketsSQL, inst.ID, keys, since); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, activePhonesSQL, inst.ID, phones)
		return err
	}
	lookUps := func(tx Tx) error {
		if got, err := tx.IdempotentTickets(ctx, keys, since); err != nil || len(got) != 2 {
			return fmt.Errorf("IdempotentTickets = %v, %v, want k5 and k7", got, err)
		}
		if got, err := tx.ActivePhones(ctx, phones); err != nil || len(got) != 1 {
			return fmt.Errorf("ActivePhones = %v, %v, want 09000000005", got, err)
		}
		return nil
	}
	// The same look-ups queued after the locked read, in its batch
	// (lookahead.go).
	ahead := withLookAhead(ctx, []JoinRequest{{IdempotencyKey: "k5"}, {IdempotencyKey: "k7", Phone: &phones[0]},
		{IdempotencyKey: "nokey", Phone: &phones[1]}})
	// Past the five runs after which PostgreSQL may keep a generic plan.
	for range 10 {
		if _, err := s.Update(ahead, inst.ID, func(ctx context.Context, tx Tx) (Changes, error) {
			return Changes{}, lookUps(tx)
		}); err != nil {
			t.Fatal(err)
		}
		_, err := s.Update(ctx, inst.ID, func(ctx context.Context, tx Tx) (Changes, error) {
			if err := prepared(tx.(*pgTx).tx); err != nil {
				return Changes{}, err
			}
			return Changes{}, lookUps(tx)
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	seed(61, 20060)

	// The backend's counts not yet reported are visible at once, so the
	// difference around a call is that call's.
	type scans struct{ seq, idx int64 }
	count := func(tx pgx.Tx) map[string]scans {
		rows, _ := tx.Query(ctx, `SELECT relname, coalesce(seq_scan, 0), coalesce(idx_scan, 0) FROM pg_stat_xact_user_tables
			WHERE relname IN ('tickets', 'idempotency_keys') AND schemaname = current_schema()`)
		out := map[string]scans{}
		var name string
		var sc scans
		_, err := pgx.ForEachRow(rows, []any{&name, &sc.seq, &sc.idx}, func() error {
			out[name] = sc
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	seqScans := func(tx pgx.Tx, call func() error) (int64, int64) {
		before := count(tx)
		if err := call(); err != nil {
			t.Fatal(err)
		}
		after := count(tx)
		var seq, idx int64
		for name, a := range after {
			seq += a.seq - before[name].seq
			idx += a.idx - before[name].idx
		}
		return seq, idx
	}
	_, err = s.Update(ctx, inst.ID, func(ctx context.Context, tx Tx) (Changes, error) {
		ptx := tx.(*pgTx).tx
		if seq, idx := seqScans(ptx, func() error { return lookUps(tx) }); seq != 0 || idx == 0 {
			t.Errorf("the look-ups after the tables grew: %d sequential scans, %d index scans; want only index scans", seq, idx)
		}
		if seq, _ := seqScans(ptx, func() error { return prepared(ptx) }); seq == 0 {
			// PostgreSQL drops a backend's cached plans when it falls
			// behind on invalidations, which the DDL of tests running
			// beside this one (other schemas, same database) can cause.
			t.Logf("the same SQL prepared made no sequential scan this time (its cached plans were reset): the contrast is not shown")
		} else {
			t.Logf("the same SQL prepared made %d sequential scans after the tables grew", seq)
		}
		return Changes{}, nil
	})
	if err != nil {
		t.Fatal(err)
	}

	// The look-ahead reads run before the function: the backend's pending
	// counts are flushed first, so that inside it they are this
	// transaction's alone.
	if _, err := pool.Exec(ctx, `SELECT pg_stat_force_next_flush()`); err != nil {
		t.Fatal(err)
	}
	_, err = s.Update(ahead, inst.ID, func(ctx context.Context, tx Tx) (Changes, error) {
		var seq, idx int64
		for _, sc := range count(tx.(*pgTx).tx) {
			seq, idx = seq+sc.seq, idx+sc.idx
		}
		if seq != 0 || idx == 0 {
			t.Errorf("the look-ahead reads after the tables grew: %d sequential scans, %d index scans; want only index scans", seq, idx)
		}
		return Changes{}, lookUps(tx)
	})
	if err != nil {
		t.Fatal(err)
	}
}
