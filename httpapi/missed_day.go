package httpapi

import (
	"net/http"

	"github.com/labstack/echo/v4"
)

// missed lists the day's missed numbers (public, for boards): tickets
// called that local day that expired without checking in and were not put
// back. An extension, see docs/API-EXTENSIONS.md.
func (s *Server) missed(c echo.Context) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	page, err := s.q.Missed(c.Request().Context(), id, c.QueryParam("date"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, page)
}
