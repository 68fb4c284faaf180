// Package app wires a QueueLess server from its Config: it picks the
// embedded or production implementations, starts the background workers and
// shuts everything down in reverse order. cmd/queueless and end-to-end tests
// use it; nothing below it knows which mode it runs in.
package app
