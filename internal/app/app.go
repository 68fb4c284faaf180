package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/redis/go-redis/v9"

	"github.com/queueless/queueless/alerting"
	"github.com/queueless/queueless/alerts"
	"github.com/queueless/queueless/auth"
	"github.com/queueless/queueless/feedbackstore"
	"github.com/queueless/queueless/httpapi"
	"github.com/queueless/queueless/hub"
	"github.com/queueless/queueless/institutions"
	"github.com/queueless/queueless/jobs"
	"github.com/queueless/queueless/migrations"
	"github.com/queueless/queueless/notify"
	"github.com/queueless/queueless/queue"
	"github.com/queueless/queueless/web"
	"github.com/queueless/queueless/webhooks"
)

// App is one running QueueLess server.
type App struct {
	cfg      Config
	log      *slog.Logger
	Queue    *queue.Service
	Auth     *auth.Service
	HTTP     *httpapi.Server
	Sync     *institutions.Syncer
	Alerts   alerts.Store
	Jobs     *jobs.Client      // River: Jobs.Stop finishes in-flight jobs (jobs.go)
	Webhooks *webhooks.Service // webhooks and their deliveries
	Notify   *notify.Service   // texts and web pushes (notify.go)
	Registry *prometheus.Registry
	pool     *pgxpool.Pool
	redis    redis.UniversalClient // a *redis.Client or, with REDIS_CLUSTER_URL, a *redis.ClusterClient
	hub      *hub.Hub
	draining atomic.Bool // /readyz fails from the first step of shutdown

	// AlertEvaluator evaluates alerts (a River periodic job) and resolves
	// them; Feedback keeps citizens' feedback (alerts.go).
	AlertEvaluator *alerting.Evaluator
	Feedback       *feedbackstore.Service

	// drainers finish background work at shutdown, after the last HTTP
	// request and before the pools close (Serve's step 3): the place for
	// durable job workers to stop taking jobs and finish the running ones
	// (River's Client.Stop(ctx), issue 13).
	drainers []func(context.Context) error

	// closers run in reverse order at shutdown, after the HTTP server stops.
	closers []func(context.Context)
	workers sync.WaitGroup
	stop    context.CancelFunc

	// pressure counts the joins in flight, which delivery jobs yield to.
	pressure *jobs.Pressure
}

// Embedded reports whether the app runs without PostgreSQL.
func (a *App) Embedded() bool { return a.pool == nil }

// New builds an App: it opens and checks PostgreSQL and Redis when
// configured, migrates, and builds the services and routes.
func New(ctx context.Context, cfg Config, log *slog.Logger) (*App, error) {
	a := &App{cfg: cfg, log: log, Registry: prometheus.NewRegistry()}
	a.Registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	ok := false
	defer func() {
		if !ok {
			a.close(context.Background())
		}
	}()

	var store queue.Store
	var tokens auth.Store
	checks := map[string]func(context.Context) error{
		"shutdown": func(context.Context) error {
			if a.draining.Load() {
				return errors.New("draining: this instance is shutting down")
			}
			return nil
		},
	}
	if cfg.DatabaseURL != "" {
		pool, err := openPostgres(ctx, cfg, log)
		if err != nil {
			return nil, err
		}
		a.pool = pool
		a.closers = append(a.closers, func(context.Context) { pool.Close() })
		store, tokens = queue.NewPostgresStore(pool), auth.NewPostgresStore(pool)
		checks["postgres"] = pool.Ping
	} else {
		store, tokens = queue.NewMemoryStore(), auth.NewMemoryStore()
	}
	if err := a.openRedis(checks); err != nil {
		return nil, err
	}

	if err := a.setupJobs(ctx, store); err != nil {
		return nil, err
	}
	a.Queue = queue.NewService(store, queue.Config{GracePeriod: cfg.GracePeriod, Logger: log, DefaultTimezone: cfg.Day.DefaultTimezone})
	a.Queue.OnEvent(newDomainMetrics(a.Registry))
	if a.Embedded() {
		if _, err := institutions.SeedDemo(ctx, a.Queue); err != nil {
			return nil, err
		}
	}
	a.Auth = auth.NewService(tokens, cfg.AdminToken)
	a.setupAlerts()

	var ipx echo.IPExtractor
	if len(cfg.TrustedProxies) > 0 {
		var opts []echo.TrustOption
		opts = append(opts, echo.TrustLoopback(false), echo.TrustLinkLocal(false), echo.TrustPrivateNet(false))
		for _, n := range cfg.TrustedProxies {
			opts = append(opts, echo.TrustIPRange(n))
		}
		ipx = echo.ExtractIPFromXFFHeader(opts...)
	}
	a.HTTP = httpapi.New(httpapi.Config{
		Queue: a.Queue, Auth: a.Auth, Logger: log, Checks: checks, Registry: a.Registry,
		RequestTimeout: cfg.RequestTimeout, IPExtractor: ipx,
		JoinMiddleware: a.joinMiddleware(), AllowedOrigins: cfg.AllowedOrigins,
		Stats:  a.statsSource(store),
		Alerts: a.AlertEvaluator, Feedback: a.Feedback,
	})
	if err := web.Register(a.HTTP.Echo()); err != nil {
		return nil, err
	}
	a.mountJobs()
	if err := a.mountJobsUI(ctx); err != nil {
		return nil, err
	}
	if err := a.setupLive(ctx); err != nil {
		return nil, err
	}
	if err := a.setupSync(ctx); err != nil {
		return nil, err
	}
	ok = true
	return a, nil
}

// openRedis builds the Redis client, when one is configured: every use of
// Redis (live broker, join throttle) goes through it, so that a cluster
// serves them all.
func (a *App) openRedis(checks map[string]func(context.Context) error) error {
	switch {
	case a.cfg.RedisURL != "":
		opts, err := redis.ParseURL(a.cfg.RedisURL)
		if err != nil {
			return fmt.Errorf("REDIS_URL: %w", err)
		}
		c := redis.NewClient(opts)
		a.redis = c
		checks["redis"] = func(ctx context.Context) error { return c.Ping(ctx).Err() }
	case a.cfg.RedisClusterURL != "":
		opts, err := redis.ParseClusterURL(a.cfg.RedisClusterURL)
		if err != nil {
			return fmt.Errorf("REDIS_CLUSTER_URL: %w", err)
		}
		c := redis.NewClusterClient(opts)
		a.redis = c
		// Ready when every shard's master answers: a shard away means
		// the live channels and counters of its slots are.
		checks["redis"] = func(ctx context.Context) error {
			return c.ForEachShard(ctx, func(ctx context.Context, n *redis.Client) error { return n.Ping(ctx).Err() })
		}
	default:
		return nil
	}
	a.closers = append(a.closers, func(context.Context) { _ = a.redis.Close() })
	return nil
}

// openPostgres connects, waiting up to the start-up timeout for the server,
// and migrates or checks the schema.
func openPostgres(ctx context.Context, cfg Config, log *slog.Logger) (*pgxpool.Pool, error) {
	pc, err := pgxpool.ParseConfig(cfg.DatabaseURL)
	if err != nil {
		return nil, fmt.Errorf("DATABASE_URL: %w", errors.Unwrap(err))
	}
	pc.MaxConns = cfg.DBMaxConns
	if pc.ConnConfig.ConnectTimeout == 0 || pc.ConnConfig.ConnectTimeout > 5*time.Second {
		pc.ConnConfig.ConnectTimeout = 5 * time.Second
	}
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	deadline := time.Now().Add(cfg.StartupTimeout)
	for {
		pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err = pool.Ping(pctx)
		cancel()
		if err == nil {
			break
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			pool.Close()
			return nil, fmt.Errorf("postgres did not answer within STARTUP_TIMEOUT (%s): %w", cfg.StartupTimeout, err)
		}
		log.WarnContext(ctx, "waiting for postgres", "error", err.Error())
		time.Sleep(time.Second)
	}
	db := migrations.OpenDB(pool)
	defer db.Close()
	if cfg.AutoMigrate {
		if err := migrations.Up(ctx, db); err != nil {
			pool.Close()
			return nil, fmt.Errorf("migrate: %w", err)
		}
	} else if err := migrations.Check(ctx, db); err != nil {
		pool.Close()
		return nil, err
	}
	return pool, nil
}

// Start starts the background workers.
func (a *App) Start(ctx context.Context) {
	ctx, a.stop = context.WithCancel(context.WithoutCancel(ctx))
	a.workers.Add(1)
	go func() {
		defer a.workers.Done()
		a.Queue.RunSweeper(ctx, a.cfg.SweepInterval)
	}()
	a.startSync(ctx)
	if err := a.startJobs(ctx); err != nil {
		a.log.Error("jobs did not start: deliveries wait in the job table", "error", err.Error())
	}
}

// Serve serves HTTP on ln until ctx ends, then shuts down: stop accepting,
// drain in-flight requests, stop workers, close pools.
func (a *App) Serve(ctx context.Context, ln net.Listener) error {
	a.Start(ctx)
	// Every request is read within a deadline, its body included, whatever
	// the route and whether or not the handler reads it (net/http discards
	// an unread body before it answers). A live stream's connection is
	// cleared of it when it is upgraded (hub).
	headerTimeout := min(10*time.Second, a.cfg.RequestTimeout)
	srv := &http.Server{
		Handler:           a.HTTP,
		ReadHeaderTimeout: headerTimeout,
		ReadTimeout:       headerTimeout + a.cfg.RequestTimeout,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(a.log.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	a.log.Info("serving", "addr", ln.Addr().String(), "embedded", a.Embedded())
	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-errc:
	}
	a.shutdown(srv)
	if errors.Is(serveErr, http.ErrServerClosed) {
		serveErr = nil
	}
	return serveErr
}

// OnDrain registers fn to run at shutdown once HTTP requests are done and
// before the workers stop and the pools close, under the shutdown's
// deadline: durable job workers finish their running jobs there.
func (a *App) OnDrain(fn func(context.Context) error) { a.drainers = append(a.drainers, fn) }

// shutdown drains the instance within SHUTDOWN_TIMEOUT, in this order:
//  1. /readyz fails and the hub refuses new live connections (503: the
//     load balancer tries another instance);
//  2. at the same time, the listener closes and in-flight requests finish
//     (http.Server.Shutdown), while every live client is told to reconnect
//     (1012) over DRAIN_SPREAD, at most half the timeout;
//  3. the drainers run (job workers finish their jobs);
//  4. Close: background workers stop, leftover streams get 1001, the
//     broker and the pools close.
func (a *App) shutdown(srv *http.Server) {
	sctx, cancel := context.WithTimeout(context.Background(), a.cfg.ShutdownTimeout)
	defer cancel()
	start := time.Now()
	a.draining.Store(true)
	a.log.Info("shutting down: draining")

	var wg sync.WaitGroup
	if a.hub != nil {
		spread := min(a.cfg.DrainSpread, a.cfg.ShutdownTimeout/2)
		wg.Add(1)
		go func() {
			defer wg.Done()
			dctx, cancel := context.WithTimeout(sctx, spread+a.cfg.ShutdownTimeout/4)
			defer cancel()
			a.hub.Drain(dctx, spread)
		}()
	}
	if err := srv.Shutdown(sctx); err != nil {
		a.log.Warn("http shutdown", "error", err.Error())
	}
	wg.Wait()
	for _, d := range a.drainers {
		if err := d(sctx); err != nil {
			a.log.Warn("shutdown: drain", "error", err.Error())
		}
	}
	a.Close(sctx)
	a.log.Info("shut down", "took", time.Since(start).Round(time.Millisecond).String())
}

// Close stops the workers and closes the pools.
func (a *App) Close(ctx context.Context) {
	if a.stop != nil {
		a.stop()
	}
	done := make(chan struct{})
	go func() { a.workers.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		a.log.Warn("workers did not stop in time")
	}
	a.close(ctx)
}

func (a *App) close(ctx context.Context) {
	for i := len(a.closers) - 1; i >= 0; i-- {
		a.closers[i](ctx)
	}
	a.closers = nil
}

// newDomainMetrics counts what the queue does, from its events.
func newDomainMetrics(reg prometheus.Registerer) func(queue.Event) {
	issued := prometheus.NewCounter(prometheus.CounterOpts{Name: "queueless_tickets_issued_total", Help: "Tickets issued."})
	trans := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "queueless_ticket_transitions_total", Help: "Ticket status changes by new status."}, []string{"status"})
	calls := prometheus.NewCounter(prometheus.CounterOpts{Name: "queueless_calls_total", Help: "Tickets called by staff."})
	expiries := prometheus.NewCounter(prometheus.CounterOpts{Name: "queueless_expiries_total", Help: "Tickets expired after their grace period."})
	reg.MustRegister(issued, trans, calls, expiries)
	return func(ev queue.Event) {
		for _, t := range ev.Transitions {
			switch {
			case t.From == "":
				issued.Inc()
			case t.Ticket.Status == queue.TicketServing:
				calls.Inc()
			case t.Ticket.Status == queue.TicketExpired:
				expiries.Inc()
			}
			if t.From != "" {
				trans.WithLabelValues(string(t.Ticket.Status)).Inc()
			}
		}
	}
}
