package httpapi

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/queueless/queueless/queue"
)

// Services, counters, particular calls and priority changes (contract v1.1,
// "Services and counters").

type serviceSpec struct {
	Code       *string         `json:"code"`
	Name       *string         `json:"name"`
	Status     *queue.Status   `json:"status"`
	DailyQuota optional[int64] `json:"daily_quota"`
}

type servicesBody struct {
	Services *[]serviceSpec `json:"services"`
}

func (s *Server) putServices(c echo.Context) error {
	id, err := s.managedID(c)
	if err != nil {
		return err
	}
	if err := principal(c).RequireAdmin(); err != nil {
		return err
	}
	var b servicesBody
	if err := decodeBody(c, &b); err != nil {
		return err
	}
	if b.Services == nil {
		return invalid("services is required: a list of {code, name, status, daily_quota} in display order")
	}
	specs := make([]queue.LineSpec, len(*b.Services))
	for i, sp := range *b.Services {
		if sp.Code == nil {
			return invalid("services[%d].code is required", i)
		}
		if sp.Name == nil {
			return invalid("services[%d].name is required", i)
		}
		specs[i] = queue.LineSpec{Code: *sp.Code, Name: *sp.Name, DailyQuota: sp.DailyQuota.Value}
		if sp.Status != nil {
			specs[i].Status = *sp.Status
		}
	}
	inst, err := s.q.SetServices(c.Request().Context(), id, specs, staffMeta(c))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, inst)
}

type servicePatchBody struct {
	Status     optional[queue.Status] `json:"status"`
	Name       optional[string]       `json:"name"`
	DailyQuota optional[int64]        `json:"daily_quota"`
}

func (s *Server) patchService(c echo.Context) error {
	id, err := s.managedID(c)
	if err != nil {
		return err
	}
	var b servicePatchBody
	if err := decodeBody(c, &b); err != nil {
		return err
	}
	var p queue.LinePatch
	if p.Status, err = requireValue(b.Status, "status"); err != nil {
		return err
	}
	if p.Name, err = requireValue(b.Name, "name"); err != nil {
		return err
	}
	p.SetQuota, p.DailyQuota = b.DailyQuota.Set, b.DailyQuota.Value
	if !p.OnlyStatus() {
		if err := principal(c).RequireAdmin(); err != nil {
			return queue.Errorf(queue.CodeForbidden, "a staff token may change only a service's status")
		}
	}
	inst, err := s.q.UpdateService(c.Request().Context(), id, c.Param("code"), p, staffMeta(c))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, inst)
}

type counterSpec struct {
	Name     *string   `json:"name"`
	Services *[]string `json:"services"`
}

type countersBody struct {
	Counters *[]counterSpec `json:"counters"`
}

func (s *Server) putCounters(c echo.Context) error {
	id, err := s.managedID(c)
	if err != nil {
		return err
	}
	if err := principal(c).RequireAdmin(); err != nil {
		return err
	}
	var b countersBody
	if err := decodeBody(c, &b); err != nil {
		return err
	}
	if b.Counters == nil {
		return invalid("counters is required: a list of {name, services}")
	}
	list := make([]queue.Counter, len(*b.Counters))
	for i, sp := range *b.Counters {
		if sp.Name == nil {
			return invalid("counters[%d].name is required", i)
		}
		if sp.Services == nil {
			return invalid("counters[%d].services is required: the service codes it calls from", i)
		}
		list[i] = queue.Counter{Name: *sp.Name, Services: *sp.Services}
	}
	inst, err := s.q.SetCounters(c.Request().Context(), id, list, staffMeta(c))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, inst)
}

type callBody struct {
	Counter *string `json:"counter"`
	Reason  *string `json:"reason"`
}

// callTicket calls one particular ticket out of the calling order.
func (s *Server) callTicket(c echo.Context) error {
	id, err := pathTicketID(c)
	if err != nil {
		return err
	}
	var b callBody
	if err := decodeBody(c, &b); err != nil {
		return err
	}
	if b.Reason == nil {
		return invalid("reason is required: 1 to 80 characters, shown in the fairness log")
	}
	t, err := s.q.CallTicket(c.Request().Context(), id, queue.CallRequest{Counter: b.Counter, Reason: *b.Reason}, principal(c).CanManage, staffMeta(c))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, t)
}

type ticketPatchBody struct {
	Priority optional[string] `json:"priority"`
}

// patchTicket sets or clears a ticket's priority.
func (s *Server) patchTicket(c echo.Context) error {
	id, err := pathTicketID(c)
	if err != nil {
		return err
	}
	var b ticketPatchBody
	if err := decodeBody(c, &b); err != nil {
		return err
	}
	if !b.Priority.Set {
		return invalid("priority is required: null or one of senior, pwd, pregnant, other")
	}
	var p *queue.Priority
	if b.Priority.Value != nil {
		v, err := queue.ParsePriority(*b.Priority.Value)
		if err != nil {
			return err
		}
		p = &v
	}
	t, err := s.q.SetPriority(c.Request().Context(), id, p, principal(c).CanManage, staffMeta(c))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, t)
}
