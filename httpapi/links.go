package httpapi

import (
	"math"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/queueless/queueless/institutions"
	"github.com/queueless/queueless/queue"
)

// MountLinks adds the routes of links to institutions' own queue systems
// (docs/API-EXTENSIONS.md): an admin sets them, staff of the institution
// and admins read them, and the outside system of a push link posts to it,
// signed instead of with a bearer token.
func (s *Server) MountLinks(sync *institutions.Syncer) {
	l := &links{s: s, sync: sync}
	v1 := s.e.Group("/api/v1")
	v1.GET("/links", l.list, s.authn)
	v1.GET("/institutions/:id/link", l.get, s.authn)
	v1.PUT("/institutions/:id/link", l.put, s.authn)
	v1.DELETE("/institutions/:id/link", l.delete, s.authn)
	v1.POST("/institutions/:id/link/push", l.push)
}

type links struct {
	s    *Server
	sync *institutions.Syncer
}

func (l *links) list(c echo.Context) error {
	if err := principal(c).RequireAdmin(); err != nil {
		return err
	}
	list, err := l.sync.Links(c.Request().Context())
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"items": list})
}

func (l *links) get(c echo.Context) error {
	id, err := l.s.managedID(c)
	if err != nil {
		return err
	}
	v, err := l.sync.Link(c.Request().Context(), id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, v)
}

type linkBody struct {
	Mode                *queue.LinkMode `json:"mode"`
	URL                 *string         `json:"url"`
	PollIntervalSeconds *float64        `json:"poll_interval_seconds"`
	StaleAfterSeconds   *float64        `json:"stale_after_seconds"`
}

func (l *links) put(c echo.Context) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	if err := principal(c).RequireAdmin(); err != nil {
		return err
	}
	var b linkBody
	if err := decodeBody(c, &b); err != nil {
		return err
	}
	if b.Mode == nil {
		return invalid("mode is required (poll or push)")
	}
	spec := institutions.LinkSpec{Mode: *b.Mode}
	if b.URL != nil {
		spec.URL = *b.URL
	}
	if spec.PollInterval, err = seconds(b.PollIntervalSeconds, "poll_interval_seconds"); err != nil {
		return err
	}
	if spec.StaleAfter, err = seconds(b.StaleAfterSeconds, "stale_after_seconds"); err != nil {
		return err
	}
	v, err := l.sync.PutLink(c.Request().Context(), id, spec, staffMeta(c))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, v)
}

// seconds turns an optional positive number of seconds into a duration; 0
// when absent (the default).
func seconds(v *float64, name string) (time.Duration, error) {
	if v == nil {
		return 0, nil
	}
	if *v <= 0 || math.IsNaN(*v) || *v > 1e6 {
		return 0, invalid("%s must be a positive number of seconds", name)
	}
	return time.Duration(*v * float64(time.Second)), nil
}

func (l *links) delete(c echo.Context) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	if err := principal(c).RequireAdmin(); err != nil {
		return err
	}
	if err := l.sync.DeleteLink(c.Request().Context(), id, staffMeta(c)); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// push takes an outside system's queue. The signature is checked over the
// body's exact bytes before anything in it is believed.
func (l *links) push(c echo.Context) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	body, err := readBody(c)
	if err != nil {
		return err
	}
	if body == nil {
		body = []byte{}
	}
	res, err := l.sync.Push(c.Request().Context(), id, body, c.Request().Header.Get(institutions.SignatureHeader), requestID(c))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, res)
}
