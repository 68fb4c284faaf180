package httpapi

import (
	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/queueless/queueless/queue"
)

// Admission bounds the requests of a route that one instance works on at
// once. A request beyond the bound gets 503 unavailable with Retry-After at
// once: under a flash crowd a quick "retry in a second" serves citizens
// better than a wait on the database pool that ends in a timeout, and it
// keeps PostgreSQL's connections for the requests already admitted.
type Admission struct {
	slots    chan struct{}
	inFlight prometheus.Gauge
	shed     prometheus.Counter
}

// NewAdmission admits up to max requests at once; its metrics go to reg
// when it is not nil.
func NewAdmission(max int, reg prometheus.Registerer) *Admission {
	a := &Admission{
		slots: make(chan struct{}, max),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "queueless_joins_in_flight",
			Help: "Joins this instance is working on.",
		}),
		shed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "queueless_joins_shed_total",
			Help: "Joins refused with 503 because JOIN_MAX_IN_FLIGHT were in flight.",
		}),
	}
	if reg != nil {
		reg.MustRegister(a.inFlight, a.shed)
	}
	return a
}

// Middleware admits a request or refuses it at once.
func (a *Admission) Middleware(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		select {
		case a.slots <- struct{}{}:
		default:
			a.shed.Inc()
			return queue.Errorf(queue.CodeUnavailable, "Too many joins are being processed right now; please retry in a moment.")
		}
		a.inFlight.Inc()
		defer func() {
			a.inFlight.Dec()
			<-a.slots
		}()
		return next(c)
	}
}
