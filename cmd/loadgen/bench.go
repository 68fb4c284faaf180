package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/queueless/queueless/loadtest"
)

// bench runs the benchmarks and writes their sections of the report.
func bench(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("loadgen bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg loadtest.BenchConfig
	fs.StringVar(&cfg.PostgresURL, "pg-url", envOr(getenv, "BENCH_DATABASE_URL", envOr(getenv, "TEST_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable")),
		"PostgreSQL URL allowed to CREATE DATABASE: the run uses a scratch database and drops it (env BENCH_DATABASE_URL, TEST_DATABASE_URL)")
	fs.StringVar(&cfg.RedisURL, "redis-url", envOr(getenv, "BENCH_REDIS_URL", envOr(getenv, "TEST_REDIS_URL", "redis://127.0.0.1:6379/0")),
		"Redis URL; the run keeps to a prefix of its own and deletes its keys (env BENCH_REDIS_URL, TEST_REDIS_URL)")
	fs.IntVar(&cfg.Runs, "runs", 3, "runs of each measurement (the report quotes medians)")
	targets := fs.String("targets", strings.Join(loadtest.BenchTargets, ","), "benchmarks to run")
	fs.BoolVar(&cfg.Profile, "profile", true, "profile the server in the last run of each benchmark")
	fs.DurationVar(&cfg.Trace, "trace", 0, "fan-out: take a runtime trace (go tool trace) this long of the subscribers' QueueLess instance from the first call of the last run, into -workdir (0: none)")
	fs.Float64Var(&cfg.Scale, "scale", 1, "scale the sizes (0.1: a quick rehearsal; figures are then not the targets')")
	fs.StringVar(&cfg.LogLevel, "log-level", "info", "LOG_LEVEL of the QueueLess server under test")
	fs.DurationVar(&cfg.MemoryIdle, "memory-idle", 100*time.Second, "idle time before the memory figure (covers the hub's 30 s pings)")
	fs.StringVar(&cfg.Pgbench, "pgbench", "", "pgbench binary (default: on PATH, else /usr/lib/postgresql/*/bin/pgbench)")
	fs.StringVar(&cfg.ScriptDir, "scripts", "loadtest/pgbench", "directory of setup.sql and one_ticket.sql")
	fs.IntVar(&cfg.Services, "services", 0, "hot joins and the fan-out's institution on this many services A, B, ... (0: v1's one line)")
	fs.Float64Var(&cfg.PriorityShare, "priority-share", 0, "share of those joins in the priority lane (0..1)")
	fs.StringVar(&cfg.Centrifugo, "centrifugo", getenv("CENTRIFUGO_BIN"),
		"Centrifugo binary built by hand from its public source, the fan-out's reference (env CENTRIFUGO_BIN; empty: reported as not built)")
	serverEnv := fs.String("server-env", "", "extra environment of the QueueLess servers under test, comma-separated K=V (e.g. JOBS_YIELD_MAX=0), after the benchmark's own")
	fs.StringVar(&cfg.WorkDir, "workdir", "", "where server logs and profiles go (default: a new temporary directory)")
	out := fs.String("out", "docs/BENCHMARKS.md", "report to update (its generated sections only); empty: print to stdout")
	gobench := fs.String("gobench", "", "file holding `go test -bench` output, to render into the report as well")
	gobenchCmd := fs.String("gobench-command", "go test -run '^$' -bench . -benchmem ./...", "the command that made -gobench")
	command := fs.String("command", "", "how this run was started, for the report (default: the loadgen command line)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg.Targets = splitList(*targets)
	for _, kv := range splitList(*serverEnv) {
		if k, _, ok := strings.Cut(kv, "="); !ok || k == "" {
			return fmt.Errorf("-server-env: %q is not K=V", kv)
		}
		cfg.ServerEnv = append(cfg.ServerEnv, kv)
	}
	cfg.Log = stderr
	if *command == "" {
		*command = "loadgen bench " + strings.Join(args, " ")
	}
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	cfg.Exe = exe
	if cfg.Pgbench == "" && slices.Contains(cfg.Targets, "hot") {
		if cfg.Pgbench, err = findPgbench(); err != nil {
			return err
		}
	}
	start := time.Now()
	rep, err := loadtest.RunBench(ctx, cfg)
	if err != nil {
		return err
	}
	sections := []struct{ begin, end, text string }{{loadtest.BenchBegin, loadtest.BenchEnd, rep.Markdown(*command)}}
	if *gobench != "" {
		data, err := os.ReadFile(*gobench)
		if err != nil {
			return err
		}
		sections = append(sections, struct{ begin, end, text string }{loadtest.GoBenchBegin, loadtest.GoBenchEnd,
			loadtest.GoBenchMarkdown(string(data), *gobenchCmd, rep.Machine, start.UTC())})
	}
	for _, s := range sections {
		if *out == "" {
			fmt.Fprintln(stdout, s.text)
			continue
		}
		if err := loadtest.UpsertSection(*out, s.begin, s.end, s.text); err != nil {
			return err
		}
	}
	if *out != "" {
		fmt.Fprintf(stdout, "wrote %s\n", *out)
	}
	for _, s := range rep.Sections {
		for _, g := range s.Goals {
			mark := "met   "
			if !g.Met {
				mark = "MISSED"
			}
			fmt.Fprintf(stdout, "%s %s: %s (target %s; %s)\n", mark, g.What, g.Result, g.Target, g.Reference)
		}
	}
	return nil
}

func findPgbench() (string, error) {
	if p, err := exec.LookPath("pgbench"); err == nil {
		return p, nil
	}
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/pgbench")
	if len(matches) > 0 {
		slices.Sort(matches)
		return matches[len(matches)-1], nil
	}
	return "", errors.New("pgbench not found: install postgresql-contrib (Debian: postgresql), or pass -pgbench")
}
