package queue

import (
	"slices"
	"time"
)

// The calling order, in one place: who is called next, and how many will be
// called before a waiting ticket. Advance, particular calls, cancels,
// priority changes, people_ahead and position here and in the live hub all
// come down to this file.
//
// Within a line (service), tickets are ordered by place, then number. Each
// line is two lanes, regular and priority; while both have tickets, at most
// run priority tickets are called in a row before the regular one with the
// earliest place, the streak counting the line's priority calls since its
// last regular call. With one lane empty, the other is called in place
// order. With run 0 the office has no priority lane: every ticket is
// regular. Across lines, the next call is the ticket each line would call
// next with the earliest place. A particular call or a cancel takes a ticket
// out without touching the streak.

// Before reports whether a comes before b in their lane: by place, then by
// number.
func Before(aPlace time.Time, aNumber int64, bPlace time.Time, bNumber int64) bool {
	if c := aPlace.Compare(bPlace); c != 0 {
		return c < 0
	}
	return aNumber < bNumber
}

// callPriority reports whether a line with these lanes calls from its
// priority lane next.
func callPriority(run, streak int, regular, priority int64) bool {
	return priority > 0 && (regular == 0 || streak < run)
}

// PeopleAhead is how many tickets of its line will be called before a
// waiting ticket if nobody joins and every counter calls from its line: the
// ticket is at index (0-based) of its lane, which is the priority lane when
// priority is set, and regular and priority tickets wait in the line, the
// streak being streak. With run 0 there is one lane and index is the
// ticket's rank in the whole line.
func PeopleAhead(run, streak int, regular, priority int64, isPriority bool, index int64) int64 {
	if run <= 0 {
		return index
	}
	gap := int64(max(0, run-streak)) // priority calls before the next regular one
	if !isPriority {
		return index + min(priority, gap+index*int64(run))
	}
	if index < gap {
		return index
	}
	return index + min(regular, 1+(index-gap)/int64(run))
}

// Order is the calling order of an institution's lines as far as an
// operation needs it: the front of each lane (read under the institution's
// lock) and the lanes' full lengths and the lines' streaks (kept in the
// institution's state).
type Order struct {
	run   int
	codes []string // the institution's lines, in display order
	lines map[string]*orderLine
}

type orderLine struct {
	streak     int
	reg, pri   []Ticket // the front of each lane, in place order
	nReg, nPri int64    // how many wait in each lane in all
}

// NewOrder builds the order of inst's lines from front: for each line
// involved, at least the first tickets of each lane in place order (as
// Tx.Front reads them), or every waiting ticket.
func NewOrder(inst *Institution, front []Ticket) *Order {
	o := &Order{run: inst.PriorityRun, lines: map[string]*orderLine{}}
	for _, l := range inst.Services {
		o.codes = append(o.codes, l.Code)
		ol := &orderLine{streak: l.Streak, nReg: l.WaitingCount - l.WaitingPriority, nPri: l.WaitingPriority}
		if o.run <= 0 {
			ol.nReg, ol.nPri = l.WaitingCount, 0
		}
		o.lines[l.Code] = ol
	}
	for _, t := range front {
		if l := o.lines[t.Service]; l != nil {
			lane := o.lane(l, &t)
			*lane = append(*lane, t)
		}
	}
	for _, l := range o.lines {
		sortLane(l.reg)
		sortLane(l.pri)
	}
	return o
}

func sortLane(lane []Ticket) {
	slices.SortFunc(lane, func(a, b Ticket) int {
		if Before(a.Place, a.Number, b.Place, b.Number) {
			return -1
		}
		if Before(b.Place, b.Number, a.Place, a.Number) {
			return 1
		}
		return 0
	})
}

// IsPriority reports whether t waits in a priority lane under run.
func IsPriority(run int, t *Ticket) bool { return run > 0 && t.Priority != nil }

func (o *Order) lane(l *orderLine, t *Ticket) *[]Ticket {
	if IsPriority(o.run, t) {
		return &l.pri
	}
	return &l.reg
}

// head is the ticket line l calls next.
func (o *Order) head(l *orderLine) (*Ticket, bool) {
	if callPriority(o.run, l.streak, l.nReg, l.nPri) {
		if len(l.pri) == 0 {
			return nil, false // beyond what was read: never for a correct front
		}
		return &l.pri[0], true
	}
	if l.nReg == 0 || len(l.reg) == 0 {
		return nil, false
	}
	return &l.reg[0], false
}

// Next takes the next ticket to call from the lines codes (every line when
// nil): the head of each line with the earliest place. It reports false
// when nobody waits there.
func (o *Order) Next(codes []string) (Ticket, bool) {
	if codes == nil {
		codes = o.codes
	}
	var best *Ticket
	var bestLine *orderLine
	var bestPri bool
	for _, code := range codes {
		l := o.lines[code]
		if l == nil {
			continue
		}
		t, pri := o.head(l)
		if t == nil {
			continue
		}
		if best == nil || Before(t.Place, t.Number, best.Place, best.Number) {
			best, bestLine, bestPri = t, l, pri
		}
	}
	if best == nil {
		return Ticket{}, false
	}
	t := *best
	if bestPri {
		bestLine.pri = bestLine.pri[1:]
		bestLine.nPri--
		bestLine.streak++
	} else {
		bestLine.reg = bestLine.reg[1:]
		bestLine.nReg--
		bestLine.streak = 0
	}
	return t, true
}

// Remove takes t out of the order (a particular call, a cancel), leaving
// the streak alone.
func (o *Order) Remove(t *Ticket) {
	l := o.lines[t.Service]
	if l == nil {
		return
	}
	lane := o.lane(l, t)
	if i := slices.IndexFunc(*lane, func(x Ticket) bool { return x.ID == t.ID }); i >= 0 {
		*lane = slices.Delete(*lane, i, i+1)
	}
	if IsPriority(o.run, t) {
		l.nPri--
	} else {
		l.nReg--
	}
}

// Add puts a waiting t into the order, at its place.
func (o *Order) Add(t Ticket) {
	l := o.lines[t.Service]
	if l == nil {
		return
	}
	lane := o.lane(l, &t)
	n := &l.nReg
	if IsPriority(o.run, &t) {
		n = &l.nPri
	}
	complete := int64(len(*lane)) == *n
	i, _ := slices.BinarySearchFunc(*lane, t, func(x, y Ticket) int {
		if Before(x.Place, x.Number, y.Place, y.Number) {
			return -1
		}
		return 1
	})
	// A ticket past the end of a lane read only in part is beyond the front.
	if i < len(*lane) || complete {
		*lane = slices.Insert(*lane, i, t)
	}
	*n++
}

// Front returns the first n tickets line code will call, in order.
func (o *Order) Front(code string, n int) []Ticket {
	l := o.lines[code]
	if l == nil {
		return nil
	}
	sim := &Order{run: o.run, codes: []string{code}, lines: map[string]*orderLine{code: {
		streak: l.streak, reg: l.reg, pri: l.pri, nReg: l.nReg, nPri: l.nPri,
	}}}
	var out []Ticket
	for len(out) < n {
		t, ok := sim.Next(nil)
		if !ok {
			break
		}
		out = append(out, t)
	}
	return out
}

// save writes the streaks back into inst's lines.
func (o *Order) save(inst *Institution) {
	for i := range inst.Services {
		if l := o.lines[inst.Services[i].Code]; l != nil {
			inst.Services[i].Streak = l.streak
		}
	}
}

// lineAhead is PeopleAhead for a waiting ticket of inst, given its rank
// (index) in its lane, or in its line when run is 0.
func lineAhead(inst *Institution, t *Ticket, index int64) int64 {
	l := inst.line(t.Service)
	if l == nil {
		return index
	}
	return PeopleAhead(inst.PriorityRun, l.Streak, l.WaitingCount-l.WaitingPriority, l.WaitingPriority, IsPriority(inst.PriorityRun, t), index)
}
