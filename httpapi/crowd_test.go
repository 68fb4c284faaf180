package httpapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/queueless/queueless/internal/app"
	"github.com/queueless/queueless/internal/testapp"
)

func connectSchema(t *testing.T, s *testapp.Server) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), s.Config.DatabaseURL)
	if err != nil {
		t.Fatalf("connect to the test schema: %v", err)
	}
	t.Cleanup(func() { _ = conn.Close(context.Background()) })
	return conn
}

// wantGapFree checks that the institution's tickets in PostgreSQL are
// exactly the tickets answered with 201, numbered 1..n.
func wantGapFree(t *testing.T, conn *pgx.Conn, inst int64, issued map[string]int64) {
	t.Helper()
	rows, _ := conn.Query(context.Background(), `SELECT id::text, number FROM tickets WHERE institution_id = $1 ORDER BY number`, inst)
	type row struct {
		ID     string
		Number int64
	}
	got, err := pgx.CollectRows(rows, pgx.RowToStructByPos[row])
	if err != nil {
		t.Fatalf("read tickets: %v", err)
	}
	if len(got) != len(issued) {
		t.Fatalf("%d tickets in PostgreSQL, %d answered with 201", len(got), len(issued))
	}
	for i, r := range got {
		if r.Number != int64(i+1) {
			t.Fatalf("ticket %d has number %d: numbers are not 1..%d", i+1, r.Number, len(got))
		}
		if n, ok := issued[r.ID]; !ok || n != r.Number {
			t.Fatalf("ticket %s number %d in PostgreSQL was answered as %d (answered: %v)", r.ID, r.Number, n, ok)
		}
	}
	var last int64
	if err := conn.QueryRow(context.Background(), `SELECT last_issued FROM institutions WHERE id = $1`, inst).Scan(&last); err != nil {
		t.Fatal(err)
	}
	if last != int64(len(got)) {
		t.Fatalf("last_issued = %d, want %d", last, len(got))
	}
}

// TestFlashCrowd sends 10,000 joins from 2,000 addresses, through a trusted
// proxy, at one institution of a production server that allows each address
// 2 joins an hour: every join of every address is answered within the
// deadline, the first two of each address with 201 and the other three with
// 429, and the tickets answered with 201 are in PostgreSQL, numbered without
// a gap.
//
// The conditions are the test's own, so that the exact counts hold on a
// loaded machine: a limiter window (an hour) that no run outlasts (a run
// of over a minute under load once saw windows of "2-M" roll over and
// addresses get 3 or 4 tickets), a private Redis (not the shared one every other test
// uses), a limiter store timeout as long as the request's, and admission
// control above the number of workers (shedding, 503 at once, is
// TestBlockedDatabase's). A 503 here would be an admissible join that
// missed the deadline: a failure, not a tolerance.
//
// It does not call t.Parallel: on a two-core machine a load test that runs
// beside the package's other tests measures them rather than the server,
// and starves their deadlines (the 2,000 concurrent joins of
// TestConcurrentJoinsGapFree among them). Alone on two cores it takes about
// 5s, 20s with -race.
func TestFlashCrowd(t *testing.T) {
	const (
		addresses = 2000
		perAddr   = 5
		workers   = 48
		rate      = 2
		deadline  = 10 * time.Second
	)
	s := testapp.Start(t, testapp.Production, testapp.PrivateRedis(t), joinRate(fmt.Sprintf("%d-H", rate)), trustedProxies("127.0.0.1/32"), func(c *app.Config) {
		c.RequestTimeout = deadline
		c.JoinLimiterTimeout = deadline
		c.JoinMaxInFlight = 2 * workers
	})
	id := s.CreateInstitution(nil)

	type job struct {
		xff   string
		phone string
	}
	jobs := make([]job, 0, addresses*perAddr)
	for a := range addresses {
		for j := range perAddr {
			jobs = append(jobs, job{
				xff:   fmt.Sprintf("100.%d.%d.%d", 64+a/65536, a/256%256, a%256),
				phone: fmt.Sprintf("09%09d", a*perAddr+j),
			})
		}
	}
	rand.Shuffle(len(jobs), func(i, j int) { jobs[i], jobs[j] = jobs[j], jobs[i] })

	type result struct {
		status int
		took   time.Duration
		id     string
		number int64
		err    error
	}
	results := make([]result, len(jobs))
	next := make(chan int)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for i := range next {
				begin := time.Now()
				r, err := joinAs(s, id, jobs[i].xff, map[string]any{"phone": jobs[i].phone})
				res := result{took: time.Since(begin), err: err}
				if err == nil {
					res.status = r.Status
					if r.Status == http.StatusCreated {
						var tk struct {
							ID     string
							Number int64
						}
						if err := json.Unmarshal(r.Body, &tk); err != nil {
							res.err = fmt.Errorf("decode 201 %q: %w", r.Body, err)
						}
						res.id, res.number = tk.ID, tk.Number
					}
				}
				results[i] = res
			}
		})
	}
	begin := time.Now()
	for i := range jobs {
		next <- i
	}
	close(next)
	wg.Wait()
	elapsed := time.Since(begin)

	count := map[int]int{}
	perAddress := map[string]map[int]int{}
	issued := map[string]int64{}
	var slowest time.Duration
	for i, r := range results {
		if r.err != nil {
			t.Fatalf("join after %s: %v", r.took, r.err)
		}
		count[r.status]++
		if perAddress[jobs[i].xff] == nil {
			perAddress[jobs[i].xff] = map[int]int{}
		}
		perAddress[jobs[i].xff][r.status]++
		slowest = max(slowest, r.took)
		if r.status == http.StatusCreated {
			issued[r.id] = r.number
		}
	}
	t.Logf("%d joins in %s (%.0f/s): %d × 201, %d × 429, %d × 503; slowest %s",
		len(jobs), elapsed.Round(time.Millisecond), float64(len(jobs))/elapsed.Seconds(), count[201], count[429], count[503], slowest.Round(time.Millisecond))
	// A join answered 503 at the deadline takes a little longer than the
	// deadline: the bound is past it, and what matters is that none hangs.
	if slowest > deadline+5*time.Second {
		t.Errorf("the slowest join took %s, well past the %s deadline", slowest, deadline)
	}
	if errs := metricValue(t, s, "queueless_join_limiter_store_errors_total"); errs != 0 {
		t.Errorf("the private Redis limiter failed %v times: the shared counts below are not the test's to check", errs)
	}
	// Every address, not only the sum: two tickets, three throttled.
	bad := 0
	for xff, c := range perAddress {
		if c[201] != rate || c[429] != perAddr-rate || len(c) != 2 {
			if bad++; bad <= 5 {
				t.Errorf("address %s: statuses %v, want %d × 201 and %d × 429", xff, c, rate, perAddr-rate)
			}
		}
	}
	if bad > 0 {
		t.Errorf("%d of %d addresses got other than %d × 201 and %d × 429", bad, addresses, rate, perAddr-rate)
	}
	if want := addresses * rate; count[201] != want {
		t.Errorf("%d × 201, want every admissible join (%d) to get a ticket", count[201], want)
	}
	wantGapFree(t, connectSchema(t, s), id, issued)
}

// TestIdempotencyAcrossInstances sends 200 joins with one Idempotency-Key
// at once, half to each of two instances on one database: one ticket is
// issued, and every answer carries it, 201 once and 200 for the others.
func TestIdempotencyAcrossInstances(t *testing.T) {
	t.Parallel()
	// A generous deadline: this test is about one ticket, and a 503 from a
	// loaded test machine would hide the answer.
	cfg := testapp.Config(t, testapp.Production, func(c *app.Config) { c.RequestTimeout = 30 * time.Second })
	s1, s2 := testapp.StartConfig(t, cfg), testapp.StartConfig(t, cfg)
	id := s1.CreateInstitution(nil)
	const joins = 200
	type result struct {
		status int
		id     string
	}
	results := make(chan result, joins)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range joins {
		s := []*testapp.Server{s1, s2}[i%2]
		wg.Go(func() {
			<-start
			r, err := s.Try(testapp.Request{Method: "POST", Path: testapp.Path("/api/v1/institutions/%d/tickets", id),
				Header: map[string]string{"Idempotency-Key": "flaky-network-retry-7"}, Body: map[string]any{"phone": "09171112222"}})
			if err != nil {
				t.Error(err)
				return
			}
			var tk struct{ ID string }
			if r.Status < 300 {
				// Not r.JSON: its t.Fatal must not run on this goroutine.
				if err := json.Unmarshal(r.Body, &tk); err != nil {
					t.Errorf("decode %d %q: %v", r.Status, r.Body, err)
				}
			}
			results <- result{r.Status, tk.ID}
		})
	}
	close(start)
	wg.Wait()
	close(results)
	count := map[int]int{}
	ids := map[string]bool{}
	for r := range results {
		count[r.status]++
		ids[r.id] = true
	}
	if count[201] != 1 || count[200] != joins-1 || len(ids) != 1 {
		t.Fatalf("statuses %v, %d distinct ticket ids; want one 201, %d × 200, one id", count, len(ids), joins-1)
	}
	conn := connectSchema(t, s1)
	var tickets, keys int
	if err := conn.QueryRow(context.Background(), `SELECT (SELECT count(*) FROM tickets WHERE institution_id = $1),
		(SELECT count(*) FROM idempotency_keys WHERE institution_id = $1)`, id).Scan(&tickets, &keys); err != nil {
		t.Fatal(err)
	}
	if tickets != 1 || keys != 1 {
		t.Fatalf("%d tickets and %d idempotency keys in PostgreSQL, want 1 and 1", tickets, keys)
	}
}

// TestSamePhoneConcurrent sends 100 joins with one phone number at once:
// exactly one gets a ticket, the others 409 duplicate_ticket; in production
// mode they go to two instances, and PostgreSQL itself refuses a second
// active ticket for the phone.
func TestSamePhoneConcurrent(t *testing.T) {
	t.Parallel()
	run := func(t *testing.T, servers ...*testapp.Server) int64 {
		id := servers[0].CreateInstitution(nil)
		const joins = 100
		statuses := make(chan testapp.Response, joins)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range joins {
			s := servers[i%len(servers)]
			wg.Go(func() {
				<-start
				r, err := joinAs(s, id, "", map[string]any{"phone": "09173334444"})
				if err != nil {
					t.Error(err)
					return
				}
				statuses <- r
			})
		}
		close(start)
		wg.Wait()
		close(statuses)
		created := 0
		for r := range statuses {
			if r.Status == http.StatusCreated {
				created++
				continue
			}
			wantError(t, r, http.StatusConflict, "duplicate_ticket")
		}
		if created != 1 {
			t.Fatalf("%d joins with one phone got a ticket, want 1", created)
		}
		return id
	}
	t.Run("embedded", func(t *testing.T) {
		t.Parallel()
		run(t, testapp.Start(t, testapp.Embedded))
	})
	t.Run("production", func(t *testing.T) {
		t.Parallel()
		cfg := testapp.Config(t, testapp.Production, func(c *app.Config) { c.RequestTimeout = 30 * time.Second })
		s1, s2 := testapp.StartConfig(t, cfg), testapp.StartConfig(t, cfg)
		id := run(t, s1, s2)
		conn := connectSchema(t, s1)
		_, err := conn.Exec(context.Background(), `INSERT INTO tickets (id, institution_id, number, status, phone, near_turn_threshold, issued_at, updated_at)
			VALUES (gen_random_uuid(), $1, 1000, 'waiting', '09173334444', 3, now(), now())`, id)
		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) || pgErr.Code != "23505" || pgErr.ConstraintName != "tickets_active_phone_key" {
			t.Fatalf("a second active ticket for the phone, inserted directly: %v; want a violation of tickets_active_phone_key", err)
		}
	})
}

// TestBlockedDatabase holds the institution's row lock from outside, as a
// stuck transaction would: the joins waiting on it get 503 by the request
// deadline, the join past JOIN_MAX_IN_FLIGHT gets 503 at once, reads go on,
// and joins succeed again once the lock is gone.
func TestBlockedDatabase(t *testing.T) {
	t.Parallel()
	const timeout = 3 * time.Second
	s := testapp.Start(t, testapp.Production, func(c *app.Config) {
		c.RequestTimeout = timeout
		c.JoinMaxInFlight = 3
	})
	id := s.CreateInstitution(nil)
	conn := connectSchema(t, s)
	tx, err := conn.Begin(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	rollback := sync.OnceFunc(func() { _ = tx.Rollback(context.Background()) })
	t.Cleanup(rollback)
	if _, err := tx.Exec(context.Background(), `SELECT 1 FROM institutions WHERE id = $1 FOR UPDATE`, id); err != nil {
		t.Fatal(err)
	}

	type result struct {
		r    testapp.Response
		took time.Duration
	}
	blocked := make(chan result, 3)
	for range 3 {
		go func() {
			begin := time.Now()
			r, err := joinAs(s, id, "", nil)
			if err != nil {
				t.Error(err)
			}
			blocked <- result{r, time.Since(begin)}
		}()
	}
	for wait := time.Now().Add(5 * time.Second); metricValue(t, s, "queueless_joins_in_flight") < 3; {
		if time.Now().After(wait) {
			t.Fatal("the three joins never were in flight together")
		}
		time.Sleep(20 * time.Millisecond)
	}
	begin := time.Now()
	r, err := joinAs(s, id, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	wantError(t, r, http.StatusServiceUnavailable, "unavailable")
	if r.Header.Get("Retry-After") == "" {
		t.Fatal("503 without Retry-After")
	}
	// At once: while the admitted joins still wait for the lock.
	if len(blocked) != 0 {
		t.Fatalf("the join past the bound was answered after %s, once the admitted ones had timed out", time.Since(begin))
	}
	t.Logf("the join past the bound was refused in %s", time.Since(begin))
	if r := s.Do(testapp.Request{Method: "GET", Path: testapp.Path("/api/v1/institutions/%d", id)}); r.Status != http.StatusOK {
		t.Fatalf("read during the lock: %d %s", r.Status, r.Body)
	}
	for range 3 {
		res := <-blocked
		wantError(t, res.r, http.StatusServiceUnavailable, "unavailable")
		if res.took > timeout+2*time.Second {
			t.Fatalf("a join blocked on the lock took %s, past the %s deadline", res.took, timeout)
		}
	}
	if got := metricValue(t, s, "queueless_joins_shed_total"); got != 1 {
		t.Fatalf("queueless_joins_shed_total = %v, want 1", got)
	}
	rollback()
	for wait := time.Now().Add(5 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		r, err := joinAs(s, id, "", nil)
		if err != nil {
			t.Fatal(err)
		}
		if r.Status == http.StatusCreated {
			break
		}
		if time.Now().After(wait) {
			t.Fatalf("join after the lock was released: %d %s", r.Status, r.Body)
		}
	}
}
