package httpapi

import (
	"context"
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/queueless/queueless/alerts"
	"github.com/queueless/queueless/queue"
)

// AlertService is what the alert endpoints need (package alerting).
type AlertService interface {
	List(ctx context.Context, f alerts.Filter) ([]alerts.Alert, error)
	Resolve(ctx context.Context, id int64, actor string, allow func(institutionID int64) error) (alerts.Alert, error)
}

// GET /api/v1/alerts?status=open&institution_id=ID (API.md, "Staff insight
// and integration"): staff see their institutions' alerts, admin all.
// Extensions: status=resolved, limit=1..500 (default 100).
func (s *Server) listAlerts(c echo.Context) error {
	if s.cfg.Alerts == nil {
		return queue.Errorf(queue.CodeNotFound, "alerts are not configured on this server")
	}
	p := principal(c)
	f := alerts.Filter{}
	switch st := c.QueryParam("status"); st {
	case "", "all":
	case "open", "resolved":
		f.Status = alerts.Status(st)
	default:
		return invalid("status must be open or resolved")
	}
	limit, err := queryInt(c, "limit", alerts.DefaultListLimit, 1, 500)
	if err != nil {
		return err
	}
	f.Limit = int(limit)
	if !p.Admin() {
		f.InstitutionIDs = append([]int64{}, p.InstitutionIDs...)
	}
	if v := c.QueryParam("institution_id"); v != "" {
		id, err := parsePositive(strings.TrimSpace(v), "institution_id")
		if err != nil {
			return err
		}
		if err := p.CanManage(id); err != nil {
			return err
		}
		f.InstitutionIDs = []int64{id}
	}
	list, err := s.cfg.Alerts.List(c.Request().Context(), f)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"items": list})
}

// POST /api/v1/alerts/{id}/resolve: staff of its institution, or admin.
// 404 when there is no such alert, 409 invalid_state when it is resolved.
func (s *Server) resolveAlert(c echo.Context) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	if s.cfg.Alerts == nil {
		return queue.Errorf(queue.CodeNotFound, "alert %s not found", strconv.FormatInt(id, 10))
	}
	if err := decodeBody(c, &struct{}{}); err != nil {
		return err
	}
	p := principal(c)
	a, err := s.cfg.Alerts.Resolve(c.Request().Context(), id, p.Actor(), p.CanManage)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, a)
}
