package loadtest

import (
	"context"
	"testing"
	"time"
)

// TestJoinersAgainstMinimal runs the hot benchmark's joiners, as it runs
// them against its reference: the minimal server has no institutions, no
// admin API and no trusted proxy, and every join must still get a 201.
func TestJoinersAgainstMinimal(t *testing.T) {
	t.Parallel()
	b := &bench{cfg: BenchConfig{Scale: 1}, log: t.Output()}
	j, err := b.joiners(context.Background(), startMinimal(t), 1, 20, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if j.Statuses["201"] == 0 || j.Count != j.Statuses["201"] {
		t.Errorf("joins got %s, want only 201", FormatStatuses(j.Statuses))
	}
	if j.OKPerSecond <= 0 || j.P99 <= 0 || j.P99 > j.Max {
		t.Errorf("implausible figures: %.0f joins/s, p99 %.1f ms, max %.1f ms", j.OKPerSecond, j.P99, j.Max)
	}
}
