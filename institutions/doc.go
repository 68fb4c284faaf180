// Package institutions is the directory side of QueueLess: the demo
// institutions, seeding, and the links that keep institutions in step with
// their own queue systems (polled under a lease, or pushed and signed). It
// uses the queue package's public API only and knows nothing of QueueLess's
// HTTP API or of storage.
package institutions
