package hub

import (
	"slices"
	"time"

	"github.com/queueless/queueless/queue"
)

// waitingSet is an institution's waiting (or notified) tickets, per
// service (line) and lane (regular, priority), each lane ordered by place
// and then number as queue's calling order orders them. A ticket's
// people_ahead is queue.PeopleAhead of its rank in its lane; the hub
// decides no order of its own.
type waitingSet struct {
	lanes map[laneKey][]queue.Waiter
	byID  map[string]queue.Waiter
}

type laneKey struct {
	service  string
	priority bool
}

func waiterCmp(a, b queue.Waiter) int {
	if queue.Before(a.Place, a.Number, b.Place, b.Number) {
		return -1
	}
	if queue.Before(b.Place, b.Number, a.Place, a.Number) {
		return 1
	}
	return 0
}

// reset replaces the set with list, in any order.
func (w *waitingSet) reset(list []queue.Waiter) {
	w.lanes, w.byID = map[laneKey][]queue.Waiter{}, map[string]queue.Waiter{}
	for _, x := range list {
		w.add(x)
	}
}

// add inserts x, or moves it when it is present (a priority change).
func (w *waitingSet) add(x queue.Waiter) {
	if w.byID == nil {
		w.reset(nil)
	}
	if old, ok := w.byID[x.ID]; ok {
		if old == x {
			return
		}
		w.remove(x.ID)
	}
	k := laneKey{x.Service, x.Priority}
	lane := w.lanes[k]
	if n := len(lane); n == 0 || waiterCmp(lane[n-1], x) < 0 {
		lane = append(lane, x) // joins come last
	} else {
		i, _ := slices.BinarySearchFunc(lane, x, waiterCmp)
		lane = slices.Insert(lane, i, x)
	}
	w.lanes[k] = lane
	w.byID[x.ID] = x
}

// remove deletes ticket id; removing an absent ticket changes nothing.
func (w *waitingSet) remove(id string) {
	x, ok := w.byID[id]
	if !ok {
		return
	}
	delete(w.byID, id)
	k := laneKey{x.Service, x.Priority}
	lane := w.lanes[k]
	if i, found := slices.BinarySearchFunc(lane, x, waiterCmp); found {
		w.lanes[k] = slices.Delete(lane, i, i+1)
	}
}

// rank counts the tickets before x in its lane and in its line's other lane.
func (w *waitingSet) rank(x queue.Waiter) (own, other int64) {
	i, _ := slices.BinarySearchFunc(w.lanes[laneKey{x.Service, x.Priority}], x, waiterCmp)
	j, _ := slices.BinarySearchFunc(w.lanes[laneKey{x.Service, !x.Priority}], x, waiterCmp)
	return int64(i), int64(j)
}

// ahead is the people_ahead of waiting ticket id in inst, by the calling
// order (queue.PeopleAhead); 0 for a ticket not in the set.
func (w *waitingSet) ahead(id string, inst *queue.Institution) int64 {
	x, ok := w.byID[id]
	if !ok {
		return 0
	}
	own, other := w.rank(x)
	run, streak := inst.PriorityRun, 0
	for _, l := range inst.Services {
		if l.Code == x.Service {
			streak = l.Streak
		}
	}
	if run <= 0 {
		return own + other // one lane: the rank in the whole line
	}
	reg := int64(len(w.lanes[laneKey{x.Service, false}]))
	pri := int64(len(w.lanes[laneKey{x.Service, true}]))
	return queue.PeopleAhead(run, streak, reg, pri, x.Priority, own)
}

func (w *waitingSet) len() int { return len(w.byID) }

// waiterOf is t as the waiting set keeps it, at place.
func waiterOf(t *queue.Ticket, place time.Time) queue.Waiter {
	return queue.Waiter{ID: t.ID, Number: t.Number, Service: t.Service, Place: place, Priority: t.Priority != nil}
}
