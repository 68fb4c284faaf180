// Package feedbackstore keeps citizens' feedback (package feedback's body
// and rule) and applies the rule under the ticket's institution's lock
// (queue.Store.Update), so that two posts at once give one 201: in
// PostgreSQL's feedback table (migration 00021), in the transaction that
// holds the lock, or in memory in embedded mode. It must not know HTTP.
package feedbackstore
