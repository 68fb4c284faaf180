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

// TestServicesMigration: an institution from before services (version 3)
// gets one service A "General" holding its waiting tickets, and its tickets
// get service A, labels per UTC day in number order and places rising with
// the numbers.
func TestServicesMigration(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, db := newTestDB(t)
	p, err := newProvider(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.UpTo(ctx, 3); err != nil {
		t.Fatalf("up to 3: %v", err)
	}
	_, err = pool.Exec(ctx, `
		INSERT INTO institutions (id, name, kind, status, last_issued, waiting_count, now_serving)
			VALUES (7, 'Old Office', 'bank', 'open', 4, 2, 2);
		INSERT INTO tickets (id, institution_id, number, status, near_turn_threshold, issued_at, updated_at) VALUES
			('00000000-0000-4000-8000-000000000001', 7, 1, 'served',   3, '2026-11-22 23:59:00Z', now()),
			('00000000-0000-4000-8000-000000000002', 7, 2, 'serving',  3, '2026-11-23 08:00:05Z', now()),
			('00000000-0000-4000-8000-000000000003', 7, 3, 'waiting',  3, '2026-11-23 08:00:01Z', now()),
			('00000000-0000-4000-8000-000000000004', 7, 4, 'notified', 3, '2026-11-23 08:01:00Z', now())`)
	if err != nil {
		t.Fatal(err)
	}
	if err := Up(ctx, db); err != nil {
		t.Fatal(err)
	}
	var services string
	var run int
	if err := pool.QueryRow(ctx, `SELECT services::text, priority_run FROM institutions WHERE id = 7`).Scan(&services, &run); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"code": "A"`, `"name": "General"`, `"status": "open"`, `"waiting_count": 2`, `"label_day": "2026-11-23"`, `"label_seq": 3`} {
		if !strings.Contains(services, want) {
			t.Errorf("services = %s, want it to hold %s", services, want)
		}
	}
	if run != 2 {
		t.Errorf("priority_run = %d, want the default 2", run)
	}
	rows, _ := pool.Query(ctx, `SELECT service || ' ' || label || ' ' || source || ' ' || to_char(place AT TIME ZONE 'UTC', 'HH24:MI:SS') FROM tickets ORDER BY number`)
	var got []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		got = append(got, s)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	want := []string{"A A-001 phone 23:59:00", "A A-001 phone 08:00:05", "A A-002 phone 08:00:05", "A A-003 phone 08:01:00"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("tickets after the migration = %v, want %v", got, want)
	}
}
