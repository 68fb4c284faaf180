package chaos

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/jackc/pgx/v5"

	"github.com/queueless/queueless/internal/testenv"
)

// profile sizes a run: the short one fits CI on two cores (one Redis); the
// long one (CHAOS_LONG=1, make chaos) pushes a larger crowd for longer,
// over a three-master Redis Cluster.
type profile struct {
	joiners     int           // goroutines joining without pause
	subscribers int           // live subscribers per instance
	crowd       time.Duration // crowd before the fault and after it
	converge    time.Duration // most time allowed to converge
	cluster     bool          // a Redis Cluster rather than one Redis
}

func currentProfile() (string, profile) {
	if os.Getenv("CHAOS_LONG") != "" {
		return "long", profile{joiners: 24, subscribers: 60, crowd: 5 * time.Second, converge: 30 * time.Second, cluster: true}
	}
	return "short", profile{joiners: 6, subscribers: 10, crowd: 1500 * time.Millisecond, converge: 20 * time.Second}
}

// system is everything a chaos run starts.
type system struct {
	t         *testing.T
	lb        string // nginx
	instances []*instance
	pgURL     string
	pgStop    func()
	pgStart   func()
	redisStop func()
	redisUp   func()
	instID    int64
	client    *http.Client
}

// TestChaos runs every fault in turn on one system and prints a table.
func TestChaos(t *testing.T) {
	name, p := currentProfile()
	s := startSystem(t, p)
	subs := s.subscribe(p.subscribers)
	faults := []struct {
		name string
		do   func()
	}{
		{"SIGKILL an instance, start it again", func() {
			s.instances[1].signal(syscall.SIGKILL, 5*time.Second)
			time.Sleep(time.Second)
			s.instances[1].start()
		}},
		{"rolling restart (SIGTERM) of all three", func() {
			for _, in := range s.instances {
				if d := in.signal(syscall.SIGTERM, 15*time.Second); d > 10*time.Second {
					t.Errorf("%s took %v to stop, SHUTDOWN_TIMEOUT is 10s", in.name, d)
				}
				in.start()
			}
		}},
		{"restart Redis (cluster: kill a master, restart it)", func() {
			s.redisStop()
			time.Sleep(time.Second)
			s.redisUp()
		}},
		{"restart PostgreSQL", func() {
			s.pgStop()
			time.Sleep(time.Second)
			s.pgStart()
		}},
	}
	var rows []row
	for _, f := range faults {
		rows = append(rows, s.runFault(f.name, f.do, p, subs))
		if t.Failed() {
			break
		}
	}
	printTable(t, name, rows)
}

type row struct {
	fault              string
	attempted, created int
	byStatus           map[int]int
	reconnected        int
	converge           time.Duration
}

// runFault runs a crowd across the fault, then checks the invariants.
func (s *system) runFault(name string, fault func(), p profile, subs []*subscriber) row {
	t := s.t
	t.Logf("fault: %s", name)
	before := 0
	for _, sub := range subs {
		before += int(sub.reconnects.Load())
	}
	crowd := s.startCrowd(p.joiners)
	time.Sleep(p.crowd)
	fault()
	time.Sleep(p.crowd)
	res := crowd.stop()

	r := row{fault: name, attempted: res.attempted, created: len(res.created), byStatus: res.byStatus}
	for st, n := range res.byStatus {
		switch st {
		case 201, 429, 502, 503:
		default:
			t.Errorf("%s: %d joins answered %d (want only 201, 429, 502, 503); first body: %s", name, n, st, res.bodies[st])
		}
	}
	s.checkTickets(name, res.created)

	// Every subscriber ends on the institution's current version.
	start := time.Now()
	want := s.currentVersion()
	deadline := start.Add(p.converge)
	for {
		behind := 0
		for _, sub := range subs {
			if sub.version.Load() != want {
				behind++
			}
		}
		if behind == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("%s: %d of %d subscribers not at version %d after %v", name, behind, len(subs), want, p.converge)
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	r.converge = time.Since(start)
	for _, sub := range subs {
		r.reconnected += int(sub.reconnects.Load())
	}
	r.reconnected -= before
	return r
}

func startSystem(t *testing.T, p profile) *system {
	t.Helper()
	pgURL, pgStop, pgStart := testenv.StartPostgresServer(t)
	s := &system{t: t, pgURL: pgURL, pgStop: pgStop, pgStart: pgStart,
		client: &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}}
	t.Cleanup(s.client.CloseIdleConnections)
	var redisEnv string
	if p.cluster {
		// "Restart Redis" is then a master killed (its replica takes
		// over) and started again (it rejoins as a replica).
		c := testenv.StartRedisCluster(t)
		redisEnv = "REDIS_CLUSTER_URL=" + c.URL()
		var victim int
		s.redisStop = func() { victim = c.Masters()[0]; c.Kill(victim) }
		s.redisUp = func() { c.WaitHealthy(); c.Start(victim); c.WaitHealthy() }
	} else {
		addr, stop, start := testenv.StartRedisServer(t)
		redisEnv = "REDIS_URL=redis://" + addr + "/0"
		s.redisStop, s.redisUp = stop, start
	}
	bin := buildServer(t)
	env := []string{
		"DATABASE_URL=" + pgURL, redisEnv, "REDIS_PREFIX=chaos:",
		"ADMIN_TOKEN=" + adminToken, "LOG_FORMAT=json", "LOG_LEVEL=info",
		"SHUTDOWN_TIMEOUT=10s", "DRAIN_SPREAD=1s", "STARTUP_TIMEOUT=60s",
		"TRUSTED_PROXIES=127.0.0.1/32", "WS_MAX_PER_IP=0", "DB_MAX_CONNS=10",
		// One crowd from one address: the per-address limit would refuse
		// nearly all of it; admission control stays on (503 under load).
		"JOIN_RATE=off", "JOIN_PHONE_RATE=off", "JOIN_MAX_IN_FLIGHT=64",
	}
	logDir := t.TempDir()
	var ports []int
	for i := range 3 {
		in := &instance{t: t, name: fmt.Sprintf("queueless%d", i+1), bin: bin, env: env, port: testenv.FreePort(t),
			log: filepath.Join(logDir, fmt.Sprintf("queueless%d.log", i+1))}
		// The first migrates; the others find the schema up to date.
		in.start()
		t.Cleanup(func() { in.signal(syscall.SIGTERM, 15*time.Second) })
		s.instances = append(s.instances, in)
		ports = append(ports, in.port)
	}
	t.Cleanup(func() {
		if t.Failed() {
			for _, in := range s.instances {
				t.Logf("%s (%s) log (tail):\n%s", in.name, in.state(), tail(in.log))
			}
		}
	})
	s.lb = startNginx(t, ports)
	var inst struct {
		ID int64 `json:"id"`
	}
	s.call("POST", "/api/v1/institutions", `{"name":"Chaos Office","kind":"government","status":"open"}`, &inst)
	s.instID = inst.ID
	return s
}

func (s *system) call(method, path, body string, out any) {
	s.t.Helper()
	req, _ := http.NewRequest(method, s.lb+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+adminToken)
	req.Header.Set("Content-Type", "application/json")
	for attempt := 0; ; attempt++ {
		resp, err := s.client.Do(req)
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode/100 == 2 {
				if out != nil {
					if err := json.Unmarshal(b, out); err != nil {
						s.t.Fatalf("%s %s: %v", method, path, err)
					}
				}
				if attempt > 0 {
					s.t.Logf("%s %s: answered after %d attempts", method, path, attempt)
				}
				return
			}
			err = fmt.Errorf("%d %s", resp.StatusCode, b)
		}
		if attempt > 150 || method != "GET" && attempt > 0 {
			s.t.Fatalf("%s %s: %v", method, path, err)
		}
		time.Sleep(200 * time.Millisecond)
		req, _ = http.NewRequest(method, s.lb+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+adminToken)
	}
}

// currentVersion is the institution's version as the API shows it (from
// PostgreSQL).
func (s *system) currentVersion() int64 {
	var inst struct {
		Version int64 `json:"version"`
	}
	s.call("GET", fmt.Sprintf("/api/v1/institutions/%d", s.instID), "", &inst)
	return inst.Version
}

type crowdResult struct {
	attempted int
	byStatus  map[int]int
	bodies    map[int]string
	created   map[string]int64 // ticket id -> number, of every 201
}

type crowd struct {
	stopc chan struct{}
	wg    sync.WaitGroup
	mu    sync.Mutex
	res   crowdResult
}

// startCrowd joins through nginx from n goroutines until stop.
func (s *system) startCrowd(n int) *crowd {
	c := &crowd{stopc: make(chan struct{}), res: crowdResult{byStatus: map[int]int{}, bodies: map[int]string{}, created: map[string]int64{}}}
	path := fmt.Sprintf("%s/api/v1/institutions/%d/tickets", s.lb, s.instID)
	for range n {
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			for {
				select {
				case <-c.stopc:
					return
				default:
				}
				status, body := s.join(path)
				c.mu.Lock()
				c.res.attempted++
				c.res.byStatus[status]++
				if _, ok := c.res.bodies[status]; !ok {
					c.res.bodies[status] = body
				}
				if status == 201 {
					var tk struct {
						ID     string `json:"id"`
						Number int64  `json:"number"`
					}
					if err := json.Unmarshal([]byte(body), &tk); err == nil {
						c.res.created[tk.ID] = tk.Number
					}
				}
				c.mu.Unlock()
				if status != 201 {
					time.Sleep(20 * time.Millisecond) // as a client honouring Retry-After would, briefly
				}
			}
		}()
	}
	return c
}

func (c *crowd) stop() crowdResult {
	close(c.stopc)
	c.wg.Wait()
	return c.res
}

// join posts one join; a transport error (nginx itself failing) is status 0.
func (s *system) join(url string) (int, string) {
	resp, err := s.client.Post(url, "application/json", bytes.NewReader([]byte("{}")))
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// checkTickets: every 201 is in PostgreSQL with its number, and the
// institution's numbers are 1..N with no gap and no repeat.
func (s *system) checkTickets(fault string, created map[string]int64) {
	t := s.t
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var conn *pgx.Conn
	var err error
	for range 100 {
		if conn, err = pgx.Connect(ctx, s.pgURL); err == nil {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("%s: connect to postgres: %v", fault, err)
	}
	defer conn.Close(context.Background())
	rows, err := conn.Query(ctx, `SELECT id::text, number FROM tickets WHERE institution_id = $1`, s.instID)
	if err != nil {
		t.Fatalf("%s: %v", fault, err)
	}
	stored := map[string]int64{}
	var numbers []int64
	for rows.Next() {
		var id string
		var n int64
		if err := rows.Scan(&id, &n); err != nil {
			t.Fatal(err)
		}
		stored[id] = n
		numbers = append(numbers, n)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	missing := 0
	for id, n := range created {
		if got, ok := stored[id]; !ok || got != n {
			missing++
		}
	}
	if missing > 0 {
		t.Errorf("%s: %d of %d tickets answered 201 are not in PostgreSQL with their number", fault, missing, len(created))
	}
	slices.Sort(numbers)
	for i, n := range numbers {
		if n != int64(i+1) {
			t.Errorf("%s: numbers not gap-free: position %d holds %d", fault, i+1, n)
			break
		}
	}
	var lastIssued int64
	if err := conn.QueryRow(ctx, `SELECT last_issued FROM institutions WHERE id = $1`, s.instID).Scan(&lastIssued); err == nil && lastIssued != int64(len(numbers)) {
		t.Errorf("%s: last_issued %d, but %d tickets", fault, lastIssued, len(numbers))
	}
}

// subscriber is a board: a live institution stream that reconnects, as
// the page does, through the load balancer, and keeps the newest version.
type subscriber struct {
	version    atomic.Int64
	reconnects atomic.Int64
}

// subscribe starts perInstance subscribers connected to each instance
// directly (so that every instance has its own), which reconnect through
// nginx.
func (s *system) subscribe(perInstance int) []*subscriber {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	s.t.Cleanup(func() { cancel(); wg.Wait() })
	var subs []*subscriber
	path := fmt.Sprintf("/api/v1/institutions/%d/live", s.instID)
	ready := make(chan struct{}, 3*perInstance)
	for _, in := range s.instances {
		for range perInstance {
			sub := &subscriber{}
			subs = append(subs, sub)
			wg.Add(1)
			go func() {
				defer wg.Done()
				sub.run(ctx, "ws"+strings.TrimPrefix(in.url(), "http")+path, "ws"+strings.TrimPrefix(s.lb, "http")+path, ready)
			}()
		}
	}
	for range len(subs) {
		select {
		case <-ready:
		case <-time.After(30 * time.Second):
			s.t.Fatal("subscribers did not get their snapshots within 30s")
		}
	}
	return subs
}

func (sub *subscriber) run(ctx context.Context, first, again string, ready chan<- struct{}) {
	url := first
	for ctx.Err() == nil {
		dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		ws, _, err := websocket.Dial(dctx, url, nil)
		cancel()
		if err == nil {
			ws.SetReadLimit(1 << 20)
			sub.read(ctx, ws, ready)
			ready = nil
			ws.CloseNow()
		}
		if ctx.Err() != nil {
			return
		}
		sub.reconnects.Add(1)
		url = again
		select {
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (sub *subscriber) read(ctx context.Context, ws *websocket.Conn, ready chan<- struct{}) {
	for {
		_, msg, err := ws.Read(ctx)
		if err != nil {
			return
		}
		var f struct {
			Type        string `json:"type"`
			Institution *struct {
				Version int64 `json:"version"`
			} `json:"institution"`
		}
		if json.Unmarshal(msg, &f) != nil || f.Institution == nil {
			continue
		}
		// Frames never go back in version (the hub's promise); a fresh
		// snapshot after a reconnect may repeat one.
		if v := f.Institution.Version; v >= sub.version.Load() {
			sub.version.Store(v)
		}
		if f.Type == "snapshot" && ready != nil {
			ready <- struct{}{}
			ready = nil
		}
	}
}

func printTable(t *testing.T, profile string, rows []row) {
	var b strings.Builder
	fmt.Fprintf(&b, "\nchaos suite (%s form)\n", profile)
	fmt.Fprintf(&b, "| fault | joins attempted | created | errors by status | subscribers reconnected | time to converge after the crowd |\n|---|---|---|---|---|---|\n")
	for _, r := range rows {
		var errs []string
		var sts []int
		for st := range r.byStatus {
			if st != 201 {
				sts = append(sts, st)
			}
		}
		sort.Ints(sts)
		for _, st := range sts {
			errs = append(errs, fmt.Sprintf("%d: %d", st, r.byStatus[st]))
		}
		if len(errs) == 0 {
			errs = []string{"none"}
		}
		fmt.Fprintf(&b, "| %s | %d | %d | %s | %d | %s |\n", r.fault, r.attempted, r.created, strings.Join(errs, ", "), r.reconnected, r.converge.Round(time.Millisecond))
	}
	t.Log(b.String())
	fmt.Print(b.String())
}
