package httpapi

// The office day (API.md v1.1, "The office day", "Fair opening"): the
// institution's day settings in create and PATCH bodies, and the public
// draws of a date.

import (
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/queueless/queueless/queue"
)

// dayBody are the office-day fields of an institution create or PATCH
// body (embedded in institutionBody).
type dayBody struct {
	Timezone          optional[string]                `json:"timezone"`
	Hours             optional[map[string][][]string] `json:"hours"`
	ClosedDates       optional[[]string]              `json:"closed_dates"`
	JoinCutoffMinutes optional[int]                   `json:"join_cutoff_minutes"`
	AtClose           optional[string]                `json:"at_close"`
	PrequeueMinutes   optional[int]                   `json:"prequeue_minutes"`
}

// patch reads the office-day fields; hours may be null (no schedule),
// the others may not.
func (b dayBody) patch() (queue.DayPatch, error) {
	var p queue.DayPatch
	var err error
	if p.Timezone, err = requireValue(b.Timezone, "timezone"); err != nil {
		return p, err
	}
	if b.Hours.Set {
		p.SetHours = true
		if b.Hours.Value != nil {
			p.Hours = *b.Hours.Value
		}
	}
	if p.ClosedDates, err = requireValue(b.ClosedDates, "closed_dates"); err != nil {
		return p, err
	}
	if p.JoinCutoffMinutes, err = requireValue(b.JoinCutoffMinutes, "join_cutoff_minutes"); err != nil {
		return p, err
	}
	if p.AtClose, err = requireValue(b.AtClose, "at_close"); err != nil {
		return p, err
	}
	if p.PrequeueMinutes, err = requireValue(b.PrequeueMinutes, "prequeue_minutes"); err != nil {
		return p, err
	}
	return p, nil
}

// draws serves GET /api/v1/institutions/{id}/draws/{date}: the date's
// fair-opening draws by service code; 404 before the pre-queue window
// opened.
func (s *Server) draws(c echo.Context) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	date := c.Param("date")
	if _, err := queue.ParseDate(date); err != nil {
		return invalid("date must be a day as YYYY-MM-DD")
	}
	draws, err := s.q.Draws(c.Request().Context(), id, date)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, draws)
}

// slipTime is when a ticket was issued, as its slip prints it: in the
// institution's time zone, with the zone's abbreviation ("PST", "UTC").
func slipTime(t time.Time, loc *time.Location) string {
	return t.In(loc).Format("2 Jan 2006 15:04 MST")
}
