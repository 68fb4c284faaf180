package hub_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/queueless/queueless/queue"
)

type callOnBoard struct {
	Number   int64     `json:"number"`
	Label    string    `json:"label"`
	Service  string    `json:"service"`
	Counter  *string   `json:"counter"`
	CalledAt time.Time `json:"called_at"`
	Reason   string    `json:"reason"`
}

// TestBoardHearsEveryCall: a board connected to instance A sees every one
// of 200 calls made through instance B, by advances of 1 to 50 tickets, a
// recall and a particular call among them, each as its own call frame, in
// call order, none missing; and every phone following a waiting ticket
// ends on the people_ahead the API gives.
func TestBoardHearsEveryCall(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	l := newLinesStack(t, 230, []string{"A", "B"}, func(i int) bool { return i%5 == 0 }, 200)
	inst, b, tickets, board, phones := l.inst, l.b, l.tickets, l.board, l.phones

	var want []callOnBoard
	record := func(list ...queue.Ticket) {
		for _, tk := range list {
			want = append(want, callOnBoard{Number: tk.Number, Label: tk.Label, Service: tk.Service, Counter: tk.Counter})
		}
	}
	counter := "4"
	for i, n := range []int{50, 1, 2, 3, 4, 5, 10, 20, 30, 25, 48} {
		res, err := b.Advance(ctx, inst.ID, queue.AdvanceRequest{Count: n, Counter: &counter}, queue.Meta{Actor: "token:1"})
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Called) != n {
			t.Fatalf("advance %d called %d, want %d", i, len(res.Called), n)
		}
		record(res.Called...)
		if i == 3 { // a recall and a particular call, each heard once
			tk, err := b.Recall(ctx, res.Called[0].ID, nil, queue.Meta{Actor: "token:1"})
			if err != nil {
				t.Fatal(err)
			}
			record(tk)
			tk, err = b.CallTicket(ctx, tickets[199].ID, queue.CallRequest{Counter: &counter, Reason: "appointment"}, nil, queue.Meta{Actor: "token:1"})
			if err != nil {
				t.Fatal(err)
			}
			record(tk)
		}
	}
	if len(want) != 200 {
		t.Fatalf("made %d calls, want 200", len(want))
	}
	var got []callOnBoard
	deadline := time.Now().Add(30 * time.Second)
	for len(got) < len(want) && time.Now().Before(deadline) {
		got = boardCalls(t, board)
		time.Sleep(20 * time.Millisecond)
	}
	if len(got) != len(want) {
		t.Fatalf("the board heard %d calls, want %d", len(got), len(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.Number != w.Number || g.Label != w.Label || g.Service != w.Service || *g.Counter != *w.Counter || g.CalledAt.IsZero() || g.Reason == "" {
			t.Fatalf("call %d on the board = %+v, want %+v", i, g, w)
		}
	}
	if r := got[50+1+2+3].Reason; r != "recall" {
		t.Fatalf("the recall's reason = %q", r)
	}
	if r := got[50+1+2+3+1].Reason; r != "appointment" {
		t.Fatalf("the particular call's reason = %q", r)
	}
	for id, p := range phones {
		tk, err := b.Ticket(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		p.waitLast(fmt.Sprintf("ticket %s with %d ahead", tk.Label, tk.PeopleAhead), 10*time.Second, func(f liveFrame) bool {
			return f.Ticket != nil && f.Ticket.Status == tk.Status && f.Ticket.PeopleAhead == tk.PeopleAhead && samePos(f.Ticket.Position, tk.Position)
		})
	}
}

func ptr[T any](v T) *T { return &v }

func samePos(a, b *int64) bool { return a == nil && b == nil || a != nil && b != nil && *a == *b }

// TestBoardGetsCallsLostInAGap: calls whose event never reached the room
// (here: made by a service that publishes nothing) are read back from the
// audit trail when the room reloads, and the board hears every call once,
// in order.
func TestBoardGetsCallsLostInAGap(t *testing.T) {
	t.Parallel()
	s := newStack(t, 1, nil)
	ctx := context.Background()
	inst := s.institution()
	wired := s.inst[0].svc
	silent := queue.NewService(s.store, queue.Config{}) // its events reach no hub
	for range 8 {
		s.join(0, inst.ID)
	}
	board := s.dial(0, instPath(inst.ID))
	board.waitFor("snapshot", 10*time.Second, func(f liveFrame) bool { return f.Type == "snapshot" })
	var want []int64
	for _, step := range []struct {
		svc   *queue.Service
		count int
	}{{wired, 1}, {silent, 3}, {wired, 2}, {silent, 1}, {wired, 1}} {
		res, err := step.svc.Advance(ctx, inst.ID, queue.AdvanceRequest{Count: step.count}, queue.Meta{Actor: "token:1"})
		if err != nil {
			t.Fatal(err)
		}
		for _, tk := range res.Called {
			want = append(want, tk.Number)
		}
	}
	var got []int64
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		got = got[:0]
		for _, c := range boardCalls(t, board) {
			got = append(got, c.Number)
		}
		if len(got) >= len(want) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("the board heard calls %v, want %v", got, want)
	}
}
