package queue

import (
	"testing"
	"time"
)

// TestContractLabelsAndQuota: labels count per service and restart with
// the local day, as do daily quotas and now_serving_label; numbers never
// restart. A walk-in passes a paused service but not a closed one.
func TestContractLabelsAndQuota(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, h *harness) {
		inst := h.institution(Fields{})
		quota := int64(2)
		if _, err := h.svc.SetServices(h.ctx, inst.ID, []LineSpec{{Code: "A", Name: "Payments", DailyQuota: &quota}, {Code: "B", Name: "Releasing"}}, Meta{Actor: "token:admin"}); err != nil {
			t.Fatal(err)
		}
		b := "B"
		a1, b1, a2 := h.join(inst.ID, JoinRequest{}), h.join(inst.ID, JoinRequest{Service: &b}), h.join(inst.ID, JoinRequest{})
		if a1.Label != "A-001" || b1.Label != "B-001" || a2.Label != "A-002" || a2.Number != 3 {
			t.Fatalf("labels %s %s %s, numbers %d %d %d", a1.Label, b1.Label, a2.Label, a1.Number, b1.Number, a2.Number)
		}
		_, err := h.svc.Join(h.ctx, inst.ID, JoinRequest{}, Meta{Actor: ActorCitizen})
		wantCode(t, err, CodeQueueFull)
		h.advance(inst.ID, 1, "")
		if l := h.inst(inst.ID).Services[0]; l.NowServingLabel == nil || *l.NowServingLabel != "A-001" || l.WaitingCount != 1 {
			t.Fatalf("service A after a call: %+v", l)
		}

		h.clock.Advance(24 * time.Hour)
		a3 := h.join(inst.ID, JoinRequest{})
		if a3.Label != "A-001" || a3.Number != 4 {
			t.Fatalf("next day: label %s number %d, want A-001 and 4", a3.Label, a3.Number)
		}
		if l := h.inst(inst.ID).Services[0]; l.NowServingLabel != nil {
			t.Fatalf("next day now_serving_label = %s, want null before the first call", *l.NowServingLabel)
		}

		paused, closed := StatusPaused, StatusClosed
		if _, err := h.svc.UpdateService(h.ctx, inst.ID, "B", LinePatch{Status: &paused}, Meta{Actor: "token:1"}); err != nil {
			t.Fatal(err)
		}
		_, err = h.svc.Join(h.ctx, inst.ID, JoinRequest{Service: &b}, Meta{Actor: ActorCitizen})
		wantCode(t, err, CodeInstitutionClosed)
		res, err := h.svc.Join(h.ctx, inst.ID, JoinRequest{Service: &b, Source: SourceStaff}, Meta{Actor: "token:1"})
		if err != nil || res.Ticket.Source != SourceStaff || res.Ticket.Label != "B-001" {
			t.Fatalf("walk-in past a paused service: %+v, %v", res.Ticket, err)
		}
		if _, err := h.svc.UpdateService(h.ctx, inst.ID, "B", LinePatch{Status: &closed}, Meta{Actor: "token:1"}); err != nil {
			t.Fatal(err)
		}
		_, err = h.svc.Join(h.ctx, inst.ID, JoinRequest{Service: &b, Source: SourceStaff}, Meta{Actor: "token:1"})
		wantCode(t, err, CodeInstitutionClosed)
		// The default service is the first open one.
		if _, err := h.svc.UpdateService(h.ctx, inst.ID, "A", LinePatch{Status: &paused}, Meta{Actor: "token:1"}); err != nil {
			t.Fatal(err)
		}
		_, err = h.svc.Join(h.ctx, inst.ID, JoinRequest{}, Meta{Actor: ActorCitizen})
		wantCode(t, err, CodeInstitutionClosed)
	})
}
