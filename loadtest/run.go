package loadtest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
	"time"
)

// Options are the settings every scenario shares.
type Options struct {
	BaseURL    string `json:"base_url"`
	AdminToken string `json:"admin_token"`
	// Duration is how long the load phase lasts at most.
	Duration time.Duration `json:"duration"`
	// MaxTime bounds the whole run, set-up and verification included.
	MaxTime time.Duration `json:"max_time"`
	// Timeout bounds each request and handshake.
	Timeout time.Duration `json:"timeout"`
	// Procs is the number of worker processes that make the load; 0 makes
	// it in this process. Each process may hold ~19,000 connections.
	Procs int `json:"procs"`
	// Addresses is how many client addresses the requests present in
	// X-Forwarded-For; 0 sends none.
	Addresses int `json:"addresses"`
	// SourceCIDR spreads connections over these local source addresses
	// (loopback targets only).
	SourceCIDR string `json:"source_cidr"`
	// Verify checks the issued tickets through the API after the run.
	Verify bool `json:"verify"`

	// Progress is the interval of the progress line; 0: none.
	Progress time.Duration `json:"-"`
	// ProgressOut receives the progress line (stderr).
	ProgressOut io.Writer `json:"-"`
	// WorkerCommand starts a worker process: argv, then env additions.
	// Default: this executable with the argument "worker".
	WorkerCommand []string `json:"-"`
	WorkerEnv     []string `json:"-"`
	// AllReady, when set, runs in the lead once every shard is prepared
	// and before the load starts (the benchmark reads memory there).
	AllReady func(ctx context.Context) error `json:"-"`
}

func (o *Options) defaults() {
	if o.Duration <= 0 {
		o.Duration = 10 * time.Second
	}
	if o.MaxTime <= 0 {
		o.MaxTime = o.Duration + 5*time.Minute
	}
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	if o.ProgressOut == nil {
		o.ProgressOut = os.Stderr
	}
}

// Shard is one process's part of the load: index Index of Count.
type Shard struct {
	Index int `json:"index"`
	Count int `json:"count"`
}

// Part splits n between the shards; the first ones take the remainder.
func (s Shard) Part(n int) int {
	p := n / s.Count
	if s.Index < n%s.Count {
		p++
	}
	return p
}

// Global returns the run-wide index of this shard's i-th item.
func (s Shard) Global(i int) int { return i*s.Count + s.Index }

// Scenario is one kind of load. Its exported fields are its parameters
// and travel to worker processes as JSON, together with what setup filled
// in.
type Scenario interface {
	Name() string
	// setup runs once in the lead process before any load: it creates
	// what the scenario needs (an institution) and stores it in fields.
	setup(ctx context.Context, r *Run) error
	// prepare runs in every shard before the load (connect subscribers).
	prepare(ctx context.Context, r *Run, sh Shard) error
	// load runs in every shard until its work is done or ctx ends.
	load(ctx context.Context, r *Run, sh Shard) error
	// lead runs in the lead process while the shards load (staff calls).
	lead(ctx context.Context, r *Run) error
	// leadEnds reports whether the end of lead ends the load (it holds
	// connections open until then) rather than the load ending by itself.
	leadEnds() bool
	// finish checks the outcome in the lead process.
	finish(ctx context.Context, r *Run, res *Result) error
}

// scenarios makes an empty scenario by name, for workers.
var scenarios = map[string]func() Scenario{
	"join":   func() Scenario { return &Join{} },
	"fanout": func() Scenario { return &Fanout{} },
	"mixed":  func() Scenario { return &Mixed{} },
}

// Run is the state of one run in one process.
type Run struct {
	Opts   Options
	Client *Client
	Rec    *Recorder
}

// Check is a verified property of a run.
type Check struct {
	Name   string `json:"name"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail"`
}

// Result is what a run reports.
type Result struct {
	Scenario string           `json:"scenario"`
	Target   string           `json:"target"`
	Started  time.Time        `json:"started"`
	Elapsed  float64          `json:"elapsed_seconds"` // of the load phase
	Procs    int              `json:"procs"`
	Params   json.RawMessage  `json:"params"`
	Ops      []OpSummary      `json:"ops"`
	Gauges   map[string]int64 `json:"gauges,omitempty"`
	Checks   []Check          `json:"checks,omitempty"`
	Info     map[string]any   `json:"info,omitempty"`
	// Snapshot is the merged raw record (with issued tickets).
	Snapshot *Snapshot `json:"-"`
}

// OK reports whether every check passed.
func (r *Result) OK() bool {
	for _, c := range r.Checks {
		if !c.OK {
			return false
		}
	}
	return true
}

func (r *Result) check(name string, ok bool, format string, args ...any) {
	r.Checks = append(r.Checks, Check{Name: name, OK: ok, Detail: fmt.Sprintf(format, args...)})
}

func (r *Result) info(k string, v any) {
	if r.Info == nil {
		r.Info = map[string]any{}
	}
	r.Info[k] = v
}

// WriteText prints a result for people.
func (r *Result) WriteText(w io.Writer) {
	fmt.Fprintf(w, "\n%s against %s: %.1fs of load, %d worker process(es)\n", r.Scenario, r.Target, r.Elapsed, r.Procs)
	WriteTable(w, r.Ops)
	for k, v := range r.Gauges {
		fmt.Fprintf(w, "%s at the end: %d\n", k, v)
	}
	for _, k := range sortedKeys(r.Info) {
		fmt.Fprintf(w, "%s: %v\n", k, r.Info[k])
	}
	for _, c := range r.Checks {
		mark := "ok  "
		if !c.OK {
			mark = "FAIL"
		}
		fmt.Fprintf(w, "%s %s: %s\n", mark, c.Name, c.Detail)
	}
}

// Execute runs sc: set-up, the load in Procs shards (worker processes, or
// this process when Procs is 0) with the lead's part beside it, then the
// checks. The progress line goes to ProgressOut.
func Execute(ctx context.Context, opts Options, sc Scenario) (*Result, error) {
	if n, ok := sc.(interface{ needs() time.Duration }); ok {
		opts.Duration = max(opts.Duration, n.needs())
	}
	opts.defaults()
	ctx, cancel := context.WithTimeout(ctx, opts.MaxTime)
	defer cancel()
	r, err := newRun(opts)
	if err != nil {
		return nil, err
	}
	defer r.Client.Close()
	res := &Result{Scenario: sc.Name(), Target: opts.BaseURL, Started: time.Now().UTC(), Procs: opts.Procs}
	if err := sc.setup(ctx, r); err != nil {
		return nil, fmt.Errorf("%s: set up: %w", sc.Name(), err)
	}
	var shards []shardHandle
	if opts.Procs <= 0 {
		shards = []shardHandle{startLocal(ctx, r, sc, Shard{0, 1})}
	} else {
		for i := range opts.Procs {
			h, err := startWorker(ctx, opts, sc, Shard{i, opts.Procs})
			if err != nil {
				for _, s := range shards {
					s.stop()
				}
				return nil, err
			}
			shards = append(shards, h)
		}
	}
	snap, err := r.drive(ctx, sc, shards)
	if err != nil {
		return nil, err
	}
	res.Elapsed = snap.Elapsed.Seconds()
	res.Ops = snap.Summaries()
	res.Gauges = snap.Gauges
	res.Snapshot = snap
	res.Params, _ = json.Marshal(sc)
	fctx, fcancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
	defer fcancel()
	if err := sc.finish(fctx, r, res); err != nil {
		return res, fmt.Errorf("%s: check: %w", sc.Name(), err)
	}
	return res, nil
}

func newRun(opts Options) (*Run, error) {
	rec := NewRecorder(opts.Verify)
	c, err := NewClient(ClientConfig{BaseURL: opts.BaseURL, AdminToken: opts.AdminToken, Timeout: opts.Timeout,
		Conns: 4096, SourceCIDR: opts.SourceCIDR}, rec)
	if err != nil {
		return nil, err
	}
	return &Run{Opts: opts, Client: c, Rec: rec}, nil
}

// shardHandle is a shard running here or in a worker process.
type shardHandle interface {
	ready() <-chan error        // one value: nil once prepared
	start()                     // begin the load
	stop()                      // end the load (and the process)
	done() <-chan struct{}      // closed when the load ended and the result is in
	result() (*Snapshot, error) // after done
	progress() *Snapshot        // latest, may be nil
}

// drive waits for the shards to be prepared, starts the load and the lead,
// prints progress, and ends the run. It returns every process's record,
// merged.
func (r *Run) drive(ctx context.Context, sc Scenario, shards []shardHandle) (*Snapshot, error) {
	stopAll := func() {
		for _, s := range shards {
			s.stop()
		}
	}
	for _, s := range shards {
		select {
		case err := <-s.ready():
			if err != nil {
				stopAll()
				return nil, fmt.Errorf("%s: prepare: %w", sc.Name(), err)
			}
		case <-ctx.Done():
			stopAll()
			return nil, fmt.Errorf("%s: prepare: %w", sc.Name(), ctx.Err())
		}
	}
	if r.Opts.AllReady != nil {
		if err := r.Opts.AllReady(ctx); err != nil {
			stopAll()
			return nil, err
		}
	}
	r.Rec.Restart()
	for _, s := range shards {
		s.start()
	}
	loadCtx, cancelLoad := context.WithTimeout(ctx, r.Opts.Duration+r.Opts.Timeout+30*time.Second)
	defer cancelLoad()
	leadCtx, cancelLead := context.WithCancel(loadCtx)
	defer cancelLead()
	leadErr := make(chan error, 1)
	go func() { leadErr <- sc.lead(leadCtx, r) }()

	allDone := make(chan struct{})
	go func() {
		for _, s := range shards {
			<-s.done()
		}
		close(allDone)
	}()
	prog := newProgress(r.Opts)
	tick := time.NewTicker(max(r.Opts.Progress, 100*time.Millisecond))
	defer tick.Stop()
	merged := func() *Snapshot {
		s := r.Rec.Snapshot(false)
		for _, sh := range shards {
			s.Merge(sh.progress())
		}
		return s
	}
	var err error
	leadOver := false
loop:
	for {
		select {
		case e := <-leadErr:
			leadOver, err = true, e
			if sc.leadEnds() || err != nil {
				stopAll()
			}
		case <-allDone:
			break loop
		case <-loadCtx.Done():
			stopAll()
			<-allDone
			break loop
		case <-tick.C:
			if r.Opts.Progress > 0 {
				prog.print(merged())
			}
		}
	}
	if !leadOver {
		cancelLead()
		err = <-leadErr
	}
	if errors.Is(err, context.Canceled) {
		err = nil
	}
	prog.end()
	snap := r.Rec.Snapshot(true)
	for _, s := range shards {
		ss, serr := s.result()
		if serr != nil {
			return nil, fmt.Errorf("%s: load: %w", sc.Name(), serr)
		}
		snap.Merge(ss)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: lead: %w", sc.Name(), err)
	}
	return snap, nil
}

// localShard runs a shard in this process.
type localShard struct {
	readyC chan error
	goC    chan struct{}
	doneC  chan struct{}
	cancel context.CancelFunc
	rec    *Recorder
	err    error
	once   sync.Once
}

func startLocal(ctx context.Context, r *Run, sc Scenario, sh Shard) *localShard {
	ctx, cancel := context.WithCancel(ctx)
	l := &localShard{readyC: make(chan error, 1), goC: make(chan struct{}), doneC: make(chan struct{}), cancel: cancel, rec: r.Rec}
	go func() {
		defer close(l.doneC)
		err := sc.prepare(ctx, r, sh)
		l.readyC <- err
		if err != nil {
			l.err = err
			return
		}
		select {
		case <-l.goC:
		case <-ctx.Done():
			return
		}
		if err := sc.load(ctx, r, sh); err != nil && ctx.Err() == nil {
			l.err = err
		}
	}()
	return l
}

func (l *localShard) ready() <-chan error   { return l.readyC }
func (l *localShard) start()                { close(l.goC) }
func (l *localShard) stop()                 { l.once.Do(l.cancel) }
func (l *localShard) done() <-chan struct{} { return l.doneC }
func (l *localShard) progress() *Snapshot   { return nil } // the lead's recorder is this shard's
func (l *localShard) result() (*Snapshot, error) {
	return nil, l.err
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// progress prints the live progress line: in place on a terminal, one
// line per interval elsewhere.
type progress struct {
	out      io.Writer
	terminal bool
	last     *Snapshot
	lastAt   time.Time
	printed  bool
}

func newProgress(o Options) *progress {
	p := &progress{out: o.ProgressOut, lastAt: time.Now()}
	if f, ok := o.ProgressOut.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			p.terminal = true
		}
	}
	return p
}

func (p *progress) print(s *Snapshot) {
	now := time.Now()
	dt := now.Sub(p.lastAt).Seconds()
	var b strings.Builder
	fmt.Fprintf(&b, "%6.1fs", s.Elapsed.Seconds())
	for _, name := range sortedKeys(s.Ops) {
		o := s.Ops[name]
		n := o.Total()
		var prev uint64
		if p.last != nil && p.last.Ops[name] != nil {
			prev = p.last.Ops[name].Total()
		}
		fmt.Fprintf(&b, " | %s %.0f/s", name, float64(n-prev)/dt)
		if o.All.Count() > 0 {
			fmt.Fprintf(&b, " p99 %.1fms", ms(o.All.Quantile(.99)))
		}
		fmt.Fprintf(&b, " [%s]", FormatStatuses(o.Statuses))
	}
	for _, g := range sortedKeys(s.Gauges) {
		fmt.Fprintf(&b, " | %s=%d", g, s.Gauges[g])
	}
	if p.terminal {
		fmt.Fprintf(p.out, "\r\033[K%s", b.String())
	} else {
		fmt.Fprintln(p.out, b.String())
	}
	p.printed = true
	p.last, p.lastAt = s, now
}

func (p *progress) end() {
	if p.terminal && p.printed {
		fmt.Fprintln(p.out)
	}
}
