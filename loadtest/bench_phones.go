package loadtest

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
)

// The phones benchmark (issue 13): the same flash crowd of joins with and
// without phone numbers, alternating, against one QueueLess server whose
// texts go to a fake Twilio that accepts at once; then the texts' River
// jobs (kinds sms_*) must all complete.

// phonesTotal is the crowd's size before scaling; phonesClients its
// closed-loop joiners.
const (
	phonesTotal   = 20000
	phonesClients = 200
	phonesSlower  = 0.20 // joins with phones at most 20% slower
)

// fakeTwilio accepts Twilio's Messages API posts at once and counts them.
type fakeTwilio struct {
	srv  *http.Server
	URL  string
	sent atomic.Int64
}

const fakeTwilioSID, fakeTwilioToken = "ACbench", "bench-token"

func startFakeTwilio() (*fakeTwilio, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	f := &fakeTwilio{URL: "http://" + ln.Addr().String()}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /2010-04-01/Accounts/{sid}/Messages.json", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		if u, p, ok := r.BasicAuth(); !ok || u != fakeTwilioSID || p != fakeTwilioToken {
			http.Error(w, `{"code":20003,"message":"Authenticate","status":401}`, http.StatusUnauthorized)
			return
		}
		n := f.sent.Add(1)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		fmt.Fprintf(w, `{"sid":"SMbench%d","status":"queued"}`, n)
	})
	f.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = f.srv.Serve(ln) }()
	return f, nil
}

func (f *fakeTwilio) close() { _ = f.srv.Close() }

// env is what points a QueueLess server at the fake, with verification on
// (the first text to a number is its code: one text per join with a phone).
func (f *fakeTwilio) env() []string {
	return []string{"SMS_GATEWAY=twilio", "SMS_TWILIO_URL=" + f.URL, "SMS_TWILIO_ACCOUNT_SID=" + fakeTwilioSID,
		"SMS_TWILIO_AUTH_TOKEN=" + fakeTwilioToken, "SMS_TWILIO_FROM=+15005550006", "SMS_VERIFY=true"}
}

// phonesRound is one crowd: total joins from clients closed-loop joiners
// (each joins again as soon as it is answered), each with a phone number
// of its own when phones, into a new institution.
func phonesRound(ctx context.Context, opts Options, total, clients int, phones bool) (OpSummary, error) {
	opts.Duration = 10 * time.Minute
	opts.Addresses = clients
	j := &Join{Clients: clients, Total: total, Allowed: []int{201}}
	if phones {
		j.PhoneShare = 1
	}
	res, err := Execute(ctx, opts, j)
	if err != nil {
		return OpSummary{}, err
	}
	op := res.Snapshot.Op("join")
	for _, c := range res.Checks {
		if !c.OK {
			return op, fmt.Errorf("%s: %s", c.Name, c.Detail)
		}
	}
	return op, nil
}

// jobCounts are River jobs of kinds sms_* by kind, then state.
type jobCounts map[string]map[string]int64

func (c jobCounts) total(kind, state string) int64 { return c[kind][state] }

// pending counts jobs not yet finished (completed, cancelled or discarded).
func (c jobCounts) pending() int64 {
	return c.count(func(st string) bool { return st != "completed" && st != "cancelled" && st != "discarded" })
}

// unfinished counts jobs in any state but completed.
func (c jobCounts) unfinished() int64 {
	return c.count(func(st string) bool { return st != "completed" })
}

func (c jobCounts) count(in func(state string) bool) int64 {
	var n int64
	for _, states := range c {
		for st, v := range states {
			if in(st) {
				n += v
			}
		}
	}
	return n
}

func (c jobCounts) String() string {
	var parts []string
	for kind, states := range c {
		var ss []string
		for st, v := range states {
			ss = append(ss, st+" "+strconv.FormatInt(v, 10))
		}
		sort.Strings(ss)
		parts = append(parts, kind+": "+strings.Join(ss, ", "))
	}
	sort.Strings(parts)
	if len(parts) == 0 {
		return "no sms_* jobs"
	}
	return strings.Join(parts, "; ")
}

// smsJobs reads the counts from river_job (in the URL's search path).
func smsJobs(ctx context.Context, conn *pgx.Conn) (jobCounts, error) {
	rows, _ := conn.Query(ctx, `SELECT kind, state::text, count(*) FROM river_job WHERE kind LIKE 'sms\_%' GROUP BY 1, 2`)
	c := jobCounts{}
	var kind, state string
	var n int64
	_, err := pgx.ForEachRow(rows, []any{&kind, &state, &n}, func() error {
		if c[kind] == nil {
			c[kind] = map[string]int64{}
		}
		c[kind][state] = n
		return nil
	})
	return c, err
}

// waitDrained polls river_job until no sms_* job is left to work, and
// returns how long that took and the final counts.
func waitDrained(ctx context.Context, pgURL string, limit time.Duration) (time.Duration, jobCounts, error) {
	conn, err := pgx.Connect(ctx, pgURL)
	if err != nil {
		return 0, nil, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	start := time.Now()
	for {
		c, err := smsJobs(ctx, conn)
		if err != nil {
			return 0, nil, err
		}
		if c.pending() == 0 {
			return time.Since(start), c, nil
		}
		if time.Since(start) > limit {
			return time.Since(start), c, fmt.Errorf("sms jobs not drained after %s: %s", limit, c)
		}
		select {
		case <-ctx.Done():
			return 0, nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (b *bench) phones(ctx context.Context) (*BenchSection, error) {
	tw, err := startFakeTwilio()
	if err != nil {
		return nil, err
	}
	defer tw.close()
	// Throttles per address off (the driver's joiners are few addresses);
	// JOIN_PHONE_RATE stays on, as deployed: it is a cost of a phone.
	srv, err := b.queueless(ctx, "queueless-phones", append([]string{"JOIN_RATE=off", "JOIN_ADDRESS_RATE=off",
		"JOIN_MAX_IN_FLIGHT=100000"}, tw.env()...)...)
	if err != nil {
		return nil, err
	}
	defer srv.stop()
	total, clients := b.scaled(phonesTotal), b.scaled(phonesClients)
	rounds := max(3, b.cfg.Runs)
	s := &BenchSection{Key: "phones", Title: "Flash crowd with phones: joins with and without texts (issue 13)",
		Setup: fmt.Sprintf("QueueLess in production mode (PostgreSQL, Redis) with `SMS_GATEWAY=twilio` pointed at a fake Twilio in the driver "+
			"(answers 201 at once, counts the texts), `SMS_VERIFY=true` (each new number gets its code: one `sms_phone` job and one text per join with a phone), "+
			"`JOIN_RATE=off JOIN_ADDRESS_RATE=off JOIN_MAX_IN_FLIGHT=100000`, `JOIN_PHONE_RATE` at its default (a cost of a phone), the jobs' defaults: `JOBS_WORKERS=10`, `JOBS_FETCH_COOLDOWN=20ms`, "+
			"and deliveries held while 8 joins or more are in flight (`JOBS_YIELD_JOINS=8`), at most 30 s after they became due (`JOBS_YIELD_MAX=30s`). "+
			"Each round: %d joins from %d closed-loop joiners (each joins again as soon as it is answered) into a new institution, once without phones and once "+
			"with a distinct phone number per join, the order alternating between rounds; after the phones' crowd the driver waits until river_job has no sms_* job "+
			"left to work (the drain time) before the next crowd. The reference is the crowd without phones of the same round; the figure is the median of the rounds' ratios.",
			total, clients),
		Command: fmt.Sprintf("SKIP_GOBENCH=1 ./scripts/bench.sh -targets phones (loadgen join -clients %d -total %d [-phone-share 1])", clients, total),
	}
	s.Table = header("round", "phones", "joins/s", "p50 ms", "p90 ms", "p99 ms", "max ms", "statuses", "drain s")
	var ratios, p99Ratios, rates, phoneRates, drains []float64
	var phonesJoined int64
	var top func() string
	for i := range rounds {
		var plain, withPhones OpSummary
		for k := range 2 {
			phones := (i+k)%2 == 1 // round 1: without first; round 2: with first; ...
			if b.cfg.Profile && i == rounds-1 && phones {
				top = b.cpuProfile(ctx, srv, "phones", 500*time.Millisecond, 8*time.Second)
			}
			op, err := phonesRound(ctx, b.options(srv.URL), total, clients, phones)
			if err != nil {
				return nil, fmt.Errorf("round %d (phones %v): %w", i+1, phones, err)
			}
			drain := ""
			if phones {
				withPhones = op
				phonesJoined += int64(op.Statuses["201"])
				d, c, err := waitDrained(ctx, b.scratch.url, 10*time.Minute)
				if err != nil {
					return nil, err
				}
				drains = append(drains, d.Seconds())
				drain = f1(d.Seconds())
				b.logf("phones round %d: drained in %s: %s", i+1, d.Round(time.Millisecond), c)
			} else {
				plain = op
			}
			s.Table = append(s.Table, row(strconv.Itoa(i+1), map[bool]string{true: "yes", false: "no"}[phones], f0(op.OKPerSecond),
				f1(op.P50), f1(op.P90), f1(op.P99), f1(op.Max), FormatStatuses(op.Statuses), drain))
			b.logf("phones round %d, phones %v: %.0f joins/s, p50 %.1f ms, p99 %.1f ms", i+1, phones, op.OKPerSecond, op.P50, op.P99)
		}
		ratios = append(ratios, withPhones.OKPerSecond/plain.OKPerSecond)
		p99Ratios = append(p99Ratios, withPhones.P99/plain.P99)
		rates, phoneRates = append(rates, plain.OKPerSecond), append(phoneRates, withPhones.OKPerSecond)
	}
	_, counts, err := waitDrained(ctx, b.scratch.url, time.Minute)
	if err != nil {
		return nil, err
	}
	held := heldDeliveries(ctx, srv.URL)
	ratio := median(ratios)
	s.Table = append(s.Table, row("**median**", "no", "**"+f0(median(rates))+"**", "", "", "", "", "", ""),
		row("**median**", "yes", "**"+f0(median(phoneRates))+"**", "", "", "", "", "", "**"+f1(median(drains))+"**"))
	done := counts.total("sms_phone", "completed")
	texts := tw.sent.Load()
	s.Notes = append(s.Notes,
		fmt.Sprintf("ratios of the rounds (with phones / without): joins/s %s; p99 %s", fmtList(ratios, 2), fmtList(p99Ratios, 2)),
		fmt.Sprintf("river_job at the end, sms_* kinds by state: %s", counts),
		fmt.Sprintf("%d joins with a phone answered 201; %d sms_phone jobs completed; %d texts reached the fake Twilio", phonesJoined, done, texts),
		"deliveries held for the crowds, from the server's /metrics: "+held)
	s.Goals = []Goal{
		{What: fmt.Sprintf("flash crowd of %d joins with phones, joins/s", total), Target: "≥ 0.8× the same crowd without phones",
			Result: f0(median(phoneRates)) + " joins/s",
			Reference: fmt.Sprintf("without phones %s joins/s; ratio %s× (median of %d rounds' ratios); p99 ratio %s×",
				f0(median(rates)), f2(ratio), rounds, f2(median(p99Ratios))),
			Met: ratio >= 1-phonesSlower},
		{What: "delivery backlog after each crowd with phones", Target: "drains: every sms_* job completed, one text per phone",
			Result:    fmt.Sprintf("median %s s to drain (%s s max)", f1(median(drains)), f1(maxOf(drains))),
			Reference: fmt.Sprintf("%d phones joined, %d sms_phone completed, %d texts; %s", phonesJoined, done, texts, counts),
			Met:       counts.unfinished() == 0 && done == phonesJoined && texts == phonesJoined},
	}
	if top != nil {
		s.Profile = top()
	}
	return s, nil
}

// heldDeliveries reads how many delivery jobs waited for the joins in
// flight, and how long in all (queueless_deliveries_held_*).
func heldDeliveries(ctx context.Context, base string) string {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/metrics", nil)
	if err != nil {
		return err.Error()
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err.Error()
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return err.Error()
	}
	var jobs, secs string
	for _, line := range strings.Split(string(body), "\n") {
		if v, ok := strings.CutPrefix(line, "queueless_deliveries_held_total "); ok {
			jobs = v
		}
		if v, ok := strings.CutPrefix(line, "queueless_deliveries_held_seconds_total "); ok {
			secs = v
		}
	}
	if jobs == "" {
		return "no queueless_deliveries_held_total in /metrics"
	}
	f, _ := strconv.ParseFloat(secs, 64)
	return fmt.Sprintf("%s jobs, %.1f s in all", jobs, f)
}

func fmtList(xs []float64, prec int) string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = strconv.FormatFloat(x, 'f', prec, 64)
	}
	return strings.Join(out, ", ")
}

func maxOf(xs []float64) float64 {
	m := 0.0
	for _, x := range xs {
		m = max(m, x)
	}
	return m
}
