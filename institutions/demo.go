package institutions

import (
	"context"
	"fmt"
	"time"

	"github.com/queueless/queueless/queue"
)

// Demo is the set of institutions embedded mode starts with.
func Demo() []queue.Fields {
	return []queue.Fields{
		{Name: "Civil Service Commission", Kind: "government", Address: "Quezon City", Status: queue.StatusOpen},
		{Name: "Land Bank - Makati Branch", Kind: "bank", Address: "Makati City", Status: queue.StatusOpen},
		{Name: "Meralco Business Center", Kind: "utility", Address: "Pasig City", Status: queue.StatusOpen},
		{Name: "Philippine General Hospital - OPD", Kind: "health", Address: "Ermita, Manila", Status: queue.StatusOpen},
	}
}

// demoLayout is a demo office's services (lines) and counters: every demo
// office runs several lines, counters routed to them, and a priority lane
// (priority_run is the default, 2).
type demoLayout struct {
	services []queue.LineSpec
	counters []queue.Counter
}

var demoLayouts = map[string]demoLayout{
	"Civil Service Commission": {
		services: []queue.LineSpec{{Code: "A", Name: "Eligibility and exams"}, {Code: "B", Name: "Records and certifications"}, {Code: "C", Name: "Releasing"}},
		counters: []queue.Counter{{Name: "1", Services: []string{"A"}}, {Name: "2", Services: []string{"A", "B"}}, {Name: "3", Services: []string{"B"}}, {Name: "4", Services: []string{"C"}}},
	},
	"Land Bank - Makati Branch": {
		services: []queue.LineSpec{{Code: "A", Name: "Deposits and withdrawals"}, {Code: "B", Name: "New accounts"}, {Code: "L", Name: "Loans"}},
		counters: []queue.Counter{{Name: "1", Services: []string{"A"}}, {Name: "2", Services: []string{"A"}}, {Name: "3", Services: []string{"B", "L"}}},
	},
	"Meralco Business Center": {
		services: []queue.LineSpec{{Code: "P", Name: "Payments"}, {Code: "S", Name: "New service applications"}, {Code: "C", Name: "Complaints"}},
		counters: []queue.Counter{{Name: "1", Services: []string{"P"}}, {Name: "2", Services: []string{"P", "C"}}, {Name: "3", Services: []string{"S"}}},
	},
	DrawDemoName: {
		services: []queue.LineSpec{{Code: "N", Name: "New permits"}, {Code: "R", Name: "Renewals"}, {Code: "C", Name: "Cashier"}},
		counters: []queue.Counter{{Name: "1", Services: []string{"N"}}, {Name: "2", Services: []string{"R"}}, {Name: "3", Services: []string{"N", "R"}}, {Name: "4", Services: []string{"C"}}},
	},
	HoursDemoName: {
		services: []queue.LineSpec{{Code: "T", Name: "Tax returns"}, {Code: "R", Name: "Registration"}, {Code: "P", Name: "Payments"}},
		counters: []queue.Counter{{Name: "1", Services: []string{"T"}}, {Name: "2", Services: []string{"T", "R"}}, {Name: "3", Services: []string{"P"}}},
	},
	"Philippine General Hospital - OPD": {
		services: []queue.LineSpec{{Code: "A", Name: "Registration"}, {Code: "B", Name: "Consultation"}, {Code: "C", Name: "Pharmacy"}},
		counters: []queue.Counter{{Name: "Triage", Services: []string{"A"}}, {Name: "Room 1", Services: []string{"B"}}, {Name: "Room 2", Services: []string{"B"}}, {Name: "Pharmacy", Services: []string{"C"}}},
	},
}

// createDemo creates demo institution f with its services and counters.
func createDemo(ctx context.Context, svc *queue.Service, f queue.Fields) (queue.Institution, error) {
	inst, err := svc.CreateInstitution(ctx, f, queue.Meta{Actor: queue.ActorSystem})
	if err != nil {
		return inst, err
	}
	lay, ok := demoLayouts[f.Name]
	if !ok {
		return inst, nil
	}
	if inst, err = svc.SetServices(ctx, inst.ID, lay.services, queue.Meta{Actor: queue.ActorSystem}); err != nil {
		return inst, fmt.Errorf("services of %s: %w", f.Name, err)
	}
	if inst, err = svc.SetCounters(ctx, inst.ID, lay.counters, queue.Meta{Actor: queue.ActorSystem}); err != nil {
		return inst, fmt.Errorf("counters of %s: %w", f.Name, err)
	}
	return inst, nil
}

// SeedDemo creates the demo institutions when the store has none, and
// returns how many it created.
func SeedDemo(ctx context.Context, svc *queue.Service) (int, error) {
	list, err := svc.Institutions(ctx)
	if err != nil {
		return 0, fmt.Errorf("seed demo: list institutions: %w", err)
	}
	if len(list) > 0 {
		return 0, nil
	}
	offices := append(Demo(), DayDemo(time.Now())...)
	for _, f := range offices {
		if _, err := createDemo(ctx, svc, f); err != nil {
			return 0, fmt.Errorf("seed demo: create %s: %w", f.Name, err)
		}
	}
	return len(offices), nil
}
