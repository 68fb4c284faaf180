// Package feedback is what a citizen says after being served: the body of
// POST /api/v1/tickets/{id}/feedback (an overall rating, the SQD answers of
// the government's Client Satisfaction Measurement form, a comment), its
// validation, and the rule of when feedback may be given (once, only after
// served, within 24 hours). docs/FEEDBACK.md lists the SQD questions.
//
// It must not know the queue package, storage or HTTP: callers pass the
// facts of the ticket and store what Validate accepted.
package feedback
