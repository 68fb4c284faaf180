package queue

import (
	"context"
	"strings"
)

// AdvanceRequest asks to call the next Count tickets at Counter: from
// Service when set, else from the counter's services when it is
// configured, else from every service.
type AdvanceRequest struct {
	Count   int
	Counter *string
	Service *string
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
	if r.Service != nil && !codePattern.MatchString(*r.Service) {
		return Errorf(CodeInvalid, "service must be a service code: 1 to 3 capital letters")
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
		inst.ensureLines()
		c := &changeSet{s: s, now: s.clock(), meta: meta, inst: &inst}
		if err := s.settleServing(ctx, tx, c, true, &res); err != nil {
			return Changes{}, nil, err
		}
		codes := inst.counterLines(req.Counter)
		if req.Service != nil {
			if inst.line(*req.Service) == nil {
				return Changes{}, nil, Errorf(CodeNotFound, "institution %d has no service %s", id, *req.Service)
			}
			codes = []string{*req.Service}
		}
		front, err := tx.Front(ctx, codes, req.Count+MaxThreshold+1)
		if err != nil {
			return Changes{}, nil, err
		}
		o := NewOrder(&inst, front)
		touched := map[string]bool{}
		for range req.Count {
			t, ok := o.Next(codes)
			if !ok {
				break
			}
			reason := ReasonInOrder
			if IsPriority(inst.PriorityRun, &t) {
				reason = ReasonPriority
			}
			c.call(&t, req.Counter, reason, nil)
			res.Called = append(res.Called, t)
			touched[t.Service] = true
		}
		if n := len(res.Called); n > 0 {
			o.save(&inst)
			inst.observeCalls(n, c.now)
			for _, l := range inst.Services {
				if touched[l.Code] {
					c.promoteLine(o, l.Code)
				}
			}
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
	res.Institution.estimate(s.clock())
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
