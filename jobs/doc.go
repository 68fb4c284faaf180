// Package jobs sets up River, QueueLess's durable job queue: the client over
// PostgreSQL in production (riverpgxv5) or over an in-memory SQLite in
// embedded mode (riversqlite), the registry where other packages add their
// workers and periodic jobs, and the retry schedule deliveries share. It
// knows nothing of tickets, webhooks or texts: workers live with their domain.
package jobs
