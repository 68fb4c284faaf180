package queue

import (
	"context"
	"encoding/json"
	"strings"
)

// AdvanceRequest asks to call the next Count tickets at Counter.
type AdvanceRequest struct {
	Count   int
	Counter *string
}

// Validate checks an advance request and applies defaults.
func (r *AdvanceRequest) Validate() error {
	if r.Count == 0 {
		r.Count = 1
	}
	if r.Count < 1 || r.Count > 50 {
		return Errorf(CodeInvalid, "count must be an integer from 1 to 50")
	}
	if r.Counter != nil {
		if err := CheckCounter(*r.Counter); err != nil {
			return err
		}
	}
	return nil
}

// CheckCounter checks a counter name, from staff or from an outside
// system: 1 to 16 characters of text, no control character (NUL
// included, which PostgreSQL cannot store), not blank.
func CheckCounter(counter string) error {
	if err := checkText("counter", counter, 1, 16); err != nil {
		return err
	}
	if strings.TrimSpace(counter) == "" {
		return Errorf(CodeInvalid, "counter must not be blank")
	}
	return nil
}

// AdvanceResult is what an advance did.
type AdvanceResult struct {
	Institution Institution `json:"institution"`
	Called      []Ticket    `json:"called"`
	Served      []Ticket    `json:"served"`
	Expired     []Ticket    `json:"expired"`
}

// Advance serves checked-in tickets, expires serving tickets past their
// grace period and calls the next Count waiting tickets. With nothing to do
// it changes nothing.
func (s *Service) Advance(ctx context.Context, id int64, req AdvanceRequest, meta Meta) (AdvanceResult, error) {
	if err := req.Validate(); err != nil {
		return AdvanceResult{}, err
	}
	res := AdvanceResult{Called: []Ticket{}, Served: []Ticket{}, Expired: []Ticket{}}
	_, err := s.update(ctx, id, nil, func(ctx context.Context, tx Tx) (Changes, []Transition, error) {
		res = AdvanceResult{Called: []Ticket{}, Served: []Ticket{}, Expired: []Ticket{}}
		inst := tx.Institution()
		c := &changeSet{s: s, now: s.clock(), meta: meta}
		if err := s.settleServing(ctx, tx, c, true, &res); err != nil {
			return Changes{}, nil, err
		}
		front, err := tx.Waiting(ctx, req.Count+MaxThreshold+1)
		if err != nil {
			return Changes{}, nil, err
		}
		n := min(req.Count, len(front))
		for i := range front[:n] {
			t := &front[i]
			deadline := c.now.Add(s.grace)
			t.CalledAt, t.Counter, t.Deadline = &c.now, req.Counter, &deadline
			data, _ := json.Marshal(map[string]any{"counter": req.Counter})
			c.move(t, TicketServing, AuditCalled, NotifyTurnCalled, data)
			res.Called = append(res.Called, *t)
			inst.NowServing = max(inst.NowServing, t.Number)
			inst.RecentCalls = append([]Call{{Number: t.Number, Counter: req.Counter, CalledAt: c.now}}, inst.RecentCalls...)
		}
		if n > 0 {
			inst.WaitingCount -= int64(n)
			if len(inst.RecentCalls) > recentCallsKept {
				inst.RecentCalls = inst.RecentCalls[:recentCallsKept]
			}
			inst.observeCalls(n, c.now)
			c.promote(front[n:])
		}
		res.Institution = inst
		if c.ch.empty() {
			return Changes{}, nil, nil
		}
		s.bump(&inst, c.now)
		res.Institution = inst
		c.ch.Institution = &inst
		return c.ch, c.trans, nil
	})
	if err != nil {
		return AdvanceResult{}, err
	}
	res.Institution.estimate()
	for _, list := range [][]Ticket{res.Called, res.Served, res.Expired} {
		for i := range list {
			list[i].decorate(&res.Institution, 0)
		}
	}
	return res, nil
}

// settleServing expires serving tickets past their deadline and, when serve
// is set, marks checked-in serving tickets served.
func (s *Service) settleServing(ctx context.Context, tx Tx, c *changeSet, serve bool, res *AdvanceResult) error {
	serving, err := tx.Serving(ctx)
	if err != nil {
		return err
	}
	for i := range serving {
		t := &serving[i]
		switch {
		case serve && t.CheckedInAt != nil:
			t.CompletedAt, t.Deadline = &c.now, nil
			c.move(t, TicketServed, AuditServed, NotifyCompleted, nil)
			res.Served = append(res.Served, *t)
		case t.CheckedInAt == nil && t.Deadline != nil && !t.Deadline.After(c.now):
			t.CompletedAt, t.Deadline = &c.now, nil
			c.move(t, TicketExpired, AuditExpired, NotifyExpired, nil)
			res.Expired = append(res.Expired, *t)
		}
	}
	return nil
}
