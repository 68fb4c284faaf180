// Package testenv gives integration tests their real dependencies: an isolated
// PostgreSQL schema, a Redis key prefix, private servers and a TCP proxy for
// fault tests. It is imported only from _test.go files and knows nothing of
// the domain.
//
// The shared services come from TEST_DATABASE_URL and TEST_REDIS_URL, which
// ./scripts/test.sh sets. When a variable is missing, a test is skipped on a
// developer's machine and fails in CI (CI non-empty): in CI these tests must
// run, never silently pass.
package testenv
