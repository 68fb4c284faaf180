package web

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"
)

// Register adds the pages and their assets to e, behind e's middleware
// (request ids, logs, metrics, security headers):
//
//	GET /                 phone page
//	GET /staff            staff console
//	GET /board/{id}       hall display board
//	GET /calls/{id}       the fairness log of the day, for citizens
//	GET /static/{version}/{file}
//	GET /sw.js            the service worker (web push), at the root for its scope
//
// A trailing slash is redirected away, relatively: the pages resolve every
// URL relative to themselves.
func Register(e *echo.Echo) error {
	h, err := New()
	if err != nil {
		return err
	}
	get := []string{http.MethodGet, http.MethodHead}
	for route, page := range pageRoutes {
		e.Match(get, route, func(c echo.Context) error {
			if id := c.Param("id"); strings.HasSuffix(route, "/:id") && !positiveInt(id) { // pages named by an office id
				return echo.ErrNotFound
			}
			if !h.ServePage(c.Response(), c.Request(), page) {
				return echo.ErrNotFound
			}
			return nil
		})
	}
	e.Match(get, "/staff/", redirect("../staff"))
	e.Match(get, "/board/:id/", func(c echo.Context) error {
		return c.Redirect(http.StatusMovedPermanently, "../"+c.Param("id"))
	})
	for route := range workers {
		e.Match(get, route, func(c echo.Context) error {
			if !h.ServeWorker(c.Response(), c.Request(), route) {
				return echo.ErrNotFound
			}
			return nil
		})
	}
	e.Match(get, "/static/*", func(c echo.Context) error {
		if !h.ServeStatic(c.Response(), c.Request(), c.Param("*")) {
			return echo.ErrNotFound
		}
		return nil
	})
	return nil
}

func redirect(to string) echo.HandlerFunc {
	return func(c echo.Context) error { return c.Redirect(http.StatusMovedPermanently, to) }
}

func positiveInt(s string) bool {
	n, err := strconv.ParseInt(s, 10, 64)
	return err == nil && n > 0 && strconv.FormatInt(n, 10) == s
}
