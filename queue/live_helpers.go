package queue

// Exported wrappers for consumers of events (the live hub) that compute
// derived fields themselves instead of asking the store.

// Decorate fills t's derived fields (now_serving, people_ahead, estimate)
// from its institution and its rank ahead among the waiting tickets, the
// same way the service does for the HTTP API. ahead is ignored unless the
// ticket is waiting or notified.
func Decorate(t *Ticket, inst *Institution, ahead int64) { t.decorate(inst, ahead) }

// Estimate fills the institution's derived fields (estimated waits, an
// empty rather than null recent_calls) from its stored ones, as of its
// last change (a live event's time).
func (inst *Institution) Estimate() { inst.estimate(inst.UpdatedAt) }
