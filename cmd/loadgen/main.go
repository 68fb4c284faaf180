// Command loadgen drives load against a QueueLess deployment and runs the
// benchmarks of docs/BENCHMARKS.md.
//
//	loadgen join   [flags]   hot institution joins: closed loop (-clients) or flash crowd (-rate, -total)
//	loadgen fanout [flags]   live subscribers of one institution while staff call
//	loadgen mixed  [flags]   a day at several offices: browse, join, poll, follow live, check in, cancel
//	loadgen bench  [flags]   the benchmarks; writes their sections of docs/BENCHMARKS.md
//	loadgen officeday [flags] replay simulated office days against the wait estimators (docs/ESTIMATES.md)
//	loadgen minimal [-addr]  the reference server of the fan-out and hot join benchmarks
//	loadgen serve  [-pprof]  the QueueLess server (as cmd/queueless serve), with a pprof listener
//	loadgen worker           one shard of a run (started by loadgen itself)
//
// Run `loadgen <command> -h` for the flags. A live progress line goes to
// standard error; the summary to standard output, as JSON with -json.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/queueless/queueless/internal/app"
	"github.com/queueless/queueless/internal/logging"
	"github.com/queueless/queueless/loadtest"
	"github.com/queueless/queueless/loadtest/minimal"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "loadgen:", err)
		}
		os.Exit(1)
	}
}

const usage = "usage: loadgen join|fanout|mixed|bench|officeday|minimal|serve [flags] (loadgen <command> -h for flags)"

func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprintln(stderr, usage)
		return errors.New("no command")
	}
	cmd, args := args[0], args[1:]
	switch cmd {
	case "join", "fanout", "mixed":
		return scenario(ctx, cmd, args, getenv, stdout, stderr)
	case "bench":
		return bench(ctx, args, getenv, stdout, stderr)
	case "worker":
		return loadtest.ServeWorker(ctx, stdin, stdout)
	case "officeday":
		return officeDay(args, stdout, stderr)
	case "minimal":
		return serveMinimal(ctx, args, stdout, stderr)
	case "serve":
		return serveQueueLess(ctx, args, getenv, stdout, stderr)
	case "-h", "-help", "--help", "help":
		fmt.Fprintln(stdout, usage)
		return nil
	}
	return fmt.Errorf("unknown command %q; %s", cmd, usage)
}

func envOr(getenv func(string) string, name, def string) string {
	if v := getenv(name); v != "" {
		return v
	}
	return def
}

// scenario runs one scenario from flags.
func scenario(ctx context.Context, name string, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("loadgen "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o loadtest.Options
	fs.StringVar(&o.BaseURL, "url", envOr(getenv, "BASE_URL", "http://127.0.0.1:8080"), "base URL of the deployment (env BASE_URL)")
	fs.StringVar(&o.AdminToken, "admin-token", getenv("ADMIN_TOKEN"), "admin token, to create institutions and call (env ADMIN_TOKEN)")
	fs.DurationVar(&o.Duration, "duration", 10*time.Second, "length of the load phase")
	fs.DurationVar(&o.MaxTime, "max-time", 0, "bound on the whole run (default duration + 5m)")
	fs.DurationVar(&o.Timeout, "timeout", 10*time.Second, "bound on each request")
	fs.IntVar(&o.Procs, "procs", 0, "worker processes making the load (0: this process); use one per ~15,000 connections")
	fs.IntVar(&o.Addresses, "addresses", 0, "client addresses to present in X-Forwarded-For (the server must trust this host: TRUSTED_PROXIES)")
	fs.StringVar(&o.SourceCIDR, "source-cidr", "", "spread connections over these loopback source addresses, e.g. 127.0.1.0/24")
	fs.BoolVar(&o.Verify, "verify", false, "check the issued tickets through the staff API afterwards (needs the admin token)")
	fs.DurationVar(&o.Progress, "progress", time.Second, "interval of the progress line on stderr (0: none)")
	asJSON := fs.Bool("json", false, "print the result as JSON")

	var sc loadtest.Scenario
	switch name {
	case "join":
		j := &loadtest.Join{}
		fs.Int64Var(&j.Institution, "institution", 0, "institution id (0: create one)")
		fs.IntVar(&j.Clients, "clients", 100, "closed loop: joiners, each joining again at once")
		fs.Float64Var(&j.Rate, "rate", 0, "open loop: joins a second (the flash crowd); overrides -clients")
		fs.IntVar(&j.Total, "total", 0, "joins to send at most (0: until -duration)")
		fs.IntVar(&j.MaxInFlight, "max-in-flight", 10000, "open loop: joins in flight at most; later arrivals are dropped and counted")
		fs.Float64Var(&j.PhoneShare, "phone-share", 0, "share of joins with a phone number (0..1)")
		fs.IntVar(&j.Services, "services", 0, "spread joins over this many services A, B, ... of a created institution (0, 1: none named)")
		fs.Float64Var(&j.PriorityShare, "priority-share", 0, "share of joins in the priority lane (0..1)")
		allow := fs.String("allow", "", "statuses a join may get, e.g. 201,429,503; others fail the run")
		sc = j
		if err := fs.Parse(args); err != nil {
			return err
		}
		for _, s := range splitList(*allow) {
			n, err := strconv.Atoi(s)
			if err != nil {
				return fmt.Errorf("-allow: %q is not a status", s)
			}
			j.Allowed = append(j.Allowed, n)
		}
		if j.Rate > 0 {
			j.Clients = 0
		}
	case "fanout":
		f := &loadtest.Fanout{}
		fs.StringVar(&f.Target, "target", loadtest.TargetQueueLess, "queueless, minimal (the reference server of loadgen minimal) or centrifugo (a Centrifugo node, -url its HTTP address)")
		fs.StringVar(&f.SubscribeURL, "subscribe-url", "", "base URL of the instance the subscribers connect to (default -url, where the calls go)")
		fs.StringVar(&f.APIKey, "api-key", getenv("CENTRIFUGO_API_KEY"), "centrifugo target: the node's HTTP API key (env CENTRIFUGO_API_KEY)")
		fs.Int64Var(&f.Institution, "institution", 0, "institution id (0: create one)")
		fs.IntVar(&f.Subscribers, "subscribers", 1000, "live subscribers of the institution")
		fs.IntVar(&f.Calls, "calls", 20, "calls (advances) to make; tickets are joined first when too few wait")
		fs.DurationVar(&f.Interval, "interval", 500*time.Millisecond, "time between calls")
		fs.DurationVar(&f.Hold, "hold", time.Second, "idle time once every subscriber is connected, before the first call")
		fs.DurationVar(&f.Settle, "settle", 2*time.Second, "wait after the last call for its deliveries")
		fs.IntVar(&f.ConnectConcurrency, "connect-concurrency", 128, "handshakes in flight per process")
		fs.IntVar(&f.Services, "services", 0, "give a created institution this many services A, B, ... and spread the tickets to call over them")
		fs.Float64Var(&f.PriorityShare, "priority-share", 0, "share of the tickets to call in the priority lane (0..1)")
		sc = f
		if err := fs.Parse(args); err != nil {
			return err
		}
	case "mixed":
		m := &loadtest.Mixed{}
		ids := fs.String("institutions", "", "comma-separated institution ids (empty: create -offices)")
		fs.IntVar(&m.Offices, "offices", 3, "institutions to create")
		fs.IntVar(&m.Users, "users", 200, "citizens at once")
		fs.Float64Var(&m.LiveShare, "live-share", 0.5, "share of citizens following their ticket live (others poll)")
		fs.Float64Var(&m.CancelShare, "cancel-share", 0.1, "share of citizens who cancel while waiting")
		fs.Float64Var(&m.NoShowShare, "no-show-share", 0.1, "share of called citizens who never check in")
		fs.DurationVar(&m.PollInterval, "poll", time.Second, "polling interval")
		fs.DurationVar(&m.Think, "think", 2*time.Second, "time between a citizen's visits")
		fs.DurationVar(&m.CallInterval, "call-interval", 300*time.Millisecond, "time between calls at each office")
		fs.DurationVar(&m.MaxWait, "max-wait", 20*time.Second, "a citizen not called by then cancels")
		sc = m
		if err := fs.Parse(args); err != nil {
			return err
		}
		for _, s := range splitList(*ids) {
			id, err := strconv.ParseInt(s, 10, 64)
			if err != nil {
				return fmt.Errorf("-institutions: %q is not an id", s)
			}
			m.Institutions = append(m.Institutions, id)
		}
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	o.ProgressOut = stderr
	res, err := loadtest.Execute(ctx, o, sc)
	if res != nil {
		if *asJSON {
			enc := json.NewEncoder(stdout)
			enc.SetIndent("", "  ")
			if jerr := enc.Encode(res); jerr != nil {
				return jerr
			}
		} else {
			res.WriteText(stdout)
		}
	}
	if err != nil {
		return err
	}
	if !res.OK() {
		return errors.New("some checks failed")
	}
	return nil
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// serveMinimal runs the reference server of the fan-out and hot join benchmarks.
func serveMinimal(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("loadgen minimal", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:8090", "listen address")
	if err := fs.Parse(args); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "minimal reference server on http://%s (GET /live, POST /publish, POST /api/v1/institutions/{id}/tickets)\n", ln.Addr())
	return serveUntil(ctx, ln, minimal.New())
}

func serveUntil(ctx context.Context, ln net.Listener, h http.Handler) error {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	// Hijacked connections are not waited for: the process ends.
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = srv.Shutdown(sctx)
	return nil
}

// serveQueueLess runs the server exactly as `queueless serve` builds it
// (internal/app, configured from the environment), plus a pprof listener
// so that the benchmark can take CPU and heap profiles.
func serveQueueLess(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("loadgen serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	pprofAddr := fs.String("pprof", "", "listen address of /debug/pprof/ (loopback only), e.g. 127.0.0.1:6060")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, err := app.LoadConfig(getenv)
	if err != nil {
		return fmt.Errorf("configuration:\n%w", err)
	}
	level := map[string]slog.Level{"debug": slog.LevelDebug, "info": slog.LevelInfo, "warn": slog.LevelWarn, "error": slog.LevelError}[cfg.LogLevel]
	log := logging.New(stderr, cfg.LogFormat, level)
	if *pprofAddr != "" {
		host, _, err := net.SplitHostPort(*pprofAddr)
		if err != nil || (host != "127.0.0.1" && host != "localhost" && host != "::1") {
			return fmt.Errorf("-pprof %q: want a loopback address", *pprofAddr)
		}
		pln, err := net.Listen("tcp", *pprofAddr)
		if err != nil {
			return fmt.Errorf("-pprof: %w", err)
		}
		mux := http.NewServeMux()
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
		go func() { _ = serveUntil(ctx, pln, mux) }()
		fmt.Fprintf(stdout, "pprof on http://%s/debug/pprof/\n", pln.Addr())
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
	fmt.Fprintf(stdout, "QueueLess on http://%s\n", ln.Addr())
	return a.Serve(ctx, ln)
}
