// Package stats answers GET /api/v1/institutions/{id}/stats and
// GET /api/v1/institutions/{id}/tickets.csv: what happened to the tickets
// issued in a period (counts, exact wait and service percentiles, by hour
// of the institution's local day, by service, satisfaction from feedback,
// the error of the estimates given at join) and the tickets themselves.
//
// PostgreSQL computes every figure in SQL (percentile_cont over the
// period, one scan of tickets_issued_idx): nothing loads a period's
// tickets into memory. The memory store's tickets are in memory already;
// Compute gives the same figures from them, and the tests hold both to one
// hand-computed fixture.
//
// It reads the queue's and feedback's tables and never writes; it must not
// know HTTP (errors are *queue.Error, which the API maps to its statuses)
// nor where the institution's timezone comes from: callers pass a
// *time.Location.
package stats
