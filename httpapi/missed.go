package httpapi

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/queueless/queueless/queue"
)

// requeueRoute puts a missed (expired) ticket back in the queue: the
// citizen without a token (within the rejoin window), staff with one (any
// expired ticket of the day).
func (s *Server) requeueRoute() echo.HandlerFunc {
	staff := s.authn(func(c echo.Context) error { return s.requeue(c, principal(c).CanManage) })
	return func(c echo.Context) error {
		if c.Request().Header.Get(echo.HeaderAuthorization) != "" {
			return staff(c)
		}
		return s.requeue(c, nil)
	}
}

func (s *Server) requeue(c echo.Context, staff func(int64) error) error {
	id, err := pathTicketID(c)
	if err != nil {
		return err
	}
	if err := decodeBody(c, &struct{}{}); err != nil {
		return err
	}
	meta := citizen(c)
	if staff != nil {
		meta = staffMeta(c)
	}
	t, err := s.q.Requeue(c.Request().Context(), id, staff, meta)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, t)
}

type deferBody struct {
	Places *int `json:"places"`
}

// deferTicket lets people go ahead of a waiting ticket.
func (s *Server) deferTicket(c echo.Context) error {
	id, err := pathTicketID(c)
	if err != nil {
		return err
	}
	var b deferBody
	if err := decodeBody(c, &b); err != nil {
		return err
	}
	if b.Places == nil {
		return invalid("places is required (1 to %d)", queue.MaxDeferPlaces)
	}
	t, err := s.q.Defer(c.Request().Context(), id, *b.Places, citizen(c))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, t)
}

type transferBody struct {
	Service   *string `json:"service"`
	Placement *string `json:"placement"`
}

// transfer sends a ticket to another service (staff).
func (s *Server) transfer(c echo.Context) error {
	id, err := pathTicketID(c)
	if err != nil {
		return err
	}
	var b transferBody
	if err := decodeBody(c, &b); err != nil {
		return err
	}
	if b.Service == nil || b.Placement == nil {
		return invalid("service and placement (front, back or original) are required")
	}
	t, err := s.q.Transfer(c.Request().Context(), id, queue.TransferRequest{Service: *b.Service, Placement: *b.Placement},
		principal(c).CanManage, staffMeta(c))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, t)
}

// calls is the public fairness log: every call of a local day.
func (s *Server) calls(c echo.Context) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	limit, err := queryInt(c, "limit", 100, 1, queue.MaxCallPage)
	if err != nil {
		return err
	}
	after, err := queryInt(c, "after", 0, 0, maxID)
	if err != nil {
		return err
	}
	page, err := s.q.Calls(c.Request().Context(), id, c.QueryParam("date"), after, int(limit))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, page)
}
