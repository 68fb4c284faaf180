package httpapi

import (
	"net/http"

	"github.com/labstack/echo/v4"
)

// missedRoute lists the day's missed numbers: tickets called that local
// day that expired without checking in and were not put back. Public (for
// boards) without a token; staff of the institution also get each ticket's
// id, to put it back. An extension, see docs/API-EXTENSIONS.md.
func (s *Server) missedRoute() echo.HandlerFunc {
	staff := s.authn(func(c echo.Context) error { return s.missed(c, true) })
	return func(c echo.Context) error {
		if c.Request().Header.Get(echo.HeaderAuthorization) != "" {
			return staff(c)
		}
		return s.missed(c, false)
	}
}

func (s *Server) missed(c echo.Context, staff bool) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	if staff {
		if err := principal(c).CanManage(id); err != nil {
			return err
		}
	}
	page, err := s.q.Missed(c.Request().Context(), id, c.QueryParam("date"))
	if err != nil {
		return err
	}
	if !staff {
		for i := range page.Items {
			page.Items[i].TicketID = ""
		}
	}
	return c.JSON(http.StatusOK, page)
}
