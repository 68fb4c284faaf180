package testenv

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// cleanupTimeout bounds every cleanup step, so that a wedged server fails the
// test instead of hanging the whole run until go test's -timeout.
const cleanupTimeout = 30 * time.Second

// NewSchema creates an empty schema named test_<hex> in the TEST_DATABASE_URL
// database and returns a connection string whose search_path is that schema
// alone, so that unqualified tables (and goose's version table) land in it.
// The schema is dropped with everything in it when the test ends; close pools
// opened on it in a t.Cleanup registered after NewSchema, so they are closed
// first.
func NewSchema(t testing.TB) (connString string) {
	t.Helper()
	base := PostgresURL(t)
	name := "test_" + randomHex(t, 8)
	ident := pgx.Identifier{name}.Sanitize()

	ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
	defer cancel()
	if err := execOnce(ctx, base, "CREATE SCHEMA "+ident); err != nil {
		t.Fatalf("new schema: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
		defer cancel()
		// A lock_timeout turns a connection the test forgot to close, still
		// holding locks in the schema, into an error naming the schema rather
		// than a hang.
		sql := "SET lock_timeout = '10s'; DROP SCHEMA IF EXISTS " + ident + " CASCADE"
		if err := execOnce(ctx, base, sql); err != nil {
			t.Errorf("drop schema %s: %v", name, err)
		}
	})

	cs, err := withSearchPath(base, name)
	if err != nil {
		t.Fatalf("new schema: %v", err)
	}
	return cs
}

// execOnce runs sql on a connection of its own. The simple protocol lets sql
// hold several statements.
func execOnce(ctx context.Context, connString, sql string) error {
	conn, err := pgx.Connect(ctx, connString)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, sql, pgx.QueryExecModeSimpleProtocol); err != nil {
		return fmt.Errorf("exec %q: %w", sql, err)
	}
	return nil
}

// withSearchPath adds search_path to a connection string, in either of the
// forms pgx accepts. pgx sends unknown settings to the server as run-time
// parameters at connection start, so every connection of a pool gets it.
func withSearchPath(connString, schema string) (string, error) {
	if strings.HasPrefix(connString, "postgres://") || strings.HasPrefix(connString, "postgresql://") {
		u, err := url.Parse(connString)
		if err != nil {
			return "", fmt.Errorf("parse %s: %w", EnvDatabaseURL, err)
		}
		q := u.Query()
		q.Set("search_path", schema)
		u.RawQuery = q.Encode()
		return u.String(), nil
	}
	// Keyword/value form: a later keyword overrides an earlier one.
	return connString + " search_path=" + schema, nil
}
