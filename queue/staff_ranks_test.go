package queue

import "testing"

// TestContractStaffListFollowsTheOrder: with several services, priority
// lanes, a priority run under way, a defer and a priority change, every
// row of the staff list shows the people_ahead and position the ticket's
// own view gives, on both stores.
func TestContractStaffListFollowsTheOrder(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, h *harness) {
		inst := h.institution(Fields{})
		specs := []LineSpec{{Code: "A", Name: "Payments"}, {Code: "B", Name: "Registrations"}, {Code: "C", Name: "Releasing"}}
		if _, err := h.svc.SetServices(h.ctx, inst.ID, specs, Meta{Actor: "token:admin"}); err != nil {
			t.Fatal(err)
		}
		codes := []string{"A", "B", "C", "A"}
		var ids []string
		for i := range 40 {
			req := JoinRequest{Service: &codes[i%4]}
			if i%3 == 0 {
				p := PrioritySenior
				req.Priority = &p
			}
			ids = append(ids, h.join(inst.ID, req).ID)
		}
		h.advance(inst.ID, 5, "1")
		if _, err := h.svc.Defer(h.ctx, ids[13], 3, Meta{Actor: ActorCitizen}); err != nil {
			t.Fatal(err)
		}
		if _, err := h.svc.SetPriority(h.ctx, ids[22], nil, func(int64) error { return nil }, Meta{Actor: "token:1"}); err != nil {
			t.Fatal(err)
		}
		list, _, err := h.svc.StaffTickets(h.ctx, inst.ID, []TicketStatus{TicketWaiting, TicketNotified}, 0, 500)
		if err != nil {
			t.Fatal(err)
		}
		if len(list) != 35 {
			t.Fatalf("%d rows, want 35 waiting", len(list))
		}
		for _, row := range list {
			own := h.ticket(row.ID)
			if row.PeopleAhead != own.PeopleAhead || *row.Position != *own.Position {
				t.Fatalf("%s: the list shows %d ahead, its own view %d", row.Label, row.PeopleAhead, own.PeopleAhead)
			}
		}
	})
}
