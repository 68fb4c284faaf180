package httpapi

import (
	"context"
	"log/slog"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/queueless/queueless/auth"
	"github.com/queueless/queueless/internal/logging"
	"github.com/queueless/queueless/notify"
	"github.com/queueless/queueless/queue"
	"github.com/queueless/queueless/stats"
)

// Config wires a Server.
type Config struct {
	Queue  *queue.Service
	Auth   *auth.Service
	Logger *slog.Logger
	// Checks are the dependencies /readyz pings, by name.
	Checks map[string]func(context.Context) error
	// Registry serves /metrics and holds the HTTP metrics.
	Registry *prometheus.Registry
	// RequestTimeout bounds every request but live streams.
	RequestTimeout time.Duration
	// RetryAfterSeconds is sent with every 503.
	RetryAfterSeconds int
	// IPExtractor finds the client address (trusted proxies); the TCP peer
	// when nil.
	IPExtractor echo.IPExtractor
	// JoinMiddleware wraps the join handler (throttling, admission control).
	JoinMiddleware []echo.MiddlewareFunc
	// AllowedOrigins may make cross-origin requests (CORS), compared
	// exactly; none when empty.
	AllowedOrigins []string
	// Stats answers stats and tickets.csv (package stats); 503 when nil.
	Stats stats.Source
	// Alerts and Feedback serve the alert and feedback endpoints
	// (alerts.go, feedback.go); not_found when nil.
	Alerts   AlertService
	Feedback FeedbackService
}

// Server is the HTTP API.
type Server struct {
	cfg     Config
	log     *slog.Logger
	e       *echo.Echo
	q       *queue.Service
	auth    *auth.Service
	latency *prometheus.HistogramVec
	notify  *notify.Service // nil until MountNotify (notify.go)
}

// New builds the server and its routes.
func New(cfg Config) *Server {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Registry == nil {
		cfg.Registry = prometheus.NewRegistry()
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = 10 * time.Second
	}
	if cfg.RetryAfterSeconds <= 0 {
		cfg.RetryAfterSeconds = 1
	}
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	if cfg.IPExtractor != nil {
		e.IPExtractor = cfg.IPExtractor
	} else {
		e.IPExtractor = echo.ExtractIPDirect()
	}
	s := &Server{cfg: cfg, log: cfg.Logger, e: e, q: cfg.Queue, auth: cfg.Auth}
	s.latency = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "queueless_http_request_duration_seconds",
		Help:    "HTTP request latency by route, method and status.",
		Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
	}, []string{"route", "method", "status"})
	cfg.Registry.MustRegister(s.latency)
	e.HTTPErrorHandler = s.errorHandler
	e.Use(s.requestID, s.observe, s.securityHeaders)
	if len(cfg.AllowedOrigins) > 0 {
		e.Use(cors(cfg.AllowedOrigins))
	}
	s.routes()
	return s
}

// Echo returns the router, for other packages to add routes (live streams).
func (s *Server) Echo() *echo.Echo { return s.e }

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.e.ServeHTTP(w, r) }

func (s *Server) routes() {
	e := s.e
	e.GET("/healthz", s.healthz)
	e.GET("/readyz", s.readyz)
	e.GET("/metrics", echo.WrapHandler(promhttp.HandlerFor(s.cfg.Registry, promhttp.HandlerOpts{})))

	v1 := e.Group("/api/v1")
	v1.GET("/institutions", s.listInstitutions)
	v1.POST("/institutions", s.createInstitution, s.authn)
	v1.GET("/institutions/:id", s.getInstitution)
	v1.PATCH("/institutions/:id", s.patchInstitution, s.authn)
	// A citizen's join body is read (under the request's deadline) before
	// the join's guards: a client that sends it slowly holds no admission
	// slot.
	v1.POST("/institutions/:id/tickets", s.joinRoute())
	v1.GET("/institutions/:id/tickets", s.staffTickets, s.authn)
	v1.POST("/institutions/:id/advance", s.advance, s.authn)
	v1.POST("/institutions/:id/announcements", s.announce, s.authn)
	v1.GET("/institutions/:id/events", s.events, s.authn)
	v1.PUT("/institutions/:id/services", s.putServices, s.authn)
	v1.PATCH("/institutions/:id/services/:code", s.patchService, s.authn)
	v1.PUT("/institutions/:id/counters", s.putCounters, s.authn)

	v1.GET("/tickets/:ticket_id", s.getTicket)
	v1.POST("/tickets/:ticket_id/check-in", s.checkIn)
	v1.POST("/tickets/:ticket_id/cancel", s.cancel)
	v1.GET("/tickets/:ticket_id/notifications", s.notifications)
	v1.POST("/tickets/:ticket_id/recall", s.recall, s.authn)
	v1.POST("/tickets/:ticket_id/call", s.callTicket, s.authn)
	v1.PATCH("/tickets/:ticket_id", s.patchTicket, s.authn)
	v1.POST("/tickets/:ticket_id/requeue", s.requeueRoute())
	v1.POST("/tickets/:ticket_id/defer", s.deferTicket)
	v1.POST("/tickets/:ticket_id/transfer", s.transfer, s.authn)
	v1.GET("/institutions/:id/calls", s.calls)
	v1.GET("/institutions/:id/missed", s.missedRoute())
	v1.GET("/institutions/:id/stats", s.stats, s.authn)
	v1.GET("/institutions/:id/tickets.csv", s.ticketsCSV, s.authn)
	v1.GET("/institutions/:id/draws/:date", s.draws)
	v1.GET("/alerts", s.listAlerts, s.authn)
	v1.POST("/alerts/:id/resolve", s.resolveAlert, s.authn)
	v1.POST("/tickets/:ticket_id/feedback", s.giveFeedback)
	v1.GET("/tickets/:ticket_id/feedback", s.getFeedback)
	e.GET("/t/:ticket_id", s.slip)

	v1.POST("/tokens", s.createToken, s.authn)
}

// joinRoute is the join handler: a citizen's join goes through the join
// middleware (throttles, admission control); a walk-in, which carries a
// staff or admin bearer token, is authenticated instead and not throttled.
func (s *Server) joinRoute() echo.HandlerFunc {
	citizen := s.join
	for i := len(s.cfg.JoinMiddleware) - 1; i >= 0; i-- {
		citizen = s.cfg.JoinMiddleware[i](citizen)
	}
	citizen = bufferBody(citizen)
	walkIn := s.authn(s.join)
	return func(c echo.Context) error {
		if c.Request().Header.Get(echo.HeaderAuthorization) != "" {
			return walkIn(c)
		}
		return citizen(c)
	}
}

var requestIDPattern = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

const headerRequestID = "X-Request-ID"

// requestID takes the caller's X-Request-ID when well-formed, or makes one,
// and puts it on the response and in the request context. The same
// context bounds every request by RequestTimeout, body reads included (one
// copy of the request for both). A live stream is bounded too until its
// upgrade: the stream that follows belongs to the hub, not to the request,
// which ends there.
func (s *Server) requestID(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		id := r.Header.Get(headerRequestID)
		if !requestIDPattern.MatchString(id) {
			id = uuid.NewString()
		}
		c.Set("request_id", id)
		c.Response().Header().Set(headerRequestID, id)
		ctx, cancel := context.WithTimeout(logging.WithRequestID(r.Context(), id), s.cfg.RequestTimeout)
		defer cancel()
		c.SetRequest(r.WithContext(ctx))
		return next(c)
	}
}

func requestID(c echo.Context) string {
	id, _ := c.Get("request_id").(string)
	return id
}

// observe logs each request and records its latency.
func (s *Server) observe(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		err := next(c)
		if err != nil {
			c.Error(err)
		}
		status := c.Response().Status
		route := routeLabel(c)
		took := time.Since(start)
		r := c.Request()
		method := methodLabel(r.Method)
		s.latency.WithLabelValues(route, method, statusLabel(status)).Observe(took.Seconds())
		// A request that succeeded is logged at debug: the metric above
		// counts it, and the audit trail records the change it made with
		// its request id. At a flash crowd's rate a line per request
		// would cost an eighth of the server's CPU.
		if level := requestLogLevel(status); s.log.Enabled(r.Context(), level) {
			s.log.Log(r.Context(), level, "request",
				"method", method, "route", route, "path", r.URL.Path,
				"status", status, "duration_ms", float64(took.Microseconds())/1000, "ip", c.RealIP())
		}
		return nil
	}
}

// The labels of the request metric take only values the server chose: a
// client picks the method (any token net/http accepts, up to the header
// limit), the path and, through them, nothing else; every distinct label
// value is a series kept for the life of the process.

// knownMethods are the methods labelled by name; any other is "other".
var knownMethods = map[string]bool{
	http.MethodGet: true, http.MethodHead: true, http.MethodPost: true, http.MethodPut: true,
	http.MethodPatch: true, http.MethodDelete: true, http.MethodOptions: true,
	http.MethodConnect: true, http.MethodTrace: true,
}

func methodLabel(m string) string {
	if knownMethods[m] {
		return m
	}
	return "other"
}

// routeLabel is the route pattern the router found (a registered one, or
// the node of one for a 404 or 405), or "unmatched": never the path a
// client sent.
func routeLabel(c echo.Context) string {
	if route := c.Path(); route != "" {
		return route
	}
	return "unmatched"
}

// statusLabel is the status code, which the server sets, within the range
// HTTP allows.
func statusLabel(status int) string {
	if status < 100 || status > 599 {
		return "other"
	}
	return strconv.Itoa(status)
}

var (
	headerNosniff    = []string{"nosniff"}
	headerDeny       = []string{"DENY"}
	headerNoReferrer = []string{"no-referrer"}
)

// securityHeaders sets the headers every response carries.
func (s *Server) securityHeaders(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Response().Header()
		// Shared values, canonical keys: no allocation per request. net/http
		// only reads them; a later Set replaces the slice, an Add copies it.
		h["X-Content-Type-Options"] = headerNosniff
		h["X-Frame-Options"] = headerDeny
		h["Referrer-Policy"] = headerNoReferrer
		if c.Request().TLS != nil || c.Request().Header.Get("X-Forwarded-Proto") == "https" {
			h.Set("Strict-Transport-Security", "max-age=63072000; includeSubDomains")
		}
		return next(c)
	}
}

func (s *Server) healthz(c echo.Context) error {
	return c.JSON(http.StatusOK, map[string]string{"status": "ok"})
}

// readyz pings every configured dependency.
func (s *Server) readyz(c echo.Context) error {
	ctx, cancel := context.WithTimeout(c.Request().Context(), 2*time.Second)
	defer cancel()
	body := map[string]string{}
	var failing []string
	for name, check := range s.cfg.Checks {
		if err := check(ctx); err != nil {
			body[name] = "unavailable"
			failing = append(failing, name)
		} else {
			body[name] = "ok"
		}
	}
	if len(failing) == 0 {
		return c.JSON(http.StatusOK, body)
	}
	slices.Sort(failing)
	body["code"] = string(queue.CodeUnavailable)
	body["message"] = "not ready: " + strings.Join(failing, ", ") + " not answering"
	body["request_id"] = requestID(c)
	c.Response().Header().Set("Retry-After", strconv.Itoa(s.cfg.RetryAfterSeconds))
	return c.JSON(http.StatusServiceUnavailable, body)
}
