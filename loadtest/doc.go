// Package loadtest drives load against a QueueLess deployment: the join
// flash crowd, live fan-out and mixed day scenarios, their statistics, and
// the benchmark run that writes docs/BENCHMARKS.md. It talks to the server
// over HTTP and WebSocket only, as any client would: it must not import the
// server's packages (cmd/loadgen does, to serve them).
package loadtest
