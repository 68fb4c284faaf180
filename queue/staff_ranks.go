package queue

import (
	"context"
	"slices"
)

// orderRanks returns the people ahead of each listed ticket (0 for those
// not waiting or notified) under the calling order (order.go) with several
// lines or priority tickets, in one read whatever the page's size: the
// institution's waiting set (Store.WaitingPlaces) is loaded once and each
// listed ticket is ranked in its lane in memory, as LaneRank would rank
// it, then turned into people ahead by its line's lanes and streak.
func (s *Service) orderRanks(ctx context.Context, inst *Institution, list []Ticket) ([]int64, error) {
	out := make([]int64, len(list))
	if !slices.ContainsFunc(list, func(t Ticket) bool { return t.Status.Waiting() }) {
		return out, nil
	}
	waiting, err := s.store.WaitingPlaces(ctx, inst.ID)
	if err != nil {
		return nil, err
	}
	lanes := laneSet(inst.PriorityRun > 0, waiting)
	for i := range list {
		t := &list[i]
		if t.Status.Waiting() {
			out[i] = lineAhead(inst, t, lanes.rank(t))
		}
	}
	return out, nil
}

// waiterLanes are an institution's waiting tickets per line and lane (one
// lane per line when the office has no priority lane), each in calling
// order: by place, then number.
type waiterLanes struct {
	split bool
	lanes map[waiterLane][]Waiter
}

type waiterLane struct {
	service  string
	priority bool
}

func laneSet(split bool, waiting []Waiter) waiterLanes {
	w := waiterLanes{split: split, lanes: map[waiterLane][]Waiter{}}
	for _, x := range waiting {
		k := waiterLane{x.Service, split && x.Priority}
		w.lanes[k] = append(w.lanes[k], x)
	}
	for _, lane := range w.lanes {
		slices.SortFunc(lane, compareWaiters)
	}
	return w
}

func compareWaiters(a, b Waiter) int {
	switch {
	case Before(a.Place, a.Number, b.Place, b.Number):
		return -1
	case Before(b.Place, b.Number, a.Place, a.Number):
		return 1
	}
	return 0
}

// rank counts the tickets before t in its lane: LaneRank, from the set.
func (w waiterLanes) rank(t *Ticket) int64 {
	lane := w.lanes[waiterLane{t.Service, w.split && t.Priority != nil}]
	i, _ := slices.BinarySearchFunc(lane, Waiter{Number: t.Number, Place: placeOf(t)}, compareWaiters)
	return int64(i)
}
