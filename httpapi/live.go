package httpapi

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/queueless/queueless/hub"
	"github.com/queueless/queueless/queue"
)

// LiveConfig wires the live streams.
type LiveConfig struct {
	Hub *hub.Hub
	// AllowedOrigins may open streams from a browser besides the server's
	// own origin (ALLOWED_ORIGINS).
	AllowedOrigins []string
	// RetryAfterSeconds is sent with a 429 for too many connections from
	// an address, and a 503 for too many on this instance [5].
	RetryAfterSeconds int
	// MaxPerAddr is reported in X-RateLimit-Limit with that 429.
	MaxPerAddr int
}

// MountLive adds the two live WebSocket routes. Every refusal happens
// before the upgrade, as an ordinary error response of the contract.
func (s *Server) MountLive(cfg LiveConfig) {
	if cfg.RetryAfterSeconds <= 0 {
		cfg.RetryAfterSeconds = 5
	}
	l := &live{s: s, cfg: cfg}
	s.e.GET("/api/v1/institutions/:id/live", l.institution)
	s.e.GET("/api/v1/tickets/:ticket_id/live", l.ticket)
}

type live struct {
	s   *Server
	cfg LiveConfig
}

func (l *live) institution(c echo.Context) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	if err := l.check(c); err != nil {
		return err
	}
	sub, err := l.cfg.Hub.SubscribeInstitution(c.Request().Context(), id, addressKey(c.RealIP()))
	if err != nil {
		return l.refused(c, err)
	}
	sub.Serve(c.Response(), c.Request())
	return nil
}

func (l *live) ticket(c echo.Context) error {
	id, err := pathTicketID(c)
	if err != nil {
		return err
	}
	if err := l.check(c); err != nil {
		return err
	}
	sub, err := l.cfg.Hub.SubscribeTicket(c.Request().Context(), id, addressKey(c.RealIP()))
	if err != nil {
		return l.refused(c, err)
	}
	sub.Serve(c.Response(), c.Request())
	return nil
}

// check refuses a foreign Origin and a request that is no upgrade.
func (l *live) check(c echo.Context) error {
	if !hub.OriginAllowed(c.Request(), l.cfg.AllowedOrigins) {
		return queue.Errorf(queue.CodeForbidden, "this origin may not open live streams")
	}
	if !c.IsWebSocket() {
		c.Response().Header().Set("Upgrade", "websocket")
		return &httpError{status: http.StatusUpgradeRequired, err: queue.Errorf(queue.CodeInvalid, "this is a WebSocket endpoint: send an upgrade request")}
	}
	return nil
}

// refused answers a subscription the hub refused. Connections are
// counted per client address as joins are (an IPv6 client by its /64).
func (l *live) refused(c echo.Context, err error) error {
	if errors.Is(err, hub.ErrTooManyLive) {
		c.Response().Header().Set("Retry-After", strconv.Itoa(l.cfg.RetryAfterSeconds))
	}
	if errors.Is(err, hub.ErrTooManyConnections) {
		h := c.Response().Header()
		h.Set("Retry-After", strconv.Itoa(l.cfg.RetryAfterSeconds))
		h.Set("X-RateLimit-Limit", strconv.Itoa(l.cfg.MaxPerAddr))
		h.Set("X-RateLimit-Remaining", "0")
		h.Set("X-RateLimit-Reset", strconv.Itoa(l.cfg.RetryAfterSeconds))
	}
	return err
}
