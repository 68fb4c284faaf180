package loadtest

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"
)

// proc is a server the benchmark started: QueueLess (loadgen serve) or
// the minimal reference server (loadgen minimal).
type proc struct {
	name    string
	cmd     *exec.Cmd
	URL     string
	PProf   string // base URL of /debug/pprof/, QueueLess only
	logPath string
	done    chan struct{}
	err     error
}

// freeAddr returns a loopback address with a port that was free a moment ago.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// startProc runs argv with env (and PATH) and waits until url answers HTTP.
func startProc(ctx context.Context, name string, argv, env []string, url, logDir string) (*proc, error) {
	logPath := filepath.Join(logDir, name+".log")
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}, env...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &proc{name: name, cmd: cmd, URL: url, logPath: logPath, done: make(chan struct{})}
	go func() { p.err = cmd.Wait(); close(p.done) }()
	deadline := time.Now().Add(60 * time.Second)
	client := &http.Client{Timeout: 2 * time.Second}
	for {
		resp, err := client.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode < 500 {
				return p, nil
			}
		}
		select {
		case <-p.done:
			return nil, fmt.Errorf("%s exited before answering: %v\n%s", name, p.err, tail(logPath))
		case <-ctx.Done():
			p.stop()
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			p.stop()
			return nil, fmt.Errorf("%s did not answer %s within a minute\n%s", name, url, tail(logPath))
		}
	}
}

// stop ends the process with SIGTERM, then SIGKILL after 30s.
func (p *proc) stop() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// rss returns the resident memory of the process, from /proc/<pid>/status.
func (p *proc) rss() (int64, error) { return vmRSS(p.cmd.Process.Pid) }

func vmRSS(pid int) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if rest, ok := strings.CutPrefix(s.Text(), "VmRSS:"); ok {
			f := strings.Fields(rest) // "123456 kB"
			if len(f) == 2 && f[1] == "kB" {
				kb, err := strconv.ParseInt(f[0], 10, 64)
				return kb * 1024, err
			}
		}
	}
	return 0, errors.New("no VmRSS in /proc/<pid>/status")
}

// procCounters are a process's write system calls and CPU time so far.
type procCounters struct {
	writes int64         // syscw of /proc/<pid>/io
	cpu    time.Duration // utime + stime of /proc/<pid>/stat
}

func (p *proc) counters() (procCounters, error) {
	var c procCounters
	pid := p.cmd.Process.Pid
	io, err := os.ReadFile(fmt.Sprintf("/proc/%d/io", pid))
	if err != nil {
		return c, err
	}
	for _, l := range strings.Split(string(io), "\n") {
		if v, ok := strings.CutPrefix(l, "syscw:"); ok {
			c.writes, err = strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			if err != nil {
				return c, err
			}
		}
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return c, err
	}
	// Fields after the command name, which may hold spaces: state is 3rd,
	// utime the 14th and stime the 15th of the line.
	rest := string(stat[strings.LastIndexByte(string(stat), ')')+2:])
	f := strings.Fields(rest)
	if len(f) < 13 {
		return c, errors.New("short /proc/<pid>/stat")
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return c, err
	}
	// Clock ticks of USER_HZ, 100 a second on Linux.
	c.cpu = time.Duration(ut+st) * 10 * time.Millisecond
	return c, nil
}

func tail(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	if len(b) > 3000 {
		b = b[len(b)-3000:]
	}
	return string(b)
}

// fetch GETs url into a file.
func fetch(ctx context.Context, url, path string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// pprofTop renders a profile with `go tool pprof -top`, by flat time
// (where the CPU goes) and by cumulative time (on whose behalf).
func pprofTop(ctx context.Context, exe, profile string, extra ...string) string {
	flat := pprofRun(ctx, exe, profile, append([]string{"-top", "-nodecount=20"}, extra...))
	cum := pprofRun(ctx, exe, profile, append([]string{"-top", "-cum", "-nodecount=30"}, extra...))
	return flat + "\n\n-cum:\n" + cum
}

func pprofRun(ctx context.Context, exe, profile string, flags []string) string {
	args := append(append([]string{"tool", "pprof"}, flags...), exe, profile)
	out, err := exec.CommandContext(ctx, "go", args...).CombinedOutput()
	if err != nil {
		return fmt.Sprintf("(go tool pprof failed: %v)\n%s", err, out)
	}
	// Keep the totals and the table, not the file and build lines.
	var keep []string
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if strings.HasPrefix(l, "File:") || strings.HasPrefix(l, "Build ID:") || strings.HasPrefix(l, "Time:") {
			continue
		}
		keep = append(keep, l)
	}
	return strings.Join(keep, "\n")
}

// Machine describes where a benchmark ran.
type Machine struct {
	CPUs     int    `json:"cpus"`
	CPU      string `json:"cpu"`
	MemTotal string `json:"mem_total"`
	Kernel   string `json:"kernel"`
	Go       string `json:"go"`
	Postgres string `json:"postgres"`
	Redis    string `json:"redis"`
}

func machineInfo(ctx context.Context, pgURL, redisURL string) Machine {
	m := Machine{CPUs: runtime.NumCPU(), Go: runtime.Version()}
	if out, err := exec.CommandContext(ctx, "nproc").Output(); err == nil {
		if n, err := strconv.Atoi(strings.TrimSpace(string(out))); err == nil {
			m.CPUs = n
		}
	}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "model name"); ok {
				m.CPU = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "MemTotal:"); ok {
				if kb, err := strconv.ParseFloat(strings.Fields(v)[0], 64); err == nil {
					m.MemTotal = fmt.Sprintf("%.1f GiB", kb/(1<<20))
				}
			}
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = "Linux " + strings.TrimSpace(string(b))
	}
	if conn, err := pgx.Connect(ctx, pgURL); err == nil {
		var v string
		if conn.QueryRow(ctx, "SHOW server_version").Scan(&v) == nil {
			m.Postgres = "PostgreSQL " + v
		}
		var fsync, sc string
		if conn.QueryRow(ctx, "SELECT current_setting('fsync'), current_setting('synchronous_commit')").Scan(&fsync, &sc) == nil {
			m.Postgres += fmt.Sprintf(" (fsync %s, synchronous_commit %s)", fsync, sc)
		}
		conn.Close(ctx)
	}
	if opts, err := redis.ParseURL(redisURL); err == nil {
		c := redis.NewClient(opts)
		if info, err := c.Info(ctx, "server").Result(); err == nil {
			for _, l := range strings.Split(info, "\n") {
				if v, ok := strings.CutPrefix(strings.TrimSpace(l), "redis_version:"); ok {
					m.Redis = "Redis " + v
				}
			}
		}
		c.Close()
	}
	return m
}

// loadAvg returns the 1-minute load average.
func loadAvg() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return -1
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return -1
	}
	v, _ := strconv.ParseFloat(f[0], 64)
	return v
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// scratch is the benchmark's own database and Redis prefix, removed at the end.
type scratch struct {
	db       string
	adminURL string // the configured URL, to create and drop db
	url      string // db's URL
	redisURL string
	prefix   string
}

func newScratch(ctx context.Context, pgURL, redisURL string) (*scratch, error) {
	s := &scratch{db: "ql_bench_" + randomHex(6), adminURL: pgURL, redisURL: redisURL}
	s.prefix = s.db + ":"
	cfg, err := pgx.ParseConfig(pgURL)
	if err != nil {
		return nil, fmt.Errorf("postgres URL: %w", err)
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect to postgres: %w", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{s.db}.Sanitize()); err != nil {
		return nil, fmt.Errorf("create scratch database: %w", err)
	}
	s.url, err = withDatabase(pgURL, s.db)
	return s, err
}

// settle waits until no autovacuum worker is busy in the scratch database
// (at most settleWait), then checkpoints, and says how long it waited: a
// measurement then starts without the previous one's vacuum and dirty pages
// competing for the disk with its commits. Each run of a benchmark leaves
// tens of thousands of rows behind, which autovacuum takes on within a
// minute; a commit waiting for the disk behind it took 35 to 400 ms here
// (docs/BENCHMARKS.md, "The open-loop join sweep").
func (s *scratch) settle(ctx context.Context) (time.Duration, error) {
	start := time.Now()
	conn, err := pgx.Connect(ctx, s.url)
	if err != nil {
		return 0, fmt.Errorf("settle: connect: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	for time.Since(start) < settleWait {
		var busy int
		err := conn.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity
			WHERE backend_type = 'autovacuum worker' AND datname = current_database()`).Scan(&busy)
		if err != nil {
			return 0, fmt.Errorf("settle: %w", err)
		}
		if busy == 0 {
			break
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
	if _, err := conn.Exec(ctx, "CHECKPOINT"); err != nil {
		return 0, fmt.Errorf("settle: checkpoint (the benchmark's PostgreSQL user must be allowed to): %w", err)
	}
	return time.Since(start), nil
}

// settleWait bounds the wait for autovacuum in settle.
const settleWait = 2 * time.Minute

// withDatabase returns pgURL naming database db instead.
func withDatabase(pgURL, db string) (string, error) {
	if strings.HasPrefix(pgURL, "postgres://") || strings.HasPrefix(pgURL, "postgresql://") {
		i := strings.Index(pgURL, "://") + 3
		rest := pgURL[i:]
		q := ""
		if j := strings.IndexByte(rest, '?'); j >= 0 {
			rest, q = rest[:j], rest[j:]
		}
		if j := strings.IndexByte(rest, '/'); j >= 0 {
			rest = rest[:j]
		}
		return pgURL[:i] + rest + "/" + db + q, nil
	}
	return pgURL + " dbname=" + db, nil
}

// drop removes the database and the Redis keys.
func (s *scratch) drop(ctx context.Context) error {
	var errs []error
	conn, err := pgx.Connect(ctx, s.adminURL)
	if err == nil {
		_, err = conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{s.db}.Sanitize()+" WITH (FORCE)")
		conn.Close(ctx)
	}
	if err != nil {
		errs = append(errs, fmt.Errorf("drop database %s: %w", s.db, err))
	}
	if opts, err := redis.ParseURL(s.redisURL); err == nil {
		c := redis.NewClient(opts)
		defer c.Close()
		iter := c.Scan(ctx, 0, s.prefix+"*", 1000).Iterator()
		var keys []string
		for iter.Next(ctx) {
			keys = append(keys, iter.Val())
		}
		if err := iter.Err(); err != nil {
			errs = append(errs, fmt.Errorf("scan redis keys %s*: %w", s.prefix, err))
		}
		for len(keys) > 0 {
			n := min(len(keys), 500)
			if err := c.Del(ctx, keys[:n]...).Err(); err != nil {
				errs = append(errs, err)
				break
			}
			keys = keys[n:]
		}
	}
	return errors.Join(errs...)
}
