package chaos

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/queueless/queueless/internal/testenv"
)

// profile sizes a run: the short one fits CI on two cores (one Redis); the
// long one (CHAOS_LONG=1, make chaos) pushes a larger crowd for longer,
// over a three-master Redis Cluster.
type profile struct {
	joiners     int           // goroutines joining without pause
	subscribers int           // boards (institution streams) per instance
	phones      int           // phones (ticket streams) per instance
	crowd       time.Duration // crowd before the fault and after it
	converge    time.Duration // most time allowed to converge
	deliver     time.Duration // most time allowed for every webhook delivery
	hookDelay   time.Duration // how long the webhook receiver takes to answer
	cluster     bool          // a Redis Cluster rather than one Redis
}

func currentProfile() (string, profile) {
	if os.Getenv("CHAOS_LONG") != "" {
		return "long", profile{joiners: 24, subscribers: 60, phones: 20, crowd: 5 * time.Second, converge: 30 * time.Second, deliver: 2 * time.Minute, hookDelay: 20 * time.Millisecond, cluster: true}
	}
	return "short", profile{joiners: 6, subscribers: 10, phones: 4, crowd: 1500 * time.Millisecond, converge: 20 * time.Second, deliver: 90 * time.Second}
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
	// Webhooks first: every change from here on owes a delivery.
	rcv := newReceiver(p.hookDelay)
	t.Cleanup(rcv.srv.Close)
	s.addWebhook(rcv)
	l := live{boards: s.subscribe(p.subscribers), phones: s.followTickets(p.phones), hooks: rcv}
	// repeatsOK: the fault may come between a receiver's 200 and the
	// record of it (a killed instance, PostgreSQL gone), so that the same
	// delivery id is sent again, as API.md allows; otherwise it must not.
	faults := []struct {
		name      string
		repeatsOK bool
		do        func()
	}{
		{"SIGKILL an instance, start it again", true, func() {
			s.instances[1].Signal(syscall.SIGKILL, 5*time.Second)
			time.Sleep(time.Second)
			s.instances[1].Start()
		}},
		{"rolling restart (SIGTERM) of all three", false, func() {
			for _, in := range s.instances {
				if d := in.Signal(syscall.SIGTERM, 15*time.Second); d > 10*time.Second {
					t.Errorf("%s took %v to stop, SHUTDOWN_TIMEOUT is 10s", in.Name, d)
				}
				in.Start()
			}
		}},
		{"restart Redis (cluster: kill a master, restart it)", false, func() {
			s.redisStop()
			time.Sleep(time.Second)
			s.redisUp()
		}},
		{"restart PostgreSQL", true, func() {
			s.pgStop()
			time.Sleep(time.Second)
			s.pgStart()
		}},
	}
	var rows []row
	for _, f := range faults {
		rows = append(rows, s.runFault(f.name, f.repeatsOK, f.do, p, &l))
		if t.Failed() {
			break
		}
	}
	printTable(t, name, rows)
}

// live is every client that follows the system from outside: boards,
// phones and the webhook receiver.
type live struct {
	boards []*subscriber
	phones []*phone
	hooks  *receiver
	last   hookResult // the previous fault's webhook figures
}

type row struct {
	fault              string
	attempted, created int
	byStatus           map[int]int
	calls              map[int]int // advance answers by status
	reconnected        int
	converge           time.Duration
	phonesReconnected  int
	phonesConverge     time.Duration
	hooks              hookResult
}

// reconnects sums the reconnections of every stream in xs.
func reconnects[T interface{ count() int64 }](xs []T) int {
	n := 0
	for _, x := range xs {
		n += int(x.count())
	}
	return n
}

// runFault runs a crowd (joins, and a counter calling) across the fault,
// then checks the invariants.
func (s *system) runFault(name string, repeatsOK bool, fault func(), p profile, l *live) row {
	t := s.t
	t.Logf("fault: %s", name)
	subs := l.boards
	before, phonesBefore := reconnects(l.boards), reconnects(l.phones)
	repeatsBefore := l.hooks.view().repeats
	crowd := s.startCrowd(p.joiners)
	time.Sleep(p.crowd)
	fault()
	time.Sleep(p.crowd)
	res := crowd.stop()

	r := row{fault: name, attempted: res.attempted, created: len(res.created), byStatus: res.byStatus, calls: res.calls}
	for st, n := range res.byStatus {
		switch st {
		case 201, 429, 502, 503:
		default:
			t.Errorf("%s: %d joins answered %d (want only 201, 429, 502, 503); first body: %s", name, n, st, res.bodies[st])
		}
	}
	for st, n := range res.calls {
		switch st {
		case 200, 429, 502, 503:
		default:
			t.Errorf("%s: %d calls (advance) answered %d (want only 200, 429, 502, 503); first body: %s", name, n, st, res.callBodies[st])
		}
	}
	if res.calls[200] == 0 {
		t.Errorf("%s: no call (advance) succeeded: %v", name, res.calls)
	}
	// The throttles are off: a crowd refused by them would test nothing
	// of the fault. (An outage may refuse most joins, with 503, fast.)
	if len(res.created) == 0 || res.byStatus[429] > len(res.created) {
		t.Errorf("%s: %d of %d joins created, %d refused with 429: %v; first 429: %s", name, len(res.created), res.attempted, res.byStatus[429], res.byStatus, res.bodies[429])
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
	r.reconnected = reconnects(l.boards) - before

	// Every phone ends on its ticket's current state. The server may
	// still change a ticket by itself (a called ticket's grace period
	// running out), so the state is read again until they agree.
	start = time.Now()
	deadline = start.Add(p.converge)
	pending := slices.Clone(l.phones)
	for len(pending) > 0 {
		var still []*phone
		for _, ph := range pending {
			if ph.state() != s.ticketNow(ph.ticketID) {
				still = append(still, ph)
			}
		}
		pending = still
		if len(pending) == 0 {
			break
		}
		if time.Now().After(deadline) {
			ph := pending[0]
			t.Errorf("%s: %d of %d phones not on their ticket's current state after %v; ticket %s: phone shows %v, API %v",
				name, len(pending), len(l.phones), p.converge, ph.ticketID, ph.state(), s.ticketNow(ph.ticketID))
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	r.phonesConverge = time.Since(start)
	r.phonesReconnected = reconnects(l.phones) - phonesBefore

	r.hooks = s.checkDeliveries(name, l.hooks, l.last, repeatsBefore, repeatsOK, p.deliver)
	l.last = r.hooks
	return r
}

func startSystem(t *testing.T, p profile) *system {
	t.Helper()
	nginx := nginxBin(t)
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
	bin := testenv.ServerBinary(t, false)
	env := []string{
		"DATABASE_URL=" + pgURL, redisEnv, "REDIS_PREFIX=chaos:",
		"ADMIN_TOKEN=" + adminToken,
		"SHUTDOWN_TIMEOUT=10s", "DRAIN_SPREAD=1s", "STARTUP_TIMEOUT=60s",
		// A job of a killed instance is rescued after JOBS_RESCUE_AFTER
		// (and River's rescuer pass, every 30s); more than
		// WEBHOOK_TIMEOUT + 5s + JOBS_YIELD_MAX, as the server requires
		// (deliveries are not held back for the crowd here).
		"WEBHOOK_TIMEOUT=2s", "JOBS_RESCUE_AFTER=8s", "JOBS_YIELD_MAX=0", "WEBHOOK_RETRY_BASE=100ms",
		"TRUSTED_PROXIES=127.0.0.1/32", "WS_MAX_PER_IP=0", "DB_MAX_CONNS=10",
		// One crowd from one address: the per-address limit would refuse
		// nearly all of it; admission control stays on (503 under load).
		"JOIN_RATE=off", "JOIN_ADDRESS_RATE=off", "JOIN_PHONE_RATE=off", "JOIN_MAX_IN_FLIGHT=64",
	}
	var ports []int
	for i := range 3 {
		// The first migrates; the others find the schema up to date.
		in := testenv.StartServer(t, fmt.Sprintf("queueless%d", i+1), bin, env...)
		s.instances = append(s.instances, in)
		ports = append(ports, portOf(t, in))
	}
	t.Cleanup(func() {
		if t.Failed() {
			for _, in := range s.instances {
				t.Logf("%s (%s):\n%s", in.Name, in.State(), in.LogTail())
			}
		}
	})
	s.lb = startNginx(t, nginx, ports)
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
	attempted  int
	byStatus   map[int]int
	bodies     map[int]string
	created    map[string]int64 // ticket id -> number, of every 201
	calls      map[int]int      // advance answers by status
	callBodies map[int]string
}

type crowd struct {
	stopc chan struct{}
	wg    sync.WaitGroup
	mu    sync.Mutex
	res   crowdResult
}

// callEvery is how often the crowd's counter calls the next ticket: the
// followed tickets' people_ahead and now_serving move, and some are called.
const callEvery = 250 * time.Millisecond

// startCrowd joins through nginx from n goroutines, and calls the next
// ticket from one more, until stop.
func (s *system) startCrowd(n int) *crowd {
	c := &crowd{stopc: make(chan struct{}), res: crowdResult{byStatus: map[int]int{}, bodies: map[int]string{}, created: map[string]int64{},
		calls: map[int]int{}, callBodies: map[int]string{}}}
	path := fmt.Sprintf("%s/api/v1/institutions/%d/tickets", s.lb, s.instID)
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		advance := fmt.Sprintf("%s/api/v1/institutions/%d/advance", s.lb, s.instID)
		for {
			select {
			case <-c.stopc:
				return
			case <-time.After(callEvery):
			}
			status, body := s.post(advance, `{"count":1,"counter":"1"}`, adminToken)
			c.mu.Lock()
			c.res.calls[status]++
			if _, ok := c.res.callBodies[status]; !ok {
				c.res.callBodies[status] = body
			}
			c.mu.Unlock()
		}
	}()
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
func (s *system) join(url string) (int, string) { return s.post(url, "{}", "") }

// post posts body, with token when not empty; a transport error (nginx
// itself failing) is status 0.
func (s *system) post(url, body, token string) (int, string) {
	req, err := http.NewRequest("POST", url, bytes.NewReader([]byte(body)))
	if err != nil {
		return 0, err.Error()
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := s.client.Do(req)
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

func printTable(t *testing.T, profile string, rows []row) {
	var b strings.Builder
	fmt.Fprintf(&b, "\nchaos suite (%s form)\n", profile)
	fmt.Fprintf(&b, "| fault | joins attempted | created | errors by status | calls made (refused) | boards reconnected | boards converged after the crowd | phones reconnected | phones converged | webhook deliveries owed (new) | redelivered same id | all delivered after |\n|---|---|---|---|---|---|---|---|---|---|---|---|\n")
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
		refused := 0
		for st, n := range r.calls {
			if st != 200 {
				refused += n
			}
		}
		fmt.Fprintf(&b, "| %s | %d | %d | %s | %d (%d) | %d | %s | %d | %s | %d (%d) | %d | %s |\n", r.fault, r.attempted, r.created, strings.Join(errs, ", "),
			r.calls[200], refused, r.reconnected, r.converge.Round(time.Millisecond), r.phonesReconnected, r.phonesConverge.Round(time.Millisecond),
			r.hooks.owed, r.hooks.newOwed, r.hooks.repeats, r.hooks.deliver.Round(time.Millisecond))
	}
	t.Log(b.String())
	fmt.Print(b.String())
}
