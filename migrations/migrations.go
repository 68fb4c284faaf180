package migrations

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"hash/fnv"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

// Command is the command that brings a schema up to date.
const Command = "queueless migrate"

//go:embed *.sql
var files embed.FS

// versionTable is goose's bookkeeping table, in the schema of the
// connection's search_path like everything else.
const versionTable = goose.DefaultTablename

// OpenDB returns a database/sql handle over pool, for goose. Closing it does
// not close the pool.
func OpenDB(pool *pgxpool.Pool) *sql.DB {
	return stdlib.OpenDBFromPool(pool)
}

// Up applies every migration not yet applied, each in its own transaction.
// Instances that start together are safe: they queue on a session advisory
// lock, and whoever comes second finds nothing left to do.
func Up(ctx context.Context, db *sql.DB) error {
	p, err := newProvider(ctx, db)
	if err != nil {
		return fmt.Errorf("migrate up: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("migrate up: %w", err)
	}
	return nil
}

// Check returns an error wrapping ErrBehind, naming Command, when the schema
// is behind the migrations built into this binary. It writes nothing, not
// even goose's version table.
func Check(ctx context.Context, db *sql.DB) error {
	p, err := newProvider(ctx, db)
	if err != nil {
		return fmt.Errorf("check schema: %w", err)
	}
	srcs := p.ListSources()
	latest := srcs[len(srcs)-1].Version
	var exists bool
	if err := db.QueryRowContext(ctx, "SELECT to_regclass($1) IS NOT NULL", versionTable).Scan(&exists); err != nil {
		return fmt.Errorf("check schema: %w", err)
	}
	if !exists {
		return behind(0, latest)
	}
	current, _, err := p.GetVersions(ctx)
	if err != nil {
		return fmt.Errorf("check schema: %w", err)
	}
	// HasPending also catches a migration missing below the current version.
	pending, err := p.HasPending(ctx)
	if err != nil {
		return fmt.Errorf("check schema: %w", err)
	}
	if pending {
		return behind(current, latest)
	}
	return nil
}

// ErrBehind is the error Check wraps when the schema needs migrating.
var ErrBehind = errors.New("database schema is behind")

func behind(current, latest int64) error {
	return fmt.Errorf("%w: it is at version %d, this binary needs %d; run `%s` first", ErrBehind, current, latest, Command)
}

func newProvider(ctx context.Context, db *sql.DB) (*goose.Provider, error) {
	var schema string
	if err := db.QueryRowContext(ctx, "SELECT coalesce(current_schema(), '')").Scan(&schema); err != nil {
		return nil, fmt.Errorf("read current schema: %w", err)
	}
	// The lock is per schema: migrations of different schemas in one
	// database (tests, several deployments) need not wait for each other.
	// Polled every second for up to five minutes.
	locker, err := lock.NewPostgresSessionLocker(lock.WithLockID(lockID(schema)), lock.WithLockTimeout(1, 300))
	if err != nil {
		return nil, err
	}
	return goose.NewProvider(goose.DialectPostgres, db, files,
		goose.WithSessionLocker(locker),
		goose.WithDisableGlobalRegistry(true),
		goose.WithGoMigrations(riverMigrations...),
	)
}

// lockID derives the advisory lock key from goose's default and the schema.
func lockID(schema string) int64 {
	h := fnv.New64a()
	h.Write([]byte("queueless migrations\x00" + schema))
	return lock.DefaultLockID ^ int64(h.Sum64())
}
