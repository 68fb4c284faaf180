package hub_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/queueless/queueless/queue"
)

// linesStack is the set-up of the tests of calls and estimates across
// instances: two instances on one store; an institution with services A
// (Payments) and B (Releasing); tickets joined through instance B, the
// i-th to services[i%len(services)], in the senior lane when senior(i);
// a board on instance A with its snapshot; and a phone on instance A
// following each ticket from the phonesFrom-th on.
type linesStack struct {
	*stack
	inst    queue.Institution
	b       *queue.Service // instance B's service: where the changes are made
	tickets []queue.Ticket
	board   *client
	phones  map[string]*client // by ticket id
}

func newLinesStack(t *testing.T, joins int, services []string, senior func(i int) bool, phonesFrom int) *linesStack {
	t.Helper()
	s := newStack(t, 2, nil)
	ctx := context.Background()
	l := &linesStack{stack: s, inst: s.institution(), b: s.inst[1].svc, phones: map[string]*client{}}
	if _, err := l.b.SetServices(ctx, l.inst.ID, []queue.LineSpec{{Code: "A", Name: "Payments"}, {Code: "B", Name: "Releasing"}}, queue.Meta{Actor: "test"}); err != nil {
		t.Fatal(err)
	}
	for i := range joins {
		req := queue.JoinRequest{Service: ptr(services[i%len(services)])}
		if senior(i) {
			req.Priority = ptr(queue.PrioritySenior)
		}
		res, err := l.b.Join(ctx, l.inst.ID, req, queue.Meta{Actor: queue.ActorCitizen})
		if err != nil {
			t.Fatal(err)
		}
		l.tickets = append(l.tickets, res.Ticket)
	}
	l.board = s.dial(0, instPath(l.inst.ID))
	l.board.waitFor("snapshot", 10*time.Second, func(f liveFrame) bool { return f.Type == "snapshot" })
	for _, tk := range l.tickets[phonesFrom:] {
		l.phones[tk.ID] = s.dial(0, "/ticket/"+tk.ID)
	}
	return l
}

// boardCalls are the call frames board has heard so far, in order.
func boardCalls(t *testing.T, board *client) []callOnBoard {
	t.Helper()
	var got []callOnBoard
	for _, f := range board.all() {
		if f.Type == "call" {
			var c struct{ Call callOnBoard }
			if err := json.Unmarshal([]byte(f.Raw), &c); err != nil {
				t.Fatal(err)
			}
			got = append(got, c.Call)
		}
	}
	return got
}
