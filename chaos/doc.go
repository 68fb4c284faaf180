// Package chaos holds the fault suite: three QueueLess instances behind
// nginx (deploy/nginx.conf), a private PostgreSQL and a private Redis, a
// flash crowd of joins and live subscribers on every instance, and faults
// (an instance killed, a rolling restart, Redis and PostgreSQL restarted)
// with the invariants checked after each. It is tests only: `go test
// ./chaos/...` runs the short form, `make chaos` (CHAOS_LONG=1) the long
// one. It knows the server only as a binary and its public contract.
package chaos
