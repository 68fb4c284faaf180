package httpapi

import (
	"context"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/queueless/queueless/auth"
	"github.com/queueless/queueless/queue"
)

func citizen(c echo.Context) queue.Meta {
	return queue.Meta{Actor: queue.ActorCitizen, RequestID: requestID(c)}
}

func (s *Server) listInstitutions(c echo.Context) error {
	list, err := s.q.Institutions(c.Request().Context())
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"items": list})
}

func (s *Server) getInstitution(c echo.Context) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	inst, err := s.q.Institution(c.Request().Context(), id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, inst)
}

type joinBody struct {
	Phone             *string `json:"phone"`
	NearTurnThreshold *int    `json:"near_turn_threshold"`
	Service           *string `json:"service"`
	Priority          *string `json:"priority"`
}

// joinRequestKey holds a request's decoded join (a parsedJoin): the phone
// throttle and the handler both need it, and decoding the body (strict
// shape check, then encoding/json) is the costliest part of a join's
// HTTP work; it is done once per request.
const joinRequestKey = "queueless.join"

type parsedJoin struct {
	req queue.JoinRequest
	err error
}

// joinRequest decodes and validates the join's body and headers, once per
// request.
func joinRequest(c echo.Context) (queue.JoinRequest, error) {
	if p, ok := c.Get(joinRequestKey).(*parsedJoin); ok {
		return p.req, p.err
	}
	req, err := parseJoinRequest(c)
	c.Set(joinRequestKey, &parsedJoin{req: req, err: err})
	return req, err
}

func parseJoinRequest(c echo.Context) (queue.JoinRequest, error) {
	var b joinBody
	if err := decodeBody(c, &b); err != nil {
		return queue.JoinRequest{}, err
	}
	req := queue.JoinRequest{Phone: b.Phone, IdempotencyKey: c.Request().Header.Get("Idempotency-Key"), Service: b.Service}
	if b.Priority != nil {
		p, err := queue.ParsePriority(*b.Priority)
		if err != nil {
			return req, err
		}
		req.Priority = &p
	}
	if b.NearTurnThreshold != nil {
		if *b.NearTurnThreshold == 0 {
			return req, invalid("near_turn_threshold must be an integer from %d to %d", queue.MinThreshold, queue.MaxThreshold)
		}
		req.Threshold = *b.NearTurnThreshold
	}
	if _, set := c.Request().Header["Idempotency-Key"]; set && req.IdempotencyKey == "" {
		return req, invalid("Idempotency-Key must be 1 to 64 printable ASCII characters")
	}
	checked := req // Validate fills in defaults; the service does it again
	if err := checked.Validate(); err != nil {
		return req, err
	}
	return req, nil
}

func (s *Server) join(c echo.Context) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	req, err := joinRequest(c)
	if err != nil {
		return err
	}
	meta := citizen(c)
	if p, ok := c.Get("principal").(auth.Principal); ok {
		// A walk-in: staff join on someone's behalf.
		if err := p.CanManage(id); err != nil {
			return err
		}
		req.Source, meta = queue.SourceStaff, staffMeta(c)
	}
	res, err := s.q.Join(c.Request().Context(), id, req, meta)
	if err != nil {
		return err
	}
	if res.Replayed {
		return ticketJSON(c, http.StatusOK, res.Ticket)
	}
	return ticketJSON(c, http.StatusCreated, res.Ticket)
}

// ticketJSON writes t as c.JSON would, byte for byte, without its second
// pass: encoding/json compacts (re-scans) what a MarshalJSON method
// returns, and the join is the hot path. A request with a query string
// (?pretty) goes through c.JSON.
func ticketJSON(c echo.Context, status int, t queue.Ticket) error {
	if c.Request().URL.RawQuery != "" {
		return c.JSON(status, t)
	}
	b, err := t.MarshalJSON()
	if err != nil {
		return err
	}
	return c.JSONBlob(status, append(b, '\n'))
}

func (s *Server) getTicket(c echo.Context) error {
	id, err := pathTicketID(c)
	if err != nil {
		return err
	}
	t, err := s.q.Ticket(c.Request().Context(), id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, t)
}

func (s *Server) checkIn(c echo.Context) error {
	return s.ticketAction(c, s.q.CheckIn)
}

func (s *Server) cancel(c echo.Context) error {
	return s.ticketAction(c, s.q.Cancel)
}

func (s *Server) ticketAction(c echo.Context, action func(ctx context.Context, id string, meta queue.Meta) (queue.Ticket, error)) error {
	id, err := pathTicketID(c)
	if err != nil {
		return err
	}
	if err := decodeBody(c, &struct{}{}); err != nil {
		return err
	}
	t, err := action(c.Request().Context(), id, citizen(c))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, t)
}

func (s *Server) notifications(c echo.Context) error {
	id, err := pathTicketID(c)
	if err != nil {
		return err
	}
	list, err := s.q.Notifications(c.Request().Context(), id)
	if err != nil {
		return err
	}
	items, err := s.notificationViews(c, id, list) // deliveries (notify.go)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"items": items})
}

// Staff endpoints.

// authn checks the bearer token and stores the principal.
func (s *Server) authn(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Request().Header.Get(echo.HeaderAuthorization)
		scheme, token, ok := strings.Cut(h, " ")
		if h == "" {
			return queue.Errorf(queue.CodeUnauthorized, "an Authorization: Bearer <token> header is required")
		}
		if !ok || !strings.EqualFold(scheme, "Bearer") {
			return queue.Errorf(queue.CodeUnauthorized, "the Authorization header must be Bearer <token>")
		}
		p, err := s.auth.Authenticate(c.Request().Context(), strings.TrimSpace(token))
		if err != nil {
			return err
		}
		c.Set("principal", p)
		return next(c)
	}
}

func principal(c echo.Context) auth.Principal {
	p, _ := c.Get("principal").(auth.Principal)
	return p
}

func staffMeta(c echo.Context) queue.Meta {
	return queue.Meta{Actor: principal(c).Actor(), RequestID: requestID(c)}
}

// managedID parses the institution id and checks the token may act on it.
func (s *Server) managedID(c echo.Context) (int64, error) {
	id, err := pathID(c, "id")
	if err != nil {
		return 0, err
	}
	if err := principal(c).CanManage(id); err != nil {
		return 0, err
	}
	return id, nil
}

type institutionBody struct {
	Name     optional[string]       `json:"name"`
	Kind     optional[queue.Kind]   `json:"kind"`
	Address  optional[string]       `json:"address"`
	Status   optional[queue.Status] `json:"status"`
	Capacity optional[int64]        `json:"capacity"`
	// PriorityRun: 0..10, 0 = no priority lane.
	PriorityRun optional[int] `json:"priority_run"`
	// Missed turns: see queue.Settings.
	RejoinWindowSeconds optional[int] `json:"rejoin_window_seconds"`
	RequeueAfter        optional[int] `json:"requeue_after"`
	MaxRequeues         optional[int] `json:"max_requeues"`
	// The office day: see day.go.
	dayBody
	// Alert thresholds: see queue.ThresholdsPatch (alert_thresholds.go).
	alertThresholdsBody
}

func (b institutionBody) patch() (queue.Patch, error) {
	var p queue.Patch
	var err error
	if p.Name, err = requireValue(b.Name, "name"); err != nil {
		return p, err
	}
	if p.Kind, err = requireValue(b.Kind, "kind"); err != nil {
		return p, err
	}
	if p.Address, err = requireValue(b.Address, "address"); err != nil {
		return p, err
	}
	if p.Status, err = requireValue(b.Status, "status"); err != nil {
		return p, err
	}
	p.SetCapacity, p.Capacity = b.Capacity.Set, b.Capacity.Value
	if p.PriorityRun, err = requireValue(b.PriorityRun, "priority_run"); err != nil {
		return p, err
	}
	if p.Settings.RejoinWindowSeconds, err = requireValue(b.RejoinWindowSeconds, "rejoin_window_seconds"); err != nil {
		return p, err
	}
	if p.Settings.RequeueAfter, err = requireValue(b.RequeueAfter, "requeue_after"); err != nil {
		return p, err
	}
	if p.Settings.MaxRequeues, err = requireValue(b.MaxRequeues, "max_requeues"); err != nil {
		return p, err
	}
	if p.Settings.Day, err = b.dayBody.patch(); err != nil {
		return p, err
	}
	if p.Thresholds, err = b.alertThresholdsBody.patch(); err != nil {
		return p, err
	}
	return p, nil
}

func (s *Server) createInstitution(c echo.Context) error {
	if err := principal(c).RequireAdmin(); err != nil {
		return err
	}
	var b institutionBody
	if err := decodeBody(c, &b); err != nil {
		return err
	}
	p, err := b.patch()
	if err != nil {
		return err
	}
	if p.Name == nil {
		return invalid("name is required")
	}
	if p.Kind == nil {
		return invalid("kind is required (government, bank, utility, health or other)")
	}
	f := queue.Fields{Name: *p.Name, Kind: *p.Kind, Capacity: p.Capacity, PriorityRun: p.PriorityRun, Settings: p.Settings, Thresholds: p.Thresholds}
	if p.Address != nil {
		f.Address = *p.Address
	}
	if p.Status != nil {
		f.Status = *p.Status
	}
	inst, err := s.q.CreateInstitution(c.Request().Context(), f, staffMeta(c))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, inst)
}

func (s *Server) patchInstitution(c echo.Context) error {
	id, err := s.managedID(c)
	if err != nil {
		return err
	}
	var b institutionBody
	if err := decodeBody(c, &b); err != nil {
		return err
	}
	p, err := b.patch()
	if err != nil {
		return err
	}
	if !p.OnlyStatus() {
		if err := principal(c).RequireAdmin(); err != nil {
			return queue.Errorf(queue.CodeForbidden, "a staff token may change only status")
		}
	}
	inst, err := s.q.UpdateInstitution(c.Request().Context(), id, p, staffMeta(c))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, inst)
}

type advanceBody struct {
	Count   *int    `json:"count"`
	Counter *string `json:"counter"`
	Service *string `json:"service"`
}

func (s *Server) advance(c echo.Context) error {
	id, err := s.managedID(c)
	if err != nil {
		return err
	}
	var b advanceBody
	if err := decodeBody(c, &b); err != nil {
		return err
	}
	req := queue.AdvanceRequest{Count: 1, Counter: b.Counter, Service: b.Service}
	if b.Count != nil {
		req.Count = *b.Count
		if req.Count == 0 {
			return invalid("count must be an integer from 1 to 50")
		}
	}
	res, err := s.q.Advance(c.Request().Context(), id, req, staffMeta(c))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, res)
}

func (s *Server) recall(c echo.Context) error {
	id, err := pathTicketID(c)
	if err != nil {
		return err
	}
	if err := decodeBody(c, &struct{}{}); err != nil {
		return err
	}
	t, err := s.q.Recall(c.Request().Context(), id, principal(c).CanManage, staffMeta(c))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, t)
}

type announceBody struct {
	Message *string `json:"message"`
}

func (s *Server) announce(c echo.Context) error {
	id, err := s.managedID(c)
	if err != nil {
		return err
	}
	var b announceBody
	if err := decodeBody(c, &b); err != nil {
		return err
	}
	if b.Message == nil {
		return invalid("message is required (1 to 280 characters)")
	}
	ann, err := s.q.Announce(c.Request().Context(), id, *b.Message, staffMeta(c))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusAccepted, map[string]string{"message": ann.Message})
}

func (s *Server) staffTickets(c echo.Context) error {
	id, err := s.managedID(c)
	if err != nil {
		return err
	}
	statuses := []queue.TicketStatus{queue.TicketWaiting, queue.TicketNotified}
	if v := c.QueryParam("status"); v != "" {
		statuses = nil
		for _, part := range strings.Split(v, ",") {
			st, ok := queue.ParseTicketStatus(strings.TrimSpace(part))
			if !ok {
				return invalid("unknown status %q: use waiting, notified, serving, served, expired or cancelled", part)
			}
			statuses = append(statuses, st)
		}
	}
	limit, err := queryInt(c, "limit", 100, 1, 500)
	if err != nil {
		return err
	}
	after, err := queryInt(c, "after", 0, 0, maxID)
	if err != nil {
		return err
	}
	list, next, err := s.q.StaffTickets(c.Request().Context(), id, statuses, after, int(limit))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"items": list, "next_after": next})
}

func (s *Server) events(c echo.Context) error {
	id, err := s.managedID(c)
	if err != nil {
		return err
	}
	limit, err := queryInt(c, "limit", 100, 1, 500)
	if err != nil {
		return err
	}
	after, err := queryInt(c, "after", 0, 0, maxID)
	if err != nil {
		return err
	}
	list, next, err := s.q.Events(c.Request().Context(), id, after, int(limit))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"items": list, "next_after": next})
}

type tokenBody struct {
	Name           string    `json:"name"`
	Role           auth.Role `json:"role"`
	InstitutionIDs []int64   `json:"institution_ids"`
}

func (s *Server) createToken(c echo.Context) error {
	if err := principal(c).RequireAdmin(); err != nil {
		return err
	}
	var b tokenBody
	if err := decodeBody(c, &b); err != nil {
		return err
	}
	exists := func(ctx context.Context, id int64) error {
		_, err := s.q.Institution(ctx, id)
		return err
	}
	t, secret, err := s.auth.Create(c.Request().Context(), auth.NewToken{Name: b.Name, Role: b.Role, InstitutionIDs: b.InstitutionIDs}, exists)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, map[string]any{"token": secret, "id": t.ID, "name": t.Name, "role": t.Role, "institution_ids": t.InstitutionIDs})
}
