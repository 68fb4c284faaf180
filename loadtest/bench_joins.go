package loadtest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
)

// The join benchmarks: a hot institution against pgbench, and a flash crowd.

var tpsRe = regexp.MustCompile(`tps = ([0-9.]+)`)
var latRe = regexp.MustCompile(`latency average = ([0-9.]+) ms`)

// pgbench runs the one-ticket transaction with 8 clients for 10 seconds.
func (b *bench) pgbench(ctx context.Context) (tps, latency float64, err error) {
	cfg, err := pgx.ParseConfig(b.scratch.url)
	if err != nil {
		return 0, 0, err
	}
	args := []string{"-h", cfg.Host, "-p", strconv.Itoa(int(cfg.Port)), "-U", cfg.User, "-n",
		"-c", "8", "-j", "2", "-T", "10", "-f", filepath.Join(b.cfg.ScriptDir, "one_ticket.sql"), cfg.Database}
	cmd := exec.CommandContext(ctx, b.cfg.Pgbench, args...)
	cmd.Env = append(os.Environ(), "PGOPTIONS=-c search_path=pgbench", "PGPASSWORD="+cfg.Password)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return 0, 0, fmt.Errorf("pgbench: %w\n%s", err, out)
	}
	m := tpsRe.FindSubmatch(out)
	if m == nil {
		return 0, 0, fmt.Errorf("pgbench printed no tps:\n%s", out)
	}
	tps, _ = strconv.ParseFloat(string(m[1]), 64)
	if m := latRe.FindSubmatch(out); m != nil {
		latency, _ = strconv.ParseFloat(string(m[1]), 64)
	}
	return tps, latency, nil
}

// pgbenchSchema creates the reference's tables in schema pgbench.
func (b *bench) pgbenchSchema(ctx context.Context) error {
	setup, err := os.ReadFile(filepath.Join(b.cfg.ScriptDir, "setup.sql"))
	if err != nil {
		return err
	}
	conn, err := pgx.Connect(ctx, b.scratch.url)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, "CREATE SCHEMA pgbench; SET search_path = pgbench; "+string(setup), pgx.QueryExecModeSimpleProtocol)
	return err
}

func (b *bench) hot(ctx context.Context) (*BenchSection, error) {
	if err := b.pgbenchSchema(ctx); err != nil {
		return nil, fmt.Errorf("pgbench tables: %w", err)
	}
	srv, err := b.queueless(ctx, "queueless-hot", "JOIN_RATE=off", "JOIN_PHONE_RATE=off", "JOIN_ADDRESS_RATE=off", "JOIN_MAX_IN_FLIGHT=100000")
	if err != nil {
		return nil, err
	}
	defer srv.stop()
	msrv, err := b.minimal(ctx)
	if err != nil {
		return nil, err
	}
	defer msrv.stop()
	clients := b.scaled(1000)
	s := &BenchSection{Key: "hot", Title: "Hot institution: joins through HTTP against PostgreSQL",
		Setup: fmt.Sprintf("QueueLess in production mode (PostgreSQL, Redis) with `JOIN_RATE=off JOIN_PHONE_RATE=off JOIN_ADDRESS_RATE=off JOIN_MAX_IN_FLIGHT=100000` "+
			"(the throttle and admission control would otherwise answer most of %d joiners from a few addresses with 429/503), "+
			"default `DB_MAX_CONNS=20`. %d closed-loop joiners (each joins again as soon as it has its answer) from %d client addresses, 10 s; "+
			"new institution per run. Reference: pgbench, 8 clients, 10 s, `loadtest/pgbench/one_ticket.sql` on the same PostgreSQL, run just before each HTTP run. "+
			"Second reference, the least any Go HTTP server must do per join here: the minimal server (`loadgen minimal`, `loadtest/minimal/join.go`: "+
			"net/http, no database, no middleware, no log line; it reads and discards the body and answers 201 with a ticket of the same shape and size, "+
			"numbered from a counter, and ignores X-Forwarded-For), the same joiners for the same 10 s right after each QueueLess run.",
			clients, clients, clients),
		Command: fmt.Sprintf("pgbench -n -c 8 -j 2 -T 10 -f loadtest/pgbench/one_ticket.sql; loadgen join -clients %d -addresses %d -duration 10s; "+
			"loadgen minimal -addr 127.0.0.1:8090 & loadgen join -url http://127.0.0.1:8090 -institution 1 -clients %d -addresses %d -duration 10s",
			clients, clients, clients, clients),
	}
	s.Table = header("run", "server", "pgbench tps (8 clients)", "HTTP joins/s", "ratio to pgbench", "p50 ms", "p90 ms", "p99 ms", "max ms", "statuses")
	var tpss, rates, p99s, ratios, minRates, minP99s []float64
	var top func() string
	for i := range b.cfg.Runs {
		tps, _, err := b.pgbench(ctx)
		if err != nil {
			return nil, err
		}
		if b.cfg.Profile && i == b.cfg.Runs-1 {
			top = b.cpuProfile(ctx, srv, "hot", time.Second, 8*time.Second)
		}
		j, err := b.joiners(ctx, srv.URL, 0, clients, 10*time.Second)
		if err != nil {
			return nil, err
		}
		ratio := j.OKPerSecond / tps
		tpss, rates, p99s, ratios = append(tpss, tps), append(rates, j.OKPerSecond), append(p99s, j.P99), append(ratios, ratio)
		s.Table = append(s.Table, row(strconv.Itoa(i+1), TargetQueueLess, f0(tps), f0(j.OKPerSecond), f1(ratio)+"×",
			f1(j.P50), f1(j.P90), f1(j.P99), f1(j.Max), FormatStatuses(j.Statuses)))
		b.logf("hot run %d: pgbench %.0f tps, HTTP %.0f joins/s (%.1f×), p99 %.1f ms", i+1, tps, j.OKPerSecond, ratio, j.P99)
		// The minimal server has no institutions: any id will do.
		m, err := b.joiners(ctx, msrv.URL, 1, clients, 10*time.Second)
		if err != nil {
			return nil, fmt.Errorf("minimal server: %w", err)
		}
		minRates, minP99s = append(minRates, m.OKPerSecond), append(minP99s, m.P99)
		s.Table = append(s.Table, row(strconv.Itoa(i+1), TargetMinimal, "", f0(m.OKPerSecond), "",
			f1(m.P50), f1(m.P90), f1(m.P99), f1(m.Max), FormatStatuses(m.Statuses)))
		b.logf("hot run %d: minimal HTTP %.0f joins/s, p99 %.1f ms", i+1, m.OKPerSecond, m.P99)
	}
	p99, minP99 := median(p99s), median(minP99s)
	s.Table = append(s.Table,
		row("**median**", TargetQueueLess, "**"+f0(median(tpss))+"**", "**"+f0(median(rates))+"**", "**"+f1(median(ratios))+"×**", "", "", "**"+f1(p99)+"**", "", ""),
		row("**median**", TargetMinimal, "", "**"+f0(median(minRates))+"**", "", "", "", "**"+f1(minP99)+"**", "", ""))
	// Latency is queueing time in a closed loop (Little's law): fewer
	// joiners show where the 50 ms line is crossed on this machine.
	s.Table = append(s.Table, "", "Fewer joiners, one 5 s run each, same QueueLess server:", "")
	s.Table = append(s.Table, header("joiners", "HTTP joins/s", "p50 ms", "p90 ms", "p99 ms", "max ms")...)
	for _, n := range []int{b.scaled(50), b.scaled(100), b.scaled(250), b.scaled(500)} {
		j, err := b.joiners(ctx, srv.URL, 0, n, 5*time.Second)
		if err != nil {
			return nil, err
		}
		s.Table = append(s.Table, row(strconv.Itoa(n), f0(j.OKPerSecond), f1(j.P50), f1(j.P90), f1(j.P99), f1(j.Max)))
		b.logf("hot, %d joiners: %.0f joins/s, p99 %.1f ms", n, j.OKPerSecond, j.P99)
	}
	s.Goals = []Goal{
		{What: "hot institution joins/s", Target: "≥ 10× pgbench", Result: f0(median(rates)) + " joins/s",
			Reference: fmt.Sprintf("pgbench %s tps; ratio %s× (median of the runs' ratios); minimal HTTP server %s joins/s",
				f0(median(tpss)), f1(median(ratios)), f0(median(minRates))),
			Met: median(ratios) >= 10},
		{What: fmt.Sprintf("p99 join latency, %d joiners", clients), Target: "< 50 ms", Result: f1(p99) + " ms",
			Reference: fmt.Sprintf("Little's law: %d in flight / %s joins/s = %s ms; minimal HTTP server p99 %s ms (ratio %s×)",
				clients, f0(median(rates)), f1(float64(clients)/median(rates)*1000), f1(minP99), f2(p99/minP99)),
			Met: p99 < 50},
	}
	if top != nil {
		s.Profile = top()
	}
	b.noteLines(s, "joins spread over")
	return s, nil
}

// joiners runs n closed-loop joiners, from n client addresses, against
// the server at url for d: in institution inst, or a new one when inst is 0.
func (b *bench) joiners(ctx context.Context, url string, inst int64, n int, d time.Duration) (OpSummary, error) {
	opts := b.options(url)
	opts.Duration, opts.Addresses = d, n
	res, err := Execute(ctx, opts, &Join{Institution: inst, Clients: n, Services: b.cfg.Services, PriorityShare: b.cfg.PriorityShare})
	if err != nil {
		return OpSummary{}, err
	}
	return res.Snapshot.Op("join"), nil
}

func (b *bench) flash(ctx context.Context) (*BenchSection, error) {
	srv, err := b.queueless(ctx, "queueless-flash")
	if err != nil {
		return nil, err
	}
	defer srv.stop()
	total, addrs := b.scaled(20000), b.scaled(5000)
	rate := float64(total) / 10
	s := &BenchSection{Key: "flash", Title: "Flash crowd: joins arriving faster than they can be served",
		Setup: fmt.Sprintf("QueueLess in production mode with its defaults: `JOIN_RATE=10-M` per address per institution (in Redis), "+
			"`JOIN_MAX_IN_FLIGHT=256`, `TRUSTED_PROXIES=127.0.0.1/32`. %d joins arriving at %.0f a second (open loop: "+
			"each at its time, answered or not) from %d addresses in X-Forwarded-For; new institution per run. "+
			"Afterwards every ticket of the institution is read from PostgreSQL and compared with the 201 answers.", total, rate, addrs),
		Command: fmt.Sprintf("loadgen join -rate %.0f -total %d -addresses %d -allow 201,429,503 -verify", rate, total, addrs),
	}
	s.Table = header("run", "joins", "201", "429", "503", "other", "last answer at s", "p50 ms", "p99 ms", "PostgreSQL check")
	allOK := true
	var okRates []float64
	var top func() string
	for i := range b.cfg.Runs {
		opts := b.options(srv.URL)
		opts.Addresses, opts.Verify = addrs, true
		if b.cfg.Profile && i == b.cfg.Runs-1 {
			top = b.cpuProfile(ctx, srv, "flash", 500*time.Millisecond, 9*time.Second)
		}
		j := &Join{Rate: rate, Total: total, Allowed: []int{201, 429, 503}}
		res, err := Execute(ctx, opts, j)
		if err != nil {
			return nil, err
		}
		op := res.Snapshot.Op("join")
		other := op.Count - op.Statuses["201"] - op.Statuses["429"] - op.Statuses["503"]
		pg, pgOK, err := b.checkTickets(ctx, j.Institution, res.Snapshot.Issued)
		if err != nil {
			return nil, err
		}
		ok := pgOK && res.OK() && other == 0
		allOK = allOK && ok
		okRates = append(okRates, float64(op.Statuses["201"]))
		s.Table = append(s.Table, row(strconv.Itoa(i+1), strconv.FormatUint(op.Count, 10), strconv.FormatUint(op.Statuses["201"], 10),
			strconv.FormatUint(op.Statuses["429"], 10), strconv.FormatUint(op.Statuses["503"], 10), strconv.FormatUint(other, 10),
			f1(res.Elapsed), f1(op.P50), f1(op.P99), pg))
		for _, ck := range res.Checks {
			if !ck.OK {
				s.Notes = append(s.Notes, fmt.Sprintf("run %d: %s: %s", i+1, ck.Name, ck.Detail))
			}
		}
		b.logf("flash run %d: %s; %s", i+1, FormatStatuses(op.Statuses), pg)
	}
	s.Goals = []Goal{{What: fmt.Sprintf("flash crowd, %d joins in 10 s from %d addresses", total, addrs),
		Target: "only 201/429/503; every 201 in PostgreSQL, gap-free", Result: fmt.Sprintf("median %s tickets issued a run", f0(median(okRates))),
		Reference: "checked in every run", Met: allOK}}
	if top != nil {
		s.Profile = top()
	}
	return s, nil
}

// checkTickets compares the institution's tickets in PostgreSQL with the
// 201 answers: the same ids with the same numbers, and numbers 1..n.
func (b *bench) checkTickets(ctx context.Context, inst int64, issued []Issued) (string, bool, error) {
	conn, err := pgx.Connect(ctx, b.scratch.url)
	if err != nil {
		return "", false, err
	}
	defer conn.Close(ctx)
	rows, _ := conn.Query(ctx, `SELECT id::text, number FROM tickets WHERE institution_id = $1 ORDER BY number`, inst)
	stored := map[string]int64{}
	gaps, n := 0, int64(0)
	for rows.Next() {
		var id string
		var num int64
		if err := rows.Scan(&id, &num); err != nil {
			return "", false, err
		}
		if num != n+1 {
			gaps++ // a gap, or a repeat
		}
		n = num
		stored[id] = num
	}
	if err := rows.Err(); err != nil {
		return "", false, err
	}
	missing := 0
	for _, t := range issued {
		if num, ok := stored[t.ID]; !ok || num != t.Number {
			missing++
		}
	}
	ok := gaps == 0 && missing == 0 && len(stored) == len(issued)
	verdict := "ok"
	if !ok {
		verdict = "**FAILED**"
	}
	return fmt.Sprintf("%s: %d rows, numbers 1..%d, %d gaps, %d of %d 201s missing or renumbered", verdict, len(stored), n, gaps, missing, len(issued)), ok, nil
}
