package stats

import (
	"time"

	"github.com/queueless/queueless/queue"
)

// Period is [From, To): the tickets issued at or after From and before To.
type Period struct {
	From, To time.Time
}

// Longest periods: a year of stats (a leap year and a day of slack for
// local days), a month of tickets in one CSV.
const (
	MaxStatsPeriod  = 367 * 24 * time.Hour
	MaxExportPeriod = 32 * 24 * time.Hour
)

// ParsePeriod reads from and to (RFC 3339, both required, from before to,
// at most max apart). Errors are queue.CodeInvalid, naming the parameter.
func ParsePeriod(from, to string, max time.Duration) (Period, error) {
	f, err := parseTime("from", from)
	if err != nil {
		return Period{}, err
	}
	t, err := parseTime("to", to)
	if err != nil {
		return Period{}, err
	}
	if !f.Before(t) {
		return Period{}, queue.Errorf(queue.CodeInvalid, "from must be before to")
	}
	if t.Sub(f) > max {
		return Period{}, queue.Errorf(queue.CodeInvalid, "the period from %s to %s is longer than %d days, the most asked at once",
			f.Format(time.RFC3339), t.Format(time.RFC3339), int(max/(24*time.Hour)))
	}
	return Period{From: f, To: t}, nil
}

func parseTime(name, v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, queue.Errorf(queue.CodeInvalid, "%s is required: an RFC 3339 time like 2026-03-01T00:00:00Z", name)
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return time.Time{}, queue.Errorf(queue.CodeInvalid, "%s must be an RFC 3339 time like 2026-03-01T00:00:00Z", name)
	}
	// PostgreSQL's timestamptz holds years 4713 BC to 294276 AD; the
	// contract's times are of this era.
	if t.Year() < 1970 || t.Year() > 9999 {
		return time.Time{}, queue.Errorf(queue.CodeInvalid, "%s must be a time between 1970 and 9999", name)
	}
	return t.UTC(), nil
}
