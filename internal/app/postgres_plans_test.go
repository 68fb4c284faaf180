package app

import (
	"context"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/queueless/queueless/internal/testenv"
)

// TestPostgresPlansFollowTableGrowth: a look-up by primary key, prepared
// and run while its table was small and then run again after the table
// grew, must still use the index. This is what a new deployment's first
// crowd does to idempotency_keys and tickets (postgresConfig). With the
// pool's settings it does; with PostgreSQL's default plan cache the cached
// generic plan keeps scanning the whole table, which the second case checks
// so that the first one is known to be able to fail.
func TestPostgresPlansFollowTableGrowth(t *testing.T) {
	t.Parallel()
	cs := testenv.NewSchema(t)
	cases := []struct {
		name     string
		mode     string // "" leaves the pool's setting
		wantScan bool
	}{
		{"pool settings", "", false},
		{"postgres default", "auto", true},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			seq, idx := lookUpAfterGrowth(t, cs, fmt.Sprintf("keys_%d", i), tc.mode)
			if scanned := seq > 0; scanned != tc.wantScan {
				t.Errorf("after the table grew: %d sequential scans, %d index scans; want sequential scans: %v", seq, idx, tc.wantScan)
			}
			if !tc.wantScan && idx == 0 {
				t.Errorf("after the table grew: no index scan")
			}
		})
	}
}

// lookUpAfterGrowth runs a key look-up through a pool configured as the
// server's (plan_cache_mode overridden when mode is set) on a table analyzed
// at 60 rows, ten times, lets the table grow to 20,060 rows without a new
// ANALYZE, and returns the scans the look-up then made.
func lookUpAfterGrowth(t *testing.T, connString, table, mode string) (seqScans, idxScans int64) {
	t.Helper()
	ctx := context.Background()
	pc, err := postgresConfig(Config{DatabaseURL: connString, DBMaxConns: 1})
	if err != nil {
		t.Fatal(err)
	}
	if mode != "" {
		pc.ConnConfig.RuntimeParams["plan_cache_mode"] = mode
	}
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	setup := fmt.Sprintf(`CREATE TABLE %[1]s (institution_id bigint, key text, PRIMARY KEY (institution_id, key))
		WITH (autovacuum_enabled = false);
		INSERT INTO %[1]s SELECT 1, 'k' || i FROM generate_series(1, 60) i;
		ANALYZE %[1]s`, table)
	if _, err := pool.Exec(ctx, setup); err != nil {
		t.Fatal(err)
	}
	lookUp := fmt.Sprintf(`SELECT key FROM %s WHERE institution_id = $1 AND key = ANY($2::text[])`, table)
	keys := []string{"k5", "k7", "x99"}
	for range 10 { // past the five runs after which PostgreSQL may keep a generic plan
		if _, err := pool.Exec(ctx, lookUp, 1, keys); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := pool.Exec(ctx, fmt.Sprintf(`INSERT INTO %s SELECT 1, 'x' || i FROM generate_series(1, 20000) i`, table)); err != nil {
		t.Fatal(err)
	}
	// The backend's counts not yet reported, visible at once: the
	// difference is the final look-up's.
	conn, err := pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	scans := func() (seq, idx int64) {
		err := conn.QueryRow(ctx, `SELECT coalesce(seq_scan, 0), coalesce(idx_scan, 0) FROM pg_stat_xact_user_tables
			WHERE relid = $1::regclass`, table).Scan(&seq, &idx)
		if err != nil {
			t.Fatal(err)
		}
		return seq, idx
	}
	seq0, idx0 := scans()
	if _, err := conn.Exec(ctx, lookUp, 1, keys); err != nil {
		t.Fatal(err)
	}
	seq1, idx1 := scans()
	return seq1 - seq0, idx1 - idx0
}
