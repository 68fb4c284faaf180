package queue_test

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/queueless/queueless/queue"
)

// countingStore counts the store's reads that a listing makes.
type countingStore struct {
	queue.Store
	reads atomic.Int64
}

func (s *countingStore) WaitingBefore(ctx context.Context, id, number int64) (int64, error) {
	s.reads.Add(1)
	return s.Store.WaitingBefore(ctx, id, number)
}

func (s *countingStore) Tickets(ctx context.Context, id int64, st []queue.TicketStatus, after int64, limit int) ([]queue.Ticket, error) {
	s.reads.Add(1)
	return s.Store.Tickets(ctx, id, st, after, limit)
}

func (s *countingStore) WaitingPlaces(ctx context.Context, id int64) ([]queue.Waiter, error) {
	s.reads.Add(1)
	return s.Store.WaitingPlaces(ctx, id)
}

func (s *countingStore) LaneRank(ctx context.Context, t queue.Ticket, lane bool) (int64, error) {
	s.reads.Add(1)
	return s.Store.LaneRank(ctx, t, lane)
}

func (s *countingStore) WaitingNumbers(ctx context.Context, id int64) ([]int64, error) {
	s.reads.Add(1)
	return s.Store.WaitingNumbers(ctx, id)
}

// TestStaffTicketsQueriesPerPage: the staff list reads the store a fixed
// number of times per page, whatever the statuses asked for and however
// many rows the page has (status=waiting ran one count per row; with
// several services or priority tickets, one rank per row), and every
// people_ahead it shows is the ticket's own.
func TestStaffTicketsQueriesPerPage(t *testing.T) {
	t.Parallel()
	t.Run("one service", func(t *testing.T) { testStaffTicketsQueriesPerPage(t, false) })
	t.Run("several services and priority", func(t *testing.T) { testStaffTicketsQueriesPerPage(t, true) })
}

func testStaffTicketsQueriesPerPage(t *testing.T, lines bool) {
	t.Parallel()
	ctx := context.Background()
	st := &countingStore{Store: queue.NewMemoryStore()}
	svc := queue.NewService(st, queue.Config{})
	inst, err := svc.CreateInstitution(ctx, queue.Fields{Name: "List", Kind: "bank", Status: queue.StatusOpen}, queue.Meta{})
	if err != nil {
		t.Fatal(err)
	}
	codes := []string{"A"}
	if lines {
		codes = []string{"A", "B", "C"}
		specs := []queue.LineSpec{{Code: "A", Name: "Payments"}, {Code: "B", Name: "Registrations"}, {Code: "C", Name: "Releasing"}}
		if _, err := svc.SetServices(ctx, inst.ID, specs, queue.Meta{Actor: "token:admin"}); err != nil {
			t.Fatal(err)
		}
	}
	// Thresholds 1 and 10 in turn: notified tickets fall between waiting
	// ones, so that a list of one status leaves gaps in the ranks. With
	// several services, every fourth ticket is in the priority lane.
	var ids []string
	for i := range 60 {
		threshold := 1
		if i%2 == 1 {
			threshold = 10
		}
		req := queue.JoinRequest{Threshold: threshold}
		if lines {
			req.Service = &codes[i%3]
			if i%4 == 0 {
				p := queue.PriorityPWD
				req.Priority = &p
			}
		}
		res, err := svc.Join(ctx, inst.ID, req, queue.Meta{})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, res.Ticket.ID)
	}
	if lines { // streaks under way: a priority run started in some lines
		c := "1"
		if _, err := svc.Advance(ctx, inst.ID, queue.AdvanceRequest{Count: 4, Counter: &c}, queue.Meta{Actor: "token:1"}); err != nil {
			t.Fatal(err)
		}
	}
	for _, i := range []int{7, 20, 33} { // gaps of cancelled numbers
		if _, err := svc.Cancel(ctx, ids[i], queue.Meta{}); err != nil {
			t.Fatal(err)
		}
	}
	for _, statuses := range [][]queue.TicketStatus{
		{queue.TicketWaiting},
		{queue.TicketNotified},
		{queue.TicketWaiting, queue.TicketNotified},
		{queue.TicketWaiting, queue.TicketCancelled},
	} {
		after, pages, rows := int64(0), 0, 0
		for {
			before := st.reads.Load()
			list, next, err := svc.StaffTickets(ctx, inst.ID, statuses, after, 20)
			if err != nil {
				t.Fatal(err)
			}
			if n := st.reads.Load() - before; n > 3 {
				t.Fatalf("statuses %v: a page of %d rows took %d store reads, want at most 3", statuses, len(list), n)
			}
			for _, s := range list {
				pub, err := svc.Ticket(ctx, s.ID)
				if err != nil {
					t.Fatal(err)
				}
				if got, want := s.PeopleAhead, pub.PeopleAhead; got != want {
					t.Fatalf("statuses %v: ticket %d shows %d ahead, its own view %d", statuses, s.Number, got, want)
				}
			}
			pages++
			rows += len(list)
			if next == nil {
				break
			}
			after = *next
		}
		if rows == 0 {
			t.Fatalf("statuses %v: nothing listed", statuses)
		}
		t.Logf("statuses %v: %d rows in %d pages", statuses, rows, pages)
	}
}
