// Package chaos holds the fault suite: three QueueLess instances behind
// nginx (deploy/nginx.conf), a private PostgreSQL and a private Redis, a
// flash crowd of joins, a counter calling, live subscribers on every
// instance (boards on the institution stream, phones on their ticket's
// stream) and a webhook receiver, and faults (an instance killed, a
// rolling restart, Redis and PostgreSQL restarted) with the invariants
// checked after each: only 201/429/502/503, every 201 in PostgreSQL with
// gap-free numbers, every board and phone on the current state, every
// committed change's webhook delivered under one delivery id. It is tests only: `go test
// ./chaos/...` runs the short form, `make chaos` (CHAOS_LONG=1) the long
// one. It knows the server only as a binary and its public contract.
package chaos
