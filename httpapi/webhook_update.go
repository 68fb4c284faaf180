package httpapi

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/queueless/queueless/webhooks"
)

// webhookPatchBody is PATCH /api/v1/webhooks/{id} (an extension): a
// webhook's events, institutions and alert levels; absent fields stay.
type webhookPatchBody struct {
	Events         optional[[]string] `json:"events"`
	InstitutionIDs optional[[]int64]  `json:"institution_ids"`
	Levels         optional[[]string] `json:"levels"`
}

func (h *hooks) update(c echo.Context) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	if err := principal(c).RequireAdmin(); err != nil {
		return err
	}
	var b webhookPatchBody
	if err := decodeBody(c, &b); err != nil {
		return err
	}
	var p webhooks.Patch
	if p.Events, err = requireValue(b.Events, "events"); err != nil {
		return err
	}
	if p.InstitutionIDs, err = requireValue(b.InstitutionIDs, "institution_ids"); err != nil {
		return err
	}
	if p.Levels, err = requireValue(b.Levels, "levels"); err != nil {
		return err
	}
	w, err := h.svc.Update(c.Request().Context(), id, p)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, w)
}
