package stats

import (
	"errors"
	"testing"
	"time"

	"github.com/queueless/queueless/queue"
)

func TestParsePeriod(t *testing.T) {
	t.Parallel()
	ok := []struct{ from, to string }{
		{"2026-03-01T00:00:00Z", "2026-03-02T00:00:00Z"},
		{"2026-03-01T00:00:00+08:00", "2026-03-01T00:00:01+08:00"},
		{"2025-03-01T00:00:00Z", "2026-03-01T00:00:00Z"}, // a year
	}
	for _, c := range ok {
		p, err := ParsePeriod(c.from, c.to, MaxStatsPeriod)
		if err != nil {
			t.Errorf("%s..%s: %v", c.from, c.to, err)
			continue
		}
		if p.From.Location() != time.UTC || !p.From.Before(p.To) {
			t.Errorf("%s..%s: %v", c.from, c.to, p)
		}
	}
	bad := []struct{ from, to string }{
		{"", "2026-03-02T00:00:00Z"},
		{"2026-03-01T00:00:00Z", ""},
		{"2026-03-01", "2026-03-02T00:00:00Z"},
		{"yesterday", "2026-03-02T00:00:00Z"},
		{"2026-03-02T00:00:00Z", "2026-03-02T00:00:00Z"}, // empty
		{"2026-03-03T00:00:00Z", "2026-03-02T00:00:00Z"}, // backwards
		{"2024-01-01T00:00:00Z", "2026-03-02T00:00:00Z"}, // over a year
		{"0001-01-01T00:00:00Z", "0001-01-02T00:00:00Z"},
	}
	for _, c := range bad {
		if _, err := ParsePeriod(c.from, c.to, MaxStatsPeriod); !errors.Is(err, queue.ErrInvalid) {
			t.Errorf("%q..%q: %v, want invalid_request", c.from, c.to, err)
		}
	}
	if _, err := ParsePeriod("2026-03-01T00:00:00Z", "2026-04-03T00:00:01Z", MaxExportPeriod); !errors.Is(err, queue.ErrInvalid) {
		t.Errorf("33 days of export: %v, want invalid_request", err)
	}
}
