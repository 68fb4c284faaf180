// Command fanout measures live fan-out latency: the time from a staff
// advance (the HTTP request leaving) to the institution update arriving at
// each of N subscribers, p50 and p99, for QueueLess in production mode
// (PostgreSQL, Redis broker) and, in the same run, for a minimal
// coder/websocket broadcast server as the reference.
//
//	go run ./loadtest/fanout -database-url postgres://... -redis-url redis://... -n 1000,10000
//
// Subscribers run in child processes ("clients" subcommand) of at most
// -per-proc connections each, each dialling from its own 127.0.0.x source
// address, so that no process nears the 20,000 open-file limit and no
// source address runs out of ports. Advances are spaced by -gap so that one
// fan-out ends before the next begins: this measures latency, not
// throughput. It talks to the servers over HTTP and WebSocket only.
package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/google/uuid"
)

func main() {
	var err error
	switch {
	case len(os.Args) > 1 && os.Args[1] == "clients":
		err = runClients(os.Args[2:])
	case len(os.Args) > 1 && os.Args[1] == "minimal":
		err = runMinimal(os.Args[2:])
	default:
		err = run(os.Args[1:])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "fanout:", err)
		os.Exit(1)
	}
}

type options struct {
	dbURL, redisURL, server string
	sizes                   []int
	perProc                 int
	advances, warmup        int
	gap                     time.Duration
	instances               int
	rounds                  int
}

func run(args []string) error {
	fs := flag.NewFlagSet("fanout", flag.ExitOnError)
	var o options
	sizes := fs.String("n", "1000,10000", "subscriber counts to measure")
	fs.StringVar(&o.dbURL, "database-url", os.Getenv("DATABASE_URL"), "PostgreSQL URL (a schema of its own is made and dropped)")
	fs.StringVar(&o.redisURL, "redis-url", os.Getenv("REDIS_URL"), "Redis URL")
	fs.StringVar(&o.server, "server", "", "queueless binary; built from ./cmd/queueless when empty")
	fs.IntVar(&o.perProc, "per-proc", 2500, "subscribers per client process")
	fs.IntVar(&o.advances, "advances", 40, "measured advances per run")
	fs.IntVar(&o.warmup, "warmup", 5, "advances before measuring")
	fs.DurationVar(&o.gap, "gap", 0, "time between advances (default 100ms per 1,000 subscribers, at least 100ms)")
	fs.IntVar(&o.rounds, "rounds", 3, "rounds per size; the servers alternate, and the summary takes the median round")
	fs.IntVar(&o.instances, "instances", 1, "QueueLess processes; with 2 or more, advances go to the first and subscribers to the others, through Redis")
	_ = fs.Parse(args)
	if o.dbURL == "" || o.redisURL == "" {
		return errors.New("-database-url and -redis-url (or DATABASE_URL and REDIS_URL) are required: production mode")
	}
	for _, s := range strings.Split(*sizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 {
			return fmt.Errorf("-n: %q is not a count", s)
		}
		o.sizes = append(o.sizes, n)
	}
	if o.server == "" {
		dir, err := os.MkdirTemp("", "fanout-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		o.server = filepath.Join(dir, "queueless")
		cmd := exec.Command("go", "build", "-o", o.server, "./cmd/queueless")
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("build server: %w", err)
		}
	}
	fmt.Printf("| subscribers | server | round | p50 | p99 | max | frames | missing |\n|---|---|---|---|---|---|---|---|\n")
	type summary struct {
		n          int
		name       string
		p50s, p99s []time.Duration
	}
	var sums []*summary
	for _, n := range o.sizes {
		gap := o.gap
		if gap == 0 {
			gap = max(100*time.Millisecond, time.Duration(n/1000)*100*time.Millisecond)
		}
		targets := []target{&minimalTarget{}, &queuelessTarget{o: o}}
		byTarget := map[target]*summary{}
		for _, t := range targets {
			byTarget[t] = &summary{n: n, name: t.name()}
			sums = append(sums, byTarget[t])
		}
		for r := range o.rounds {
			for _, t := range targets {
				res, err := measure(o, t, n, gap)
				if err != nil {
					return fmt.Errorf("%s with %d subscribers: %w", t.name(), n, err)
				}
				fmt.Printf("| %d | %s | %d | %s | %s | %s | %d | %d |\n", n, t.name(), r+1, ms(res.p50), ms(res.p99), ms(res.max), res.count, res.missing)
				byTarget[t].p50s = append(byTarget[t].p50s, res.p50)
				byTarget[t].p99s = append(byTarget[t].p99s, res.p99)
			}
		}
	}
	fmt.Printf("\nMedian of %d rounds:\n\n| subscribers | server | p50 | p99 |\n|---|---|---|---|\n", o.rounds)
	for _, s := range sums {
		slices.Sort(s.p50s)
		slices.Sort(s.p99s)
		fmt.Printf("| %d | %s | %s | %s |\n", s.n, s.name, ms(s.p50s[len(s.p50s)/2]), ms(s.p99s[len(s.p99s)/2]))
	}
	return nil
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond)) }

// target is a server under measurement.
type target interface {
	name() string
	start() error
	streamURL(i int) string // the stream of the i-th client process
	trigger() (version int64, err error)
	stop()
}

type result struct {
	p50, p99, max  time.Duration
	count, missing int
}

func measure(o options, t target, n int, gap time.Duration) (*result, error) {
	if err := t.start(); err != nil {
		return nil, err
	}
	defer t.stop()
	procs := (n + o.perProc - 1) / o.perProc
	var clients []*clientProc
	defer func() {
		for _, c := range clients {
			c.kill()
		}
	}()
	for i := range procs {
		k := min(o.perProc, n-i*o.perProc)
		c, err := startClients(t.streamURL(i), k, fmt.Sprintf("127.0.0.%d", 2+i))
		if err != nil {
			return nil, err
		}
		clients = append(clients, c)
	}
	for _, c := range clients {
		if err := c.waitReady(); err != nil {
			return nil, err
		}
	}
	sent := map[int64]int64{} // version -> Unix ns the request left
	for i := range o.warmup + o.advances {
		t0 := time.Now().UnixNano()
		v, err := t.trigger()
		if err != nil {
			return nil, err
		}
		if i >= o.warmup {
			sent[v] = t0
		}
		time.Sleep(gap)
	}
	var lat []time.Duration
	for _, c := range clients {
		samples, err := c.finish()
		if err != nil {
			return nil, err
		}
		for _, s := range samples {
			if t0, ok := sent[s.version]; ok {
				lat = append(lat, time.Duration(s.at-t0))
			}
		}
	}
	if len(lat) == 0 {
		return nil, errors.New("no frame arrived")
	}
	slices.Sort(lat)
	q := func(p float64) time.Duration { return lat[min(len(lat)-1, int(p*float64(len(lat))))] }
	return &result{p50: q(0.50), p99: q(0.99), max: lat[len(lat)-1], count: len(lat), missing: n*o.advances - len(lat)}, nil
}

// clientProc is a child process holding subscribers.
type clientProc struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	out   *bufio.Reader
}

func startClients(streamURL string, n int, src string) (*clientProc, error) {
	cmd := exec.Command(os.Args[0], "clients", "-url", streamURL, "-n", strconv.Itoa(n), "-src", src)
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	return &clientProc{cmd: cmd, stdin: in, out: bufio.NewReaderSize(out, 1<<16)}, nil
}

func (c *clientProc) waitReady() error {
	line, err := c.out.ReadString('\n')
	if err != nil {
		return fmt.Errorf("client process: %w", err)
	}
	var ok, failed int
	if _, err := fmt.Sscanf(line, "ready %d %d", &ok, &failed); err != nil || failed > 0 {
		return fmt.Errorf("client process: %q", strings.TrimSpace(line))
	}
	return nil
}

func (c *clientProc) finish() ([]sample, error) {
	_ = c.stdin.Close()
	var out []sample
	for {
		line, err := c.out.ReadString('\n')
		if err == io.EOF {
			break
		} else if err != nil {
			return nil, err
		}
		var s sample
		if _, err := fmt.Sscanf(line, "%d %d", &s.version, &s.at); err == nil {
			out = append(out, s)
		}
	}
	return out, c.cmd.Wait()
}

func (c *clientProc) kill() {
	if c.cmd.ProcessState == nil {
		_ = c.cmd.Process.Kill()
		_ = c.cmd.Wait()
	}
}

// minimalTarget runs the reference broadcast server in a child process.
type minimalTarget struct {
	base string
	cmd  *exec.Cmd
	seq  int64
}

func (m *minimalTarget) name() string { return "minimal coder/websocket" }

func (m *minimalTarget) start() error {
	addr, err := freeAddr()
	if err != nil {
		return err
	}
	m.base = "http://" + addr
	m.cmd = exec.Command(os.Args[0], "minimal", "-addr", addr)
	m.cmd.Stderr = os.Stderr
	m.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := m.cmd.Start(); err != nil {
		return err
	}
	return waitHealthy(m.base)
}

func (m *minimalTarget) streamURL(int) string { return "ws" + m.base[4:] + "/ws" }

func (m *minimalTarget) trigger() (int64, error) {
	m.seq++
	resp, err := http.Post(fmt.Sprintf("%s/publish?v=%d", m.base, m.seq), "", nil)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return m.seq, nil
}

func (m *minimalTarget) stop() {
	_ = m.cmd.Process.Kill()
	_ = m.cmd.Wait()
}

// queuelessTarget runs QueueLess processes in production mode on a
// schema and key prefix of their own.
type queuelessTarget struct {
	o      options
	schema string
	bases  []string
	cmds   []*exec.Cmd
	instID int64
}

const adminToken = "fanout-benchmark-admin-token-0123"

func (q *queuelessTarget) name() string {
	if q.o.instances > 1 {
		return fmt.Sprintf("QueueLess (%d instances, via Redis)", q.o.instances)
	}
	return "QueueLess"
}

func (q *queuelessTarget) start() error {
	tag := make([]byte, 6)
	_, _ = rand.Read(tag)
	q.schema = "fanout_" + hex.EncodeToString(tag)
	if err := execSQL(q.o.dbURL, "CREATE SCHEMA "+q.schema); err != nil {
		return err
	}
	u, err := url.Parse(q.o.dbURL)
	if err != nil {
		return err
	}
	qs := u.Query()
	qs.Set("search_path", q.schema)
	u.RawQuery = qs.Encode()
	for range q.o.instances {
		addr, err := freeAddr()
		if err != nil {
			return err
		}
		cmd := exec.Command(q.o.server)
		cmd.Env = append(os.Environ(), "ADDR="+addr, "DATABASE_URL="+u.String(), "REDIS_URL="+q.o.redisURL,
			"REDIS_PREFIX="+q.schema+":", "ADMIN_TOKEN="+adminToken, "WS_MAX_PER_IP=0",
			"JOIN_RATE=off", "JOIN_PHONE_RATE=off", "JOIN_ADDRESS_RATE=off", "LOG_LEVEL=warn", "LOG_FORMAT=json")
		cmd.Stderr = os.Stderr
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		if err := cmd.Start(); err != nil {
			return err
		}
		q.cmds = append(q.cmds, cmd)
		q.bases = append(q.bases, "http://"+addr)
		if err := waitHealthy("http://" + addr); err != nil {
			return err
		}
	}
	var inst struct {
		ID int64 `json:"id"`
	}
	if err := q.call("POST", "/api/v1/institutions", `{"name":"Fan-out Office","kind":"government","address":"Quezon City","status":"open"}`, &inst); err != nil {
		return err
	}
	q.instID = inst.ID
	for range q.o.warmup + q.o.advances + 5 {
		if err := q.call("POST", fmt.Sprintf("/api/v1/institutions/%d/tickets", q.instID), "", nil); err != nil {
			return err
		}
	}
	return nil
}

func (q *queuelessTarget) streamURL(i int) string {
	base := q.bases[0]
	if len(q.bases) > 1 {
		base = q.bases[1+i%(len(q.bases)-1)]
	}
	return fmt.Sprintf("ws%s/api/v1/institutions/%d/live", base[4:], q.instID)
}

func (q *queuelessTarget) trigger() (int64, error) {
	var res struct {
		Institution struct {
			Version int64 `json:"version"`
		} `json:"institution"`
	}
	err := q.call("POST", fmt.Sprintf("/api/v1/institutions/%d/advance", q.instID), `{"count":1,"counter":"3"}`, &res)
	return res.Institution.Version, err
}

func (q *queuelessTarget) call(method, path, body string, out any) error {
	req, _ := http.NewRequest(method, q.bases[0]+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+adminToken)
	if body != "" || method != "GET" {
		req.Header.Set("Content-Type", "application/json") // the server wants it on every change, body or not
	}
	if method == "POST" && strings.HasSuffix(path, "/tickets") {
		req.Header.Set("Idempotency-Key", "fanout-"+uuid.NewString()) // every join has its own
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, b)
	}
	if out != nil {
		return json.Unmarshal(b, out)
	}
	return nil
}

func (q *queuelessTarget) stop() {
	for _, cmd := range q.cmds {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	}
	q.cmds, q.bases = nil, nil
	if q.schema != "" {
		if err := execSQL(q.o.dbURL, "DROP SCHEMA "+q.schema+" CASCADE"); err != nil {
			fmt.Fprintln(os.Stderr, "fanout: drop schema:", err)
		}
	}
}

func execSQL(dbURL, sql string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, sql)
	return err
}

func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

func waitHealthy(base string) error {
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(base + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("%s did not become healthy", base)
}
