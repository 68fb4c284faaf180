package testenv

import (
	"crypto/rand"
	"encoding/hex"
	"net"
	"os"
	"testing"
)

// Environment variables read by this package. ./scripts/test.sh sets the
// first two; PG_BIN is set by it too, for tests that start a private
// PostgreSQL.
const (
	EnvDatabaseURL = "TEST_DATABASE_URL"
	EnvRedisURL    = "TEST_REDIS_URL"
	EnvPGBin       = "PG_BIN"
)

// PostgresURL returns TEST_DATABASE_URL. Most tests want NewSchema instead,
// which isolates them from each other.
func PostgresURL(t testing.TB) string {
	t.Helper()
	return requireEnv(t, EnvDatabaseURL)
}

// RedisURL returns TEST_REDIS_URL. Tests sharing it must keep to their own
// RedisPrefix.
func RedisURL(t testing.TB) string {
	t.Helper()
	return requireEnv(t, EnvRedisURL)
}

// requireEnv returns the variable, or ends the test: a skip on a developer's
// machine, a failure in CI, where a skipped integration test would hide a
// broken setup.
func requireEnv(t testing.TB, name string) string {
	t.Helper()
	if v := os.Getenv(name); v != "" {
		return v
	}
	if inCI() {
		t.Fatalf("%s is not set: in CI integration tests must run, not skip; run ./scripts/test.sh, which sets it", name)
	}
	t.Skipf("%s is not set: run ./scripts/test.sh, which starts PostgreSQL and Redis and sets it", name)
	return ""
}

// requireTool ends the test like requireEnv when a program a fault test
// needs is missing.
func requireTool(t testing.TB, what, hint string) {
	t.Helper()
	if inCI() {
		t.Fatalf("%s not found: in CI fault tests must run, not skip; %s", what, hint)
	}
	t.Skipf("%s not found: %s", what, hint)
}

func inCI() bool { return os.Getenv("CI") != "" }

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago. Another
// process may take it before the caller binds it, so a server of the tests'
// own binds 127.0.0.1:0 and reports the address it got (ServingAddr) instead;
// FreePort is for a port that should refuse connections, and for programs
// that cannot bind :0 and say so (redis-server, postgres), whose helpers
// check that the server answering there is their own process.
func FreePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("find free port: %v", err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	if err := ln.Close(); err != nil {
		t.Fatalf("find free port: close listener: %v", err)
	}
	return port
}

// randomHex returns 2n lowercase hex digits, safe in SQL identifiers and
// Redis glob patterns alike.
func randomHex(t testing.TB, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatalf("random name: %v", err)
	}
	return hex.EncodeToString(b)
}
