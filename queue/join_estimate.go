package queue

// The estimate a ticket is given when it joins is kept with it
// (tickets.estimate_at_join_seconds, migration 00050), so that stats can
// measure estimates against the waits that followed (package stats).

// joinEstimate is the estimated_wait_seconds a joining ticket t, with ahead
// people ahead of it in its lane, is shown: what decorate gives it. nil
// while there is no estimate.
func joinEstimate(inst *Institution, t Ticket, ahead int64) *int64 {
	t.decorate(inst, ahead)
	return t.EstimatedWaitSeconds
}

// joinEstimates is the estimate_at_join_seconds column of inserted tickets.
func joinEstimates(ts []Ticket) []*int32 {
	out := make([]*int32, len(ts))
	for i, t := range ts {
		if t.EstimateAtJoin != nil {
			v := int32(min(max(*t.EstimateAtJoin, 0), 1<<31-1))
			out[i] = &v
		}
	}
	return out
}
