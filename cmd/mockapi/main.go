// Command mockapi simulates institutions' own queue systems: a directory,
// and for each institution a dispenser and counters calling numbers, behind
// a REST API with fault injection (see docs/DEMO.md and docs/API-EXTENSIONS.md).
//
//	mockapi [flags]
//
// Every flag is listed by mockapi -h. ADDR sets the default of -addr.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/queueless/queueless/mockapi"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "mockapi:", err)
		os.Exit(2)
	}
}

// demo are the first institutions; -institutions beyond them are numbered.
var demo = []mockapi.InstitutionConfig{
	{ExternalID: "SSS-QC", Name: "Social Security System - Quezon City", Kind: "government", Address: "East Avenue, Quezon City"},
	{ExternalID: "LTO-MNL", Name: "Land Transportation Office - Manila", Kind: "government", Address: "Ermita, Manila"},
	{ExternalID: "BDO-CBP", Name: "BDO - Cubao Branch", Kind: "bank", Address: "Cubao, Quezon City"},
	{ExternalID: "MWSS-PSG", Name: "Manila Water Business Area - Pasig", Kind: "utility", Address: "Pasig City"},
	{ExternalID: "EAMC-OPD", Name: "East Avenue Medical Center - OPD", Kind: "health", Address: "Quezon City"},
	{ExternalID: "PSA-SM", Name: "PSA Serbilis Outlet - SM North", Kind: "government", Address: "North Avenue, Quezon City"},
}

func run(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	fs := flag.NewFlagSet("mockapi", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := getenv("ADDR")
	if addr == "" {
		addr = ":9090"
	}
	var (
		listen    = fs.String("addr", addr, "listen address")
		count     = fs.Int("institutions", len(demo), "how many institutions to simulate")
		counters  = fs.Int("counters", 3, "counters per institution")
		arrival   = fs.String("arrival", "exp:40s", "time between walk-ins: kind:mean[:spread], kind fixed, uniform, exp or normal")
		service   = fs.String("service", "exp:90s:15s", "a counter's time with one person, same form")
		initial   = fs.Int64("initial", 10, "numbers issued and waiting when the simulation starts")
		hours     = fs.String("hours", "", "opening hours HH:MM-HH:MM in UTC; empty: always open")
		seed      = fs.Uint64("seed", 1, "seed of the calls and the faults")
		speed     = fs.Float64("speed", 1, "simulated seconds per wall second")
		latency   = fs.Duration("latency", 0, "added to every queue answer (wall clock)")
		errRate   = fs.Float64("error-rate", 0, "share of queue answers that are 500 (0..1)")
		badRate   = fs.Float64("malformed-rate", 0, "share of queue answers with a malformed body (0..1)")
		cutRate   = fs.Float64("truncate-rate", 0, "share of queue answers cut half-way (0..1)")
		jump      = fs.Duration("clock-jump", 0, "reported times jump by up to this much either way")
		outages   = fs.String("outages", "", "outage windows after start, like 10m+2m,30m+1m (simulated time)")
		adminTok  = fs.String("admin-token", getenv("MOCKAPI_ADMIN_TOKEN"), "bearer token for /admin; empty: /admin is open")
		pushEvery = fs.Duration("push-interval", time.Second, "how often queues with a push target are pushed when they moved")
		smsSID    = fs.String("sms-account-sid", "ACmock", "account SID of the mock SMS gateway (Twilio's Messages API)")
		smsToken  = fs.String("sms-auth-token", or(getenv("MOCKAPI_SMS_AUTH_TOKEN"), "mock-auth-token"), "auth token of the mock SMS gateway: its Basic auth password and the key of its X-Twilio-Signature")
	)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	arr, err := mockapi.ParseDist(*arrival)
	if err != nil {
		return fmt.Errorf("-arrival: %w", err)
	}
	svc, err := mockapi.ParseDist(*service)
	if err != nil {
		return fmt.Errorf("-service: %w", err)
	}
	var h *mockapi.Hours
	if *hours != "" {
		v, err := mockapi.ParseHours(*hours)
		if err != nil {
			return fmt.Errorf("-hours: %w", err)
		}
		h = &v
	}
	if *count < 1 || *count > 10000 || *counters < 1 || *counters > 100 || *speed < 0 || *initial < 0 {
		return errors.New("-institutions must be 1..10000, -counters 1..100, -speed and -initial not negative")
	}
	clock := mockapi.NewClock(time.Now(), *speed)
	wins, err := mockapi.ParseOutages(*outages, clock.Now())
	if err != nil {
		return fmt.Errorf("-outages: %w", err)
	}
	cfg := mockapi.Config{Seed: *seed, Clock: clock, AdminToken: *adminTok, PushInterval: *pushEvery,
		SMS:    mockapi.SMSConfig{AccountSID: *smsSID, AuthToken: *smsToken},
		Logger: slog.New(slog.NewJSONHandler(stderr, nil)),
		Faults: mockapi.Faults{LatencyMS: int(latency.Milliseconds()), ErrorRate: *errRate, MalformedRate: *badRate,
			TruncateRate: *cutRate, ClockJumpMS: int(jump.Milliseconds()), Outages: wins}}
	for i := range *count {
		ic := mockapi.InstitutionConfig{ExternalID: fmt.Sprintf("MOCK-%03d", i+1), Name: fmt.Sprintf("Mock Office %d", i+1),
			Kind: "other", Address: "Metro Manila"}
		if i < len(demo) {
			ic = demo[i]
		}
		ic.Counters, ic.Arrival, ic.Service, ic.Initial, ic.Hours = *counters, arr, svc, *initial, h
		cfg.Institutions = append(cfg.Institutions, ic)
	}
	srv, err := mockapi.New(cfg)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return fmt.Errorf("-addr %q: %w", *listen, err)
	}
	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second}
	go srv.Run(ctx)
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	cfg.Logger.Info("mockapi serving", "addr", ln.Addr().String(), "institutions", *count, "speed", *speed)
	select {
	case <-ctx.Done():
	case err := <-errc:
		return err
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return hs.Shutdown(sctx)
}

func or(v, def string) string {
	if v != "" {
		return v
	}
	return def
}
