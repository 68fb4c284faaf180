package queue

import (
	"context"
	"encoding/json"

	"github.com/google/uuid"
)

// ActorSync is the actor of changes that follow an institution's own queue
// system (its link).
const ActorSync = "system:sync"

// MaxSyncStep is the most numbers one sync may issue or call. An outside
// queue that jumps further is taken for corrupt, not followed: a bad byte
// in a body must not make a million tickets.
const MaxSyncStep = 10_000

// SyncResult is what following an outside queue once did.
type SyncResult struct {
	Institution Institution
	// Issued are the numbers the outside system issued that QueueLess had
	// not: walk-in tickets, now in QueueLess's queue too.
	Issued  []Ticket
	Called  []Ticket
	Served  []Ticket
	Expired []Ticket
	// Changed is false when QueueLess was already there: nothing was written.
	Changed bool
}

// SyncCalls brings institution id up to the outside queue q, in one
// transaction and one event. Outside and QueueLess numbers are the same
// numbers (docs/API-EXTENSIONS.md):
//
//   - every number up to q.LastIssued that QueueLess has not issued becomes
//     a waiting ticket, without a phone (someone took a paper ticket);
//   - every waiting or notified ticket numbered up to q.NowServing is called,
//     in number order, at the counter q.Calls names for it, if any; as with
//     an advance, checked-in serving tickets are served first;
//   - now_serving becomes q.NowServing when that is higher.
//
// It only ever moves forward: a q behind QueueLess (a replayed or reordered
// push, a stale read, an outside clock or counter gone back) changes
// nothing, and no ticket is called twice. Repeating a q changes nothing.
func (s *Service) SyncCalls(ctx context.Context, id int64, q OutsideQueue, meta Meta) (SyncResult, error) {
	if q.NowServing < 0 || q.LastIssued < 0 {
		return SyncResult{}, Errorf(CodeInvalid, "now_serving and last_issued must not be negative")
	}
	if q.NowServing > q.LastIssued {
		return SyncResult{}, Errorf(CodeInvalid, "now_serving (%d) is above last_issued (%d)", q.NowServing, q.LastIssued)
	}
	if meta.Actor == "" {
		meta.Actor = ActorSync
	}
	counters := map[int64]*string{}
	for _, c := range q.Calls {
		if c.Counter != nil && checkText("counter", *c.Counter, 1, 16) == nil {
			counters[c.Number] = c.Counter
		}
	}
	var res SyncResult
	_, err := s.update(ctx, id, nil, func(ctx context.Context, tx Tx) (Changes, []Transition, error) {
		res = SyncResult{Issued: []Ticket{}, Called: []Ticket{}, Served: []Ticket{}, Expired: []Ticket{}}
		inst := tx.Institution()
		res.Institution = inst
		if q.LastIssued-inst.LastIssued > MaxSyncStep || q.NowServing-inst.NowServing > MaxSyncStep {
			return Changes{}, nil, Errorf(CodeInvalid, "the outside queue is more than %d numbers ahead of institution %d (now serving %d, last issued %d); refusing to follow it",
				MaxSyncStep, id, q.NowServing, q.LastIssued)
		}
		inst.ensureLines()
		c := &changeSet{s: s, now: s.clock(), meta: meta, inst: &inst}
		line := inst.defaultLine()
		day := LocalDay(&inst, c.now)
		place := maxTime(c.now, inst.UpdatedAt)
		// Waiting tickets are numbered above now_serving (every call goes
		// in number order), so these are all those the outside has called,
		// and then the next few, whose people-ahead this changes.
		window := int(max(q.NowServing-inst.NowServing, 0)) + MaxThreshold + 1
		var front []Ticket
		if q.NowServing > inst.NowServing || q.LastIssued > inst.LastIssued {
			var err error
			if front, err = tx.Waiting(ctx, window); err != nil {
				return Changes{}, nil, err
			}
		}
		// Walk-ins come after every ticket QueueLess has issued.
		for n := inst.LastIssued + 1; n <= q.LastIssued; n++ {
			t := Ticket{ID: uuid.NewString(), InstitutionID: id, Number: n, Status: TicketWaiting,
				NearTurnThreshold: DefaultThreshold, IssuedAt: c.now, UpdatedAt: c.now,
				Service: line.Code, Label: line.nextLabel(day), Source: SourceSync, Place: place}
			line.WaitingCount++
			c.ch.Audit = append(c.ch.Audit, s.audit(c.now, AuditJoined, &t, meta, json.RawMessage(`{"source":"outside"}`)))
			c.trans = append(c.trans, Transition{Ticket: t})
			c.ch.Inserted = append(c.ch.Inserted, t)
			res.Issued = append(res.Issued, t)
			if len(front) < window {
				front = append(front, t)
			}
			inst.LastIssued = n
			inst.WaitingCount++
		}
		due := 0
		for due < len(front) && front[due].Number <= q.NowServing {
			due++
		}
		if due > 0 {
			var settled AdvanceResult
			if err := s.settleServing(ctx, tx, c, true, &settled); err != nil {
				return Changes{}, nil, err
			}
			res.Served = append(res.Served, settled.Served...)
			res.Expired = append(res.Expired, settled.Expired...)
		}
		for i := range front[:due] {
			t := &front[i]
			c.call(t, counters[t.Number], ReasonInOrder, map[string]any{"source": "outside"})
			res.Called = append(res.Called, *t)
		}
		if due > 0 {
			inst.observeCalls(due, c.now)
		}
		// The outside called q.NowServing even when QueueLess's ticket of
		// that number was cancelled: now_serving says so either way.
		inst.NowServing = max(inst.NowServing, q.NowServing)
		if due > 0 || len(c.ch.Inserted) > 0 {
			c.promote(front[due:])
		}
		if c.ch.empty() && inst.NowServing == res.Institution.NowServing {
			return Changes{}, nil, nil
		}
		s.bump(&inst, c.now)
		res.Institution, res.Changed = inst, true
		c.ch.Institution = &inst
		return c.ch, c.trans, nil
	})
	if err != nil {
		return SyncResult{}, err
	}
	res.Institution.estimate(s.clock())
	for _, list := range [][]Ticket{res.Called, res.Served, res.Expired} {
		for i := range list {
			list[i].decorate(&res.Institution, 0)
		}
	}
	return res, nil
}

// Audit kinds of link changes.
const (
	AuditLinkSet     = "link.set"
	AuditLinkDeleted = "link.deleted"
)

// AuditLink appends a link change of institution id to its audit trail. The
// institution's state, and so its version, does not change.
func (s *Service) AuditLink(ctx context.Context, id int64, kind string, data json.RawMessage, meta Meta) error {
	_, err := s.update(ctx, id, nil, func(ctx context.Context, tx Tx) (Changes, []Transition, error) {
		return Changes{Audit: []AuditEvent{s.audit(s.clock(), kind, nil, meta, data)}}, nil, nil
	})
	return err
}
