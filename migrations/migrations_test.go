package migrations

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/queueless/queueless/internal/testenv"
)

// newTestDB returns a database/sql handle on a fresh, empty schema.
func newTestDB(t *testing.T) (*pgxpool.Pool, *sql.DB) {
	t.Helper()
	pool, err := pgxpool.New(context.Background(), testenv.NewSchema(t))
	if err != nil {
		t.Fatalf("open pool: %v", err)
	}
	db := OpenDB(pool)
	t.Cleanup(func() {
		_ = db.Close()
		pool.Close()
	})
	return pool, db
}

func latestVersion(t *testing.T) int64 {
	t.Helper()
	entries, err := files.ReadDir(".")
	if err != nil {
		t.Fatalf("read embedded migrations: %v", err)
	}
	// The SQL files and River's Go migrations (river.go).
	return int64(len(entries) + len(riverMigrations))
}

func TestUpConcurrently(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, _ := newTestDB(t)

	// Instances starting together: each has its own handle and so its own
	// session for the advisory lock.
	const instances = 4
	var wg sync.WaitGroup
	errs := make([]error, instances)
	for i := range instances {
		wg.Go(func() {
			db := OpenDB(pool)
			defer db.Close()
			errs[i] = Up(ctx, db)
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("instance %d: Up: %v", i, err)
		}
	}

	var applied, distinct int64
	err := pool.QueryRow(ctx, `SELECT count(*), count(DISTINCT version_id) FROM goose_db_version WHERE version_id > 0`).Scan(&applied, &distinct)
	if err != nil {
		t.Fatalf("read goose_db_version: %v", err)
	}
	if want := latestVersion(t); applied != want || distinct != want {
		t.Errorf("goose_db_version holds %d rows of %d versions, want each of the %d migrations once", applied, distinct, want)
	}
	for _, table := range []string{"institutions", "tickets", "notifications", "events", "idempotency_keys", "tokens", "river_job", "river_leader", "webhooks", "webhook_deliveries"} {
		var exists bool
		if err := pool.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, table).Scan(&exists); err != nil || !exists {
			t.Errorf("table %s exists = %t (%v), want it created", table, exists, err)
		}
	}
}

func TestCheck(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, db := newTestDB(t)

	err := Check(ctx, db)
	if !errors.Is(err, ErrBehind) {
		t.Fatalf("Check on an empty schema = %v, want ErrBehind", err)
	}
	for _, want := range []string{"version 0", "queueless migrate"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Check error %q does not say %q", err, want)
		}
	}
	var exists bool
	if err := pool.QueryRow(ctx, `SELECT to_regclass('goose_db_version') IS NOT NULL`).Scan(&exists); err != nil {
		t.Fatal(err)
	}
	if exists {
		t.Errorf("Check created goose_db_version; it must write nothing")
	}

	if err := Up(ctx, db); err != nil {
		t.Fatalf("Up: %v", err)
	}
	if err := Check(ctx, db); err != nil {
		t.Errorf("Check after Up = %v, want nil", err)
	}

	// A schema one migration short is behind too.
	if _, err := pool.Exec(ctx, `DELETE FROM goose_db_version WHERE version_id = (SELECT max(version_id) FROM goose_db_version)`); err != nil {
		t.Fatal(err)
	}
	if err := Check(ctx, db); !errors.Is(err, ErrBehind) {
		t.Errorf("Check with the last migration missing = %v, want ErrBehind", err)
	}
}
