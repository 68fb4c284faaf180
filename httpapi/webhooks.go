package httpapi

import (
	"net/http"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"github.com/queueless/queueless/webhooks"
)

// MountWebhooks adds the webhook routes (API.md, "Staff insight and
// integration"): admin only.
func (s *Server) MountWebhooks(svc *webhooks.Service) {
	h := &hooks{svc: svc}
	v1 := s.e.Group("/api/v1")
	v1.POST("/webhooks", h.create, s.authn)
	v1.GET("/webhooks/:id", h.get, s.authn)
	v1.PATCH("/webhooks/:id", h.update, s.authn)
	v1.GET("/webhooks/:id/deliveries", h.deliveries, s.authn)
	v1.POST("/webhooks/:id/deliveries/:delivery_id/retry", h.retry, s.authn)
}

type hooks struct {
	svc *webhooks.Service
}

type webhookBody struct {
	URL            string   `json:"url"`
	Events         []string `json:"events"`
	InstitutionIDs []int64  `json:"institution_ids"`
	Levels         []string `json:"levels"` // alert levels; empty: every level
}

func (h *hooks) create(c echo.Context) error {
	if err := principal(c).RequireAdmin(); err != nil {
		return err
	}
	var b webhookBody
	if err := decodeBody(c, &b); err != nil {
		return err
	}
	w, err := h.svc.Create(c.Request().Context(), webhooks.Spec{URL: b.URL, Events: b.Events, InstitutionIDs: b.InstitutionIDs, Levels: b.Levels})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, w)
}

func (h *hooks) get(c echo.Context) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	if err := principal(c).RequireAdmin(); err != nil {
		return err
	}
	w, err := h.svc.Webhook(c.Request().Context(), id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, w)
}

func (h *hooks) deliveries(c echo.Context) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	if err := principal(c).RequireAdmin(); err != nil {
		return err
	}
	limit, err := queryInt(c, "limit", 100, 1, 500)
	if err != nil {
		return err
	}
	list, err := h.svc.Deliveries(c.Request().Context(), id, c.QueryParam("status"), int(limit))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"items": list})
}

func (h *hooks) retry(c echo.Context) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	did, err := uuid.Parse(c.Param("delivery_id"))
	if err != nil || len(c.Param("delivery_id")) != 36 {
		return invalid("delivery_id must be a UUID")
	}
	if err := principal(c).RequireAdmin(); err != nil {
		return err
	}
	if err := decodeBody(c, &struct{}{}); err != nil {
		return err
	}
	if err := h.svc.Retry(c.Request().Context(), id, did.String()); err != nil {
		return err
	}
	return c.JSON(http.StatusAccepted, map[string]string{"id": did.String(), "status": webhooks.StatusPending})
}
