// Package alerting runs the alerts package's rules against the queue: the
// evaluation that, per institution and under its lock (queue.Store.Update),
// observes the queue, applies alerts.Evaluate's transitions and writes
// their webhooks in the same transaction; the River periodic job that runs
// it on one instance at a time; and the staff resolve.
//
// It must not know HTTP: httpapi calls Resolve and List through a small
// interface. The rules (when to raise, escalate, resolve; which webhook
// hears which level) stay in package alerts.
package alerting
