package institutions

import (
	"context"
	"fmt"

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
	for _, f := range Demo() {
		if _, err := svc.CreateInstitution(ctx, f, queue.Meta{Actor: queue.ActorSystem}); err != nil {
			return 0, fmt.Errorf("seed demo: create %s: %w", f.Name, err)
		}
	}
	return len(Demo()), nil
}
