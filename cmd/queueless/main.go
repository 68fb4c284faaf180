// Command queueless is the QueueLess server.
//
//	queueless [serve]     serve the API (embedded mode without DATABASE_URL)
//	queueless migrate     apply database migrations to DATABASE_URL
//	queueless seed        demo institutions, mockapi links, waiting tickets (-h)
//	queueless routes      print every route, one "METHOD /path" a line
//	queueless healthcheck GET /healthz on ADDR; exit 0 when it answers 200
//	queueless env         print the configuration variables as a table
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/queueless/queueless/auth"
	"github.com/queueless/queueless/internal/app"
	"github.com/queueless/queueless/internal/logging"
	"github.com/queueless/queueless/migrations"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "queueless:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cmd := "serve"
	if len(args) > 0 {
		cmd = args[0]
	}
	if cmd == "env" {
		fmt.Fprint(stdout, app.EnvTable())
		return nil
	}
	cfg, err := app.LoadConfig(getenv)
	if err != nil {
		return fmt.Errorf("configuration:\n%w", err)
	}
	level := map[string]slog.Level{"debug": slog.LevelDebug, "info": slog.LevelInfo, "warn": slog.LevelWarn, "error": slog.LevelError}[cfg.LogLevel]
	log := logging.New(stderr, cfg.LogFormat, level)
	switch cmd {
	case "serve":
		return serve(ctx, cfg, log, stdout)
	case "migrate":
		return migrate(ctx, cfg)
	case "seed":
		return seed(ctx, cfg, log, args[1:], stdout, stderr)
	case "routes":
		return routes(ctx, cfg, log, stdout)
	case "healthcheck":
		return healthcheck(ctx, cfg)
	case "-h", "--help", "help":
		fmt.Fprintln(stdout, "usage: queueless [serve|migrate|seed|routes|healthcheck|env]")
		return nil
	}
	return fmt.Errorf("unknown command %q (serve, migrate, seed, routes, healthcheck, env)", cmd)
}

func serve(ctx context.Context, cfg app.Config, log *slog.Logger, stdout io.Writer) error {
	if cfg.DatabaseURL == "" && cfg.AdminToken == "" {
		cfg.AdminToken = auth.NewSecret()
		fmt.Fprintf(stdout, "Embedded mode. Admin token (shown once): %s\n", cfg.AdminToken)
	}
	a, err := app.New(ctx, cfg, log)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		a.Close(context.Background())
		return fmt.Errorf("ADDR=%q: %w", cfg.Addr, err)
	}
	if a.Embedded() {
		fmt.Fprintf(stdout, "QueueLess is serving on http://%s (embedded mode: data lives in memory)\n", displayAddr(ln.Addr()))
	}
	return a.Serve(ctx, ln)
}

func displayAddr(addr net.Addr) string {
	tcp, ok := addr.(*net.TCPAddr)
	if ok && tcp.IP.IsUnspecified() {
		return fmt.Sprintf("localhost:%d", tcp.Port)
	}
	return addr.String()
}

func migrate(ctx context.Context, cfg app.Config) error {
	if cfg.DatabaseURL == "" {
		return errors.New("migrate needs DATABASE_URL")
	}
	pool, err := pgxpool.New(ctx, cfg.DatabaseURL)
	if err != nil {
		return fmt.Errorf("DATABASE_URL: %w", err)
	}
	defer pool.Close()
	db := migrations.OpenDB(pool)
	defer db.Close()
	return migrations.Up(ctx, db)
}

func routes(ctx context.Context, cfg app.Config, log *slog.Logger, stdout io.Writer) error {
	cfg.DatabaseURL, cfg.RedisURL = "", ""
	a, err := app.New(ctx, cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		return err
	}
	defer a.Close(ctx)
	var lines []string
	seen := map[string]bool{}
	for _, r := range a.HTTP.Echo().Routes() {
		if strings.HasPrefix(r.Method, "echo_route") || r.Method == "" {
			continue
		}
		l := r.Method + " " + r.Path
		if !seen[l] {
			seen[l] = true
			lines = append(lines, l)
		}
	}
	sort.Strings(lines)
	fmt.Fprintln(stdout, strings.Join(lines, "\n"))
	return nil
}

func healthcheck(ctx context.Context, cfg app.Config) error {
	host, port, err := net.SplitHostPort(cfg.Addr)
	if err != nil {
		return fmt.Errorf("ADDR=%q: %w", cfg.Addr, err)
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+net.JoinHostPort(host, port)+"/healthz", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("healthz answered %d", resp.StatusCode)
	}
	return nil
}
