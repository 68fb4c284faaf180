package institutions_test

import (
	"testing"
	"time"

	"github.com/queueless/queueless/institutions"
	"github.com/queueless/queueless/queue"
)

// TestDemoOfficesHaveServices: every demo office of embedded mode runs
// several services, counters routed to them and a priority lane.
func TestDemoOfficesHaveServices(t *testing.T) {
	t.Parallel()
	svc := queue.NewService(queue.NewMemoryStore(), queue.Config{})
	if n, err := institutions.SeedDemo(t.Context(), svc); err != nil || n != len(institutions.Demo())+len(institutions.DayDemo(time.Now())) {
		t.Fatalf("SeedDemo = %d, %v", n, err)
	}
	list, err := svc.Institutions(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for _, inst := range list {
		if len(inst.Services) < 3 || len(inst.Counters) < 3 || inst.PriorityRun < 1 {
			t.Errorf("%s: %d services, %d counters, priority_run %d; want several of each and a priority lane", inst.Name, len(inst.Services), len(inst.Counters), inst.PriorityRun)
		}
	}
}
