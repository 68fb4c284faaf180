package stats

import (
	"context"
	"math"
	"time"

	"github.com/queueless/queueless/queue"
)

// Stats is the body of GET .../stats: the tickets issued in [From, To).
type Stats struct {
	From     time.Time `json:"from"`
	To       time.Time `json:"to"`
	Timezone string    `json:"timezone"`
	Counts
	WaitSeconds    Waits    `json:"wait_seconds"`
	ServiceSeconds Services `json:"service_seconds"`
	// ByHour has 24 entries, hours 0..23 of the institution's local day,
	// each counting the tickets issued in that hour, whatever the date.
	ByHour    []Hour         `json:"by_hour"`
	ByService []ServiceStats `json:"by_service"`
	// Satisfaction is the feedback given in the period.
	Satisfaction Satisfaction `json:"satisfaction"`
	// EstimateError compares, for every ticket called that was given an
	// estimate when it joined, that estimate with its real wait.
	EstimateError EstimateError `json:"estimate_error"`
}

// Counts are the tickets issued in the period by what became of them.
type Counts struct {
	Joined    int64 `json:"joined"`
	Served    int64 `json:"served"`
	Expired   int64 `json:"expired"`
	Cancelled int64 `json:"cancelled"`
}

// Waits are the waits, issue to call, of the tickets called; null when
// none was.
type Waits struct {
	P50 *float64 `json:"p50"`
	P90 *float64 `json:"p90"`
	Max *float64 `json:"max"`
}

// Services are the service times, call to completion, of the tickets
// served.
type Services struct {
	P50 *float64 `json:"p50"`
	P90 *float64 `json:"p90"`
}

// Hour is one hour of the local day.
type Hour struct {
	Hour        int   `json:"hour"`
	Joined      int64 `json:"joined"`
	Served      int64 `json:"served"`
	WaitSeconds Waits `json:"wait_seconds"`
}

// ServiceStats are the same figures for one service (line), by its code.
type ServiceStats struct {
	Service string `json:"service"`
	Counts
	WaitSeconds    Waits         `json:"wait_seconds"`
	ServiceSeconds Services      `json:"service_seconds"`
	EstimateError  EstimateError `json:"estimate_error"`
}

// Satisfaction is the feedback given in the period: how many, the mean
// rating and the mean answer to each SQD question (null when nobody
// answered it).
type Satisfaction struct {
	Count      int64               `json:"count"`
	MeanRating *float64            `json:"mean_rating"`
	MeanSQD    map[string]*float64 `json:"mean_sqd"`
}

// EstimateError is the median absolute error, in seconds, of the
// estimates given at join against the real waits, over Count tickets.
type EstimateError struct {
	Count                 int64    `json:"count"`
	MedianAbsoluteSeconds *float64 `json:"median_absolute_seconds"`
}

// Source computes stats and lists a period's tickets.
type Source interface {
	// Stats computes the figures of the tickets of institution id issued
	// in p, by hour of loc.
	Stats(ctx context.Context, id int64, p Period, loc *time.Location) (Stats, error)
	// Tickets calls fn with each ticket of institution id issued in p, in
	// number order, and stops at its first error.
	Tickets(ctx context.Context, id int64, p Period, fn func(queue.Ticket) error) error
}

// round keeps 3 decimals (milliseconds of a wait), so that both stores'
// figures compare equal whatever the last bits of their arithmetic.
func round(v float64) float64 { return math.Round(v*1000) / 1000 }

func roundPtr(v *float64) *float64 {
	if v == nil {
		return nil
	}
	r := round(*v)
	return &r
}

// location is loc, or UTC for nil and for the process's Local zone, whose
// name PostgreSQL does not know: an IANA name, known to Go and PostgreSQL.
func location(loc *time.Location) *time.Location {
	if loc == nil || loc == time.Local {
		return time.UTC
	}
	return loc
}
