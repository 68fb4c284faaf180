// Package webhooks delivers QueueLess's events to institutions' own systems:
// webhooks and their filters, the delivery rows written in the transaction
// of the change they report (as the queue's Outbox), and the River worker
// that signs and posts them, retries with backoff and keeps the dead
// letters. It knows nothing of HTTP routing or of how jobs are stored.
package webhooks
