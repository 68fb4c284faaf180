package queue

import (
	"context"
	"slices"
	"time"

	"github.com/google/uuid"
)

// JoinRequest asks for a ticket.
type JoinRequest struct {
	Phone          *string
	Threshold      int // 0: the default
	IdempotencyKey string
	// Service is the code of the line to join; nil: the first open one.
	Service  *string
	Priority *Priority
	// Source is phone (the default) or staff: a walk-in that staff take,
	// allowed past a paused service or institution (not a closed one).
	Source string
}

// JoinResult is a join's outcome; Replayed is true when an earlier join with
// the same idempotency key issued the ticket.
type JoinResult struct {
	Ticket   Ticket
	Replayed bool
}

// Validate checks a join request and applies defaults.
func (r *JoinRequest) Validate() error {
	if r.Phone != nil && !ValidPhone(*r.Phone) {
		return Errorf(CodeInvalid, "phone must be 11 digits starting with 0, like 09171234567")
	}
	if r.Threshold == 0 {
		r.Threshold = DefaultThreshold
	}
	if r.Threshold < MinThreshold || r.Threshold > MaxThreshold {
		return Errorf(CodeInvalid, "near_turn_threshold must be an integer from %d to %d", MinThreshold, MaxThreshold)
	}
	if r.Service != nil && !codePattern.MatchString(*r.Service) {
		return Errorf(CodeInvalid, "service must be a service code: 1 to 3 capital letters")
	}
	if r.Priority != nil {
		if _, err := ParsePriority(string(*r.Priority)); err != nil {
			return err
		}
	}
	switch r.Source {
	case "":
		r.Source = SourcePhone
	case SourcePhone, SourceStaff:
	default:
		return Errorf(CodeInvalid, "source must be phone or staff")
	}
	if r.IdempotencyKey != "" && !validKey(r.IdempotencyKey) {
		return Errorf(CodeInvalid, "Idempotency-Key must be 1 to 64 printable ASCII characters")
	}
	return nil
}

func validKey(k string) bool {
	if len(k) < 1 || len(k) > 64 {
		return false
	}
	for i := 0; i < len(k); i++ {
		if k[i] < 0x20 || k[i] > 0x7e { // printable ASCII, the space included
			return false
		}
	}
	return true
}

// IdempotencyWindow is how long a join's idempotency key is remembered.
const IdempotencyWindow = 24 * time.Hour

// Join issues a ticket in institution id.
func (s *Service) Join(ctx context.Context, id int64, req JoinRequest, meta Meta) (JoinResult, error) {
	if err := req.Validate(); err != nil {
		return JoinResult{}, err
	}
	if s.batcher != nil {
		return s.batcher.join(ctx, id, req, meta)
	}
	res := s.JoinBatch(ctx, id, []JoinRequest{req}, []Meta{meta})
	return res[0].JoinResult, res[0].Err
}

// BatchResult is one request's outcome in a batch of joins.
type BatchResult struct {
	JoinResult
	Err error
}

// JoinBatch issues tickets for validated requests in one transaction: one
// lock, consecutive numbers. Each request gets its own outcome; a failure of
// the transaction fails them all.
func (s *Service) JoinBatch(ctx context.Context, id int64, reqs []JoinRequest, metas []Meta) []BatchResult {
	out := make([]BatchResult, len(reqs))
	// lookUp's reads go with the locked read of the institution.
	_, err := s.update(withLookAhead(ctx, reqs), id, nil, func(ctx context.Context, tx Tx) (Changes, []Transition, error) {
		for i := range out {
			out[i] = BatchResult{}
		}
		inst := tx.Institution()
		now := s.clock()
		inst.ensureLines()
		c := &changeSet{s: s, now: now, inst: &inst, meta: Meta{Actor: ActorSystem}}
		// The office day: a draw whose opening has come is done before any
		// join, so that joins after the opening come after it; a join in
		// the pre-queue window is held (day_join.go).
		od, err := c.joinDay(ctx, tx)
		if err != nil {
			return Changes{}, nil, err
		}
		inst.estimateLinesFor(now, len(reqs)) // the joins' own estimates
		day := LocalDay(&inst, now)
		// Places follow issue order even when instances' clocks disagree.
		place := maxTime(now, inst.UpdatedAt)
		issued, held, err := lookUp(ctx, tx, &inst, reqs, now.Add(-IdempotencyWindow), od.window == JoinsHeld)
		if err != nil {
			return Changes{}, nil, err
		}
		keys := map[string]int{} // key -> index of the request that issued it in this batch
		for i, req := range reqs {
			c.meta = metas[i]
			if req.IdempotencyKey != "" {
				if j, ok := keys[req.IdempotencyKey]; ok {
					out[i] = out[j]
					out[i].Replayed = out[j].Err == nil
					continue
				}
				if tid, ok := issued[req.IdempotencyKey]; ok {
					t, err := tx.Ticket(ctx, tid)
					if err != nil {
						return Changes{}, nil, err
					}
					out[i] = BatchResult{JoinResult: JoinResult{Ticket: t, Replayed: true}}
					continue
				}
			}
			if err := od.admit(&inst, req, held, now); err != nil {
				out[i].Err = err
				if req.IdempotencyKey != "" {
					keys[req.IdempotencyKey] = i
				}
				continue
			}
			if od.holds(&inst, req) {
				out[i] = BatchResult{JoinResult: JoinResult{Ticket: c.hold(id, req, place, od.date)}}
				if req.Phone != nil {
					held[*req.Phone] = true
				}
				if req.IdempotencyKey != "" {
					keys[req.IdempotencyKey] = i
				}
				continue
			}
			line := inst.joinLine(req)
			index := line.WaitingCount - line.WaitingPriority // the new ticket's rank in its lane
			switch {
			case inst.PriorityRun == 0:
				index = line.WaitingCount
			case req.Priority != nil:
				index = line.WaitingPriority
			}
			inst.LastIssued++
			t := Ticket{ID: uuid.NewString(), InstitutionID: id, Number: inst.LastIssued, Status: TicketWaiting,
				NearTurnThreshold: req.Threshold, Phone: req.Phone, IssuedAt: now, UpdatedAt: now,
				Service: line.Code, Label: line.nextLabel(day), Priority: req.Priority, Source: req.Source, Place: place}
			ahead := lineAhead(&inst, &t, index)
			inst.WaitingCount++
			line.WaitingCount++
			if t.Priority != nil {
				line.WaitingPriority++
			}
			c.ch.Audit = append(c.ch.Audit, s.audit(now, AuditJoined, &t, c.meta, nil))
			c.trans = append(c.trans, Transition{Ticket: t})
			if ahead <= int64(t.NearTurnThreshold) {
				t.Status = TicketNotified
				c.ch.Audit = append(c.ch.Audit, s.audit(now, AuditNotified, &t, c.meta, nil))
				c.ch.Notifications = append(c.ch.Notifications, notification(now, &t, NotifyNearTurn))
				c.trans[len(c.trans)-1].Ticket = t
			}
			t.EstimateAtJoin = joinEstimate(&inst, t, ahead)
			c.ch.Inserted = append(c.ch.Inserted, t)
			if req.Phone != nil {
				held[*req.Phone] = true
			}
			if req.IdempotencyKey != "" {
				keys[req.IdempotencyKey] = i
				c.ch.IdempotencyKeys = append(c.ch.IdempotencyKeys, IdempotencyKey{InstitutionID: id, Key: req.IdempotencyKey, TicketID: t.ID, CreatedAt: now})
			}
			t.decorate(&inst, ahead)
			out[i] = BatchResult{JoinResult: JoinResult{Ticket: t}}
		}
		if len(c.ch.Inserted) == 0 && od.drawn == 0 {
			return Changes{}, nil, nil
		}
		s.bump(&inst, now)
		c.ch.Institution = &inst
		return c.ch, c.trans, nil
	})
	for i := range out {
		if err != nil {
			out[i] = BatchResult{Err: err}
			continue
		}
		if out[i].Replayed && out[i].Err == nil {
			// A replayed ticket is shown as it is now.
			t, derr := s.Ticket(ctx, out[i].Ticket.ID)
			if derr != nil {
				out[i].Err = derr
				continue
			}
			out[i].Ticket = t
		}
	}
	return out
}

// lookUp reads what the checks of a batch need from the tickets issued
// before it, in one query each for the whole batch rather than one per join:
// the tickets earlier joins issued for its idempotency keys, and which of its
// phones hold an active ticket. Only transactions holding the institution's
// lock issue tickets and record keys, so both stay true until the batch
// commits.
func lookUp(ctx context.Context, tx Tx, inst *Institution, reqs []JoinRequest, since time.Time, prequeue bool) (issued map[string]string, held map[string]bool, err error) {
	var keys, phones []string
	for _, req := range reqs {
		if req.IdempotencyKey != "" {
			keys = append(keys, req.IdempotencyKey)
		}
		if req.Phone != nil {
			phones = append(phones, *req.Phone)
		}
	}
	issued, held = map[string]string{}, map[string]bool{}
	if keys = distinct(keys); len(keys) > 0 {
		if issued, err = tx.IdempotentTickets(ctx, keys, since); err != nil {
			return nil, nil, err
		}
	}
	// admit refuses every join of an institution that is not open before it
	// looks at the phone (but in a pre-queue window a closed one holds them).
	if phones = distinct(phones); len(phones) > 0 && (inst.Status != StatusClosed || prequeue) {
		if held, err = tx.ActivePhones(ctx, phones); err != nil {
			return nil, nil, err
		}
	}
	if held == nil {
		held = map[string]bool{} // the batch adds its own phones
	}
	return issued, held, nil
}

// distinct sorts list and drops repeats, in place.
func distinct(list []string) []string {
	slices.Sort(list)
	return slices.Compact(list)
}

// admit checks whether req may join inst now; held holds the phones with an
// active ticket, in the table or issued earlier in this batch.
func admit(inst *Institution, req JoinRequest, held map[string]bool, now time.Time) error {
	walkIn := req.Source == SourceStaff
	if inst.Status != StatusOpen && !(walkIn && inst.Status == StatusPaused) {
		return Errorf(CodeInstitutionClosed, "%s is %s and not taking tickets", inst.Name, inst.Status)
	}
	line := inst.joinLine(req)
	if line == nil {
		return Errorf(CodeNotFound, "%s has no service %s", inst.Name, *req.Service)
	}
	if line.Status != StatusOpen && !(walkIn && line.Status == StatusPaused) {
		return Errorf(CodeInstitutionClosed, "service %s (%s) at %s is %s and not taking tickets", line.Code, line.Name, inst.Name, line.Status)
	}
	if req.Priority != nil && inst.PriorityRun == 0 {
		return Errorf(CodeInvalid, "priority: %s has no priority lane", inst.Name)
	}
	if req.Phone != nil && held[*req.Phone] {
		return Errorf(CodeDuplicateTicket, "this phone already holds an active ticket at %s", inst.Name)
	}
	if inst.Capacity != nil && inst.WaitingCount >= *inst.Capacity {
		return Errorf(CodeQueueFull, "the queue at %s is full (%d waiting)", inst.Name, inst.WaitingCount)
	}
	if q := line.DailyQuota; q != nil && line.issuedToday(LocalDay(inst, now)) >= *q {
		return Errorf(CodeQueueFull, "service %s at %s has issued its %d tickets for today", line.Code, inst.Name, *q)
	}
	return nil
}

// joinLine is the line req joins: the one it names, or the default; nil
// when it names none of inst's.
func (inst *Institution) joinLine(req JoinRequest) *Line {
	if req.Service == nil {
		return inst.defaultLine()
	}
	return inst.line(*req.Service)
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
