package loadtest

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// BenchConfig configures the benchmark run (loadgen bench, make bench).
type BenchConfig struct {
	// PostgresURL may CREATE DATABASE: the run makes its own and drops it.
	PostgresURL string
	// RedisURL is shared: the run keeps to a prefix of its own and deletes
	// its keys at the end.
	RedisURL string
	// Runs of each measurement; the report quotes medians.
	Runs int
	// Targets to run: hot, fanout, flash, memory, sweep, phones (default all).
	Targets []string
	// Profile takes CPU (and heap) profiles in the last run of each target.
	Profile bool
	// Trace, when positive, takes a runtime trace (go tool trace) of the
	// subscribers' QueueLess instance for this long from the first call of
	// the fan-out's last run, into WorkDir: fanout-x1.trace, fanout-x2.trace.
	Trace time.Duration
	// Scale multiplies the sizes (subscribers, joiners, joins): 0.1 makes
	// a quick rehearsal of the whole run. Figures at another scale than 1
	// are not the targets'.
	Scale float64
	// MemoryIdle is how long the memory benchmark leaves its connections
	// idle before the figure it judges: long enough for the hub's pings.
	MemoryIdle time.Duration
	// LogLevel of the QueueLess server (its LOG_LEVEL): info, as deployed.
	LogLevel string
	// Exe is the loadgen binary: servers, the reference server and workers.
	Exe string
	// Pgbench is the pgbench binary; ScriptDir holds setup.sql and one_ticket.sql.
	Pgbench   string
	ScriptDir string
	// WorkDir keeps logs and profiles.
	WorkDir string
	// Log receives progress.
	Log io.Writer
	// Centrifugo is the path of a Centrifugo binary the user built from its
	// public source, the fan-out's reference; empty: that reference is
	// reported as not built.
	Centrifugo string
	// Services and PriorityShare put the hot joins and the fan-out's
	// institution on that many services (A, B, ...) with that share of
	// priority tickets; 0: v1's one line.
	Services      int
	PriorityShare float64
	// ServerEnv is extra environment of every QueueLess server it starts,
	// after the benchmark's own (so it wins): side-by-side runs of one
	// binary with a setting changed, like JOBS_YIELD_MAX=0.
	ServerEnv []string
}

// BenchTargets are the benchmarks, in the order they run.
var BenchTargets = []string{"hot", "fanout", "flash", "memory", "sweep", "phones"}

type bench struct {
	cfg     BenchConfig
	scratch *scratch
	token   string
	log     io.Writer
}

// BenchReport is what a benchmark run measured.
type BenchReport struct {
	Started    time.Time
	Finished   time.Time
	Machine    Machine
	LoadBefore float64
	LoadAfter  float64
	Config     BenchConfig
	Sections   []*BenchSection
}

// BenchSection is one target's figures.
type BenchSection struct {
	Key     string
	Title   string
	Setup   string   // how the server and driver were set up
	Command string   // how to reproduce one run by hand
	Table   []string // Markdown rows, header first
	Goals   []Goal
	Notes   []string
	Profile string // go tool pprof -top of the last run
}

// Goal is one target figure and whether this run met it.
type Goal struct {
	What      string
	Target    string
	Result    string
	Reference string
	Met       bool
}

// RunBench runs the benchmarks.
func RunBench(ctx context.Context, cfg BenchConfig) (*BenchReport, error) {
	if cfg.Runs <= 0 {
		cfg.Runs = 3
	}
	if cfg.Scale <= 0 {
		cfg.Scale = 1
	}
	if len(cfg.Targets) == 0 {
		cfg.Targets = BenchTargets
	}
	if cfg.MemoryIdle <= 0 {
		cfg.MemoryIdle = 100 * time.Second
	}
	if cfg.LogLevel == "" {
		cfg.LogLevel = "info"
	}
	if cfg.Log == nil {
		cfg.Log = os.Stderr
	}
	for _, t := range cfg.Targets {
		if !slices.Contains(BenchTargets, t) {
			return nil, fmt.Errorf("unknown benchmark %q (%s)", t, strings.Join(BenchTargets, ", "))
		}
	}
	if cfg.WorkDir == "" {
		dir, err := os.MkdirTemp("", "loadgen-bench-")
		if err != nil {
			return nil, err
		}
		cfg.WorkDir = dir
	} else if err := os.MkdirAll(cfg.WorkDir, 0o755); err != nil {
		return nil, err
	}
	rep := &BenchReport{Started: time.Now().UTC(), LoadBefore: loadAvg(), Config: cfg}
	rep.Machine = machineInfo(ctx, cfg.PostgresURL, cfg.RedisURL)
	sc, err := newScratch(ctx, cfg.PostgresURL, cfg.RedisURL)
	if err != nil {
		return nil, err
	}
	b := &bench{cfg: cfg, scratch: sc, token: "bench-" + randomHex(16), log: cfg.Log}
	b.logf("scratch database %s, Redis prefix %s, logs and profiles in %s", sc.db, sc.prefix, cfg.WorkDir)
	defer func() {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		if err := sc.drop(dctx); err != nil {
			b.logf("clean up: %v", err)
		} else {
			b.logf("dropped database %s and Redis keys %s*", sc.db, sc.prefix)
		}
	}()
	runs := map[string]func(context.Context) (*BenchSection, error){
		"hot": b.hot, "fanout": b.fanout, "flash": b.flash, "memory": b.memory,
		"sweep": b.sweep, "phones": b.phones,
	}
	for _, t := range BenchTargets {
		if !slices.Contains(cfg.Targets, t) {
			continue
		}
		b.logf("== %s", t)
		s, err := runs[t](ctx)
		if err != nil {
			return rep, fmt.Errorf("%s: %w", t, err)
		}
		rep.Sections = append(rep.Sections, s)
	}
	rep.Finished = time.Now().UTC()
	rep.LoadAfter = loadAvg()
	return rep, nil
}

func (b *bench) logf(format string, args ...any) {
	fmt.Fprintf(b.log, "bench: "+format+"\n", args...)
}

func (b *bench) scaled(n int) int { return max(1, int(float64(n)*b.cfg.Scale)) }

// queueless starts a QueueLess server in production mode on the scratch
// database, with extra environment.
func (b *bench) queueless(ctx context.Context, name string, extra ...string) (*proc, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	paddr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	env := append([]string{
		"ADDR=" + addr, "DATABASE_URL=" + b.scratch.url, "REDIS_URL=" + b.cfg.RedisURL,
		"REDIS_PREFIX=" + b.scratch.prefix, "ADMIN_TOKEN=" + b.token, "TRUSTED_PROXIES=127.0.0.1/32",
		"LOG_FORMAT=json", "LOG_LEVEL=" + b.cfg.LogLevel,
	}, extra...)
	env = append(env, b.cfg.ServerEnv...)
	p, err := startProc(ctx, name, []string{b.cfg.Exe, "serve", "-pprof", paddr}, env, "http://"+addr+"/readyz", b.cfg.WorkDir)
	if err != nil {
		return nil, err
	}
	p.URL = "http://" + addr
	p.PProf = "http://" + paddr + "/debug/pprof/"
	return p, nil
}

// minimal starts the reference server (loadtest/minimal): broadcast and joins.
func (b *bench) minimal(ctx context.Context) (*proc, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	p, err := startProc(ctx, "minimal", []string{b.cfg.Exe, "minimal", "-addr", addr}, nil, "http://"+addr+"/", b.cfg.WorkDir)
	if err != nil {
		return nil, err
	}
	p.URL = "http://" + addr
	return p, nil
}

func (b *bench) options(url string) Options {
	return Options{BaseURL: url, AdminToken: b.token, Timeout: 30 * time.Second, MaxTime: 15 * time.Minute,
		Progress: 2 * time.Second, ProgressOut: b.log,
		WorkerCommand: []string{b.cfg.Exe, "worker"}}
}

// cpuProfile takes a CPU profile of p for d, after a delay, in the
// background; wait returns its top.
func (b *bench) cpuProfile(ctx context.Context, p *proc, name string, delay, d time.Duration) (wait func() string) {
	path := filepath.Join(b.cfg.WorkDir, name+".cpu.pprof")
	var once sync.Once
	var err error
	done := make(chan struct{})
	go func() {
		defer close(done)
		select {
		case <-ctx.Done():
			err = ctx.Err()
			return
		case <-time.After(delay):
		}
		err = fetch(ctx, p.PProf+"profile?seconds="+strconv.Itoa(max(1, int(d.Seconds()))), path)
	}()
	var top string
	return func() string {
		once.Do(func() {
			<-done
			if err != nil {
				top = "(no profile: " + err.Error() + ")"
				return
			}
			top = pprofTop(ctx, b.cfg.Exe, path)
		})
		return top
	}
}

// runtimeTrace takes a runtime trace of p for d, after a delay, in the
// background, into WorkDir/name.trace (for go tool trace).
func (b *bench) runtimeTrace(ctx context.Context, p *proc, name string, delay, d time.Duration) {
	path := filepath.Join(b.cfg.WorkDir, name+".trace")
	go func() {
		select {
		case <-ctx.Done():
			return
		case <-time.After(delay):
		}
		url := p.PProf + "trace?seconds=" + strconv.FormatFloat(d.Seconds(), 'f', -1, 64)
		if err := fetch(ctx, url, path); err != nil {
			b.logf("trace %s: %v", name, err)
			return
		}
		b.logf("trace of %s in %s", name, path)
	}()
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func f0(v float64) string { return strconv.FormatFloat(v, 'f', 0, 64) }
func f1(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) }
func f2(v float64) string { return strconv.FormatFloat(v, 'f', 2, 64) }

func row(cells ...string) string { return "| " + strings.Join(cells, " | ") + " |" }

func header(cells ...string) []string {
	sep := make([]string, len(cells))
	for i := range sep {
		sep[i] = "---:"
	}
	sep[0] = "---"
	return []string{row(cells...), row(sep...)}
}

// noteLines says in section s's setup and command when the run used
// services and priority (-services, -priority-share).
func (b *bench) noteLines(s *BenchSection, what string) {
	if b.cfg.Services <= 1 && b.cfg.PriorityShare <= 0 {
		return
	}
	s.Setup += fmt.Sprintf(" With services in use: %s %d services (A, B, ...) of the institution, %.0f%% in the priority lane.",
		what, max(b.cfg.Services, 1), 100*b.cfg.PriorityShare)
	s.Command += fmt.Sprintf(" (-services %d -priority-share %g)", b.cfg.Services, b.cfg.PriorityShare)
}
