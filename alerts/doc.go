// Package alerts decides when an institution's queue needs a person's
// attention: the queue_stalled and wait_sla conditions, the escalation
// initiated -> p2 -> p1 -> p0, auto-resolve and staff resolve, and the
// alerts table that keeps at most one open alert per institution and kind.
//
// Evaluate is pure and clock-driven: it turns what was observed of each
// institution and its open alerts into transitions; a Store applies them
// so that concurrent evaluators never apply the same transition twice.
// It must not know the queue package, HTTP, River or webhooks: callers
// observe the queue, schedule the evaluation and deliver what it returns.
package alerts
