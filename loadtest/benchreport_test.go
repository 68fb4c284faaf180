package loadtest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestUpsertSectionKeepsTheRest(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "BENCHMARKS.md")
	if err := UpsertSection(path, BenchBegin, BenchEnd, "first"); err != nil {
		t.Fatal(err)
	}
	other := "\n## Live fan-out\n\nsomeone else's figures\n"
	data, _ := os.ReadFile(path)
	if err := os.WriteFile(path, append(data, other...), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := UpsertSection(path, BenchBegin, BenchEnd, "second"); err != nil {
		t.Fatal(err)
	}
	if err := UpsertSection(path, GoBenchBegin, GoBenchEnd, "go benchmarks"); err != nil {
		t.Fatal(err)
	}
	data, _ = os.ReadFile(path)
	doc := string(data)
	for _, want := range []string{"# Benchmarks", "second", "someone else's figures", "go benchmarks"} {
		if !strings.Contains(doc, want) {
			t.Errorf("report lacks %q:\n%s", want, doc)
		}
	}
	if strings.Contains(doc, "first") {
		t.Errorf("the old generated section is still there:\n%s", doc)
	}
	if got := strings.Count(doc, BenchBegin); got != 1 {
		t.Errorf("%d generated sections, want 1", got)
	}
	if err := os.WriteFile(path, []byte(BenchBegin+"\nno end"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := UpsertSection(path, BenchBegin, BenchEnd, "x"); err == nil {
		t.Error("a file with a BEGIN marker and no END was rewritten")
	}
}

func TestMedian(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   []float64
		want float64
	}{{nil, 0}, {[]float64{3}, 3}, {[]float64{5, 1, 3}, 3}, {[]float64{4, 1, 3, 2}, 2.5}} {
		if got := median(tc.in); got != tc.want {
			t.Errorf("median(%v) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

func TestMemStatsSummary(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "heap.txt")
	dump := "heap profile: ...\n# runtime.MemStats\n# Sys = 1048576000\n# HeapInuse = 524288000\n# Stack = 104857600 / 104857600\n"
	if err := os.WriteFile(path, []byte(dump), 0o644); err != nil {
		t.Fatal(err)
	}
	got := memStatsSummary(path, 10000)
	for _, want := range []string{"Sys", "1000.0 MiB", "HeapInuse", "(51.2 KiB)", "Stack", "(10.2 KiB)"} {
		if !strings.Contains(got, want) {
			t.Errorf("summary lacks %q:\n%s", want, got)
		}
	}
}
