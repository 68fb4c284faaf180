package deploy

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/ulule/limiter/v3"

	"github.com/queueless/queueless/institutions"
	"github.com/queueless/queueless/internal/app"
	"github.com/queueless/queueless/internal/testapp"
	"github.com/queueless/queueless/internal/testenv"
)

const (
	rulesFile     = "prometheus/alerts.yml"
	rulesTestFile = "prometheus/alerts_test.yml"
	dashboardFile = "grafana/queueless.json"
	promtoolHint  = "apt-get install prometheus (Debian's package ships promtool); ./scripts/test.sh does"
)

// dashboard is the part of a Grafana dashboard the checks read.
type dashboard struct {
	Title  string `json:"title"`
	Panels []struct {
		Title   string `json:"title"`
		Type    string `json:"type"`
		Targets []struct {
			Expr string `json:"expr"`
		} `json:"targets"`
	} `json:"panels"`
}

func readDashboard(t *testing.T) dashboard {
	t.Helper()
	data, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	if err := json.Unmarshal(data, &d); err != nil {
		t.Fatalf("%s: %v", dashboardFile, err)
	}
	return d
}

// dashboardExprs returns every query of the dashboard with Grafana's
// variables replaced by what Prometheus can parse.
func dashboardExprs(t *testing.T) []string {
	t.Helper()
	var out []string
	for _, p := range readDashboard(t).Panels {
		if p.Type != "row" && len(p.Targets) == 0 {
			t.Errorf("%s: panel %q has no query", dashboardFile, p.Title)
		}
		for _, tg := range p.Targets {
			out = append(out, strings.ReplaceAll(tg.Expr, "$__rate_interval", "5m"))
		}
	}
	return out
}

func promtool(t *testing.T, args ...string) {
	t.Helper()
	bin := testenv.LookTool(t, "promtool", promtoolHint)
	out, err := exec.Command(bin, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// TestRulesParse: the alerting rules pass `promtool check rules` and their
// unit tests; every dashboard query parses as PromQL (checked as recording
// rules of a scratch file, the same parser).
func TestRulesParse(t *testing.T) {
	t.Parallel()
	promtool(t, "check", "rules", rulesFile)
	promtool(t, "test", "rules", rulesTestFile)

	exprs := dashboardExprs(t)
	if len(exprs) < 20 {
		t.Fatalf("%s has %d queries; expected the full dashboard", dashboardFile, len(exprs))
	}
	var b strings.Builder
	b.WriteString("groups:\n  - name: dashboard\n    rules:\n")
	for i, e := range exprs {
		q, _ := json.Marshal(e) // a JSON string is a YAML string
		fmt.Fprintf(&b, "      - record: dashboard:query_%d\n        expr: %s\n", i, q)
	}
	scratch := filepath.Join(t.TempDir(), "dashboard_rules.yml")
	if err := os.WriteFile(scratch, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	promtool(t, "check", "rules", scratch)
}

// metricName matches the metric names the server's own collectors export.
// Prometheus's own series (up) and functions (time) do not match.
var metricName = regexp.MustCompile(`\b(?:queueless|process|go)_[a-z0-9_]+\b`)

// referenced returns every metric name the rules and dashboard use, with
// where it is used.
func referenced(t *testing.T) map[string][]string {
	t.Helper()
	refs := map[string][]string{}
	rules, err := os.ReadFile(rulesFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range metricName.FindAllString(string(rules), -1) {
		refs[m] = append(refs[m], rulesFile)
	}
	for _, e := range dashboardExprs(t) {
		for _, m := range metricName.FindAllString(e, -1) {
			refs[m] = append(refs[m], dashboardFile)
		}
	}
	return refs
}

// TestMetricsExported starts a production server (PostgreSQL, and Redis
// behind a proxy the test cuts once), uses every feature that makes a
// metric appear (joins past the throttle, calls, live clients past the
// per-address cap, a poll link and a push link, a broker reconnect), then
// scrapes /metrics until every metric the rules and dashboard name is
// there: a histogram as the _bucket, _sum or _count series they use.
func TestMetricsExported(t *testing.T) {
	t.Parallel()
	refs := referenced(t)
	if len(refs) < 25 {
		t.Fatalf("only %d metric names found in the rules and dashboard; the extraction is broken", len(refs))
	}
	var proxy *testenv.TCPProxy
	s := testapp.Start(t, testapp.Production, func(c *app.Config) {
		// Redis through a proxy the test can cut: same URL, the proxy's address.
		u, err := url.Parse(c.RedisURL)
		if err != nil {
			t.Fatalf("TEST_REDIS_URL: %v", err)
		}
		proxy = testenv.NewTCPProxy(t, u.Host)
		u.Host = proxy.Addr()
		c.RedisURL = u.String()
		c.JoinRate = limiter.Rate{Period: time.Minute, Limit: 4}
		c.JoinMaxInFlight = 100
		c.WSMaxPerIP = 2
		c.Sync.Tick = 100 * time.Millisecond
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	id := s.CreateInstitution(nil)
	staff := s.StaffToken(id)
	wsURL := "ws" + strings.TrimPrefix(s.URL, "http")
	live := func(path string) (*websocket.Conn, error) {
		c, _, err := websocket.Dial(ctx, wsURL+path, nil)
		if err == nil {
			c.SetReadLimit(1 << 20)
			go func() { // read frames so that lag and frames are counted
				for {
					if _, _, err := c.Read(ctx); err != nil {
						return
					}
				}
			}()
			t.Cleanup(func() { _ = c.CloseNow() })
		}
		return c, err
	}
	if _, err := live(testapp.Path("/api/v1/institutions/%d/live", id)); err != nil {
		t.Fatalf("institution live: %v", err)
	}

	var tickets []string
	for i := 0; i < 5; i++ { // the fifth is throttled
		r := s.Do(testapp.Request{Method: "POST", Path: testapp.Path("/api/v1/institutions/%d/tickets", id), Body: map[string]any{}})
		if r.Status == http.StatusCreated {
			tickets = append(tickets, r.Map(t)["id"].(string))
		}
	}
	if len(tickets) != 4 {
		t.Fatalf("%d joins accepted, want 4 (JOIN_RATE 4 a minute)", len(tickets))
	}
	if _, err := live(testapp.Path("/api/v1/tickets/%s/live", tickets[3])); err != nil {
		t.Fatalf("ticket live: %v", err)
	}
	if c, err := live(testapp.Path("/api/v1/institutions/%d/live", id)); err == nil {
		_ = c.CloseNow()
		t.Fatal("a third live connection from one address was accepted; WS_MAX_PER_IP is 2")
	}
	advance := func() {
		r := s.Do(testapp.Request{Method: "POST", Path: testapp.Path("/api/v1/institutions/%d/advance", id), Token: staff, Body: map[string]any{"counter": "1"}})
		if r.Status != http.StatusOK {
			t.Fatalf("advance: %d %s", r.Status, r.Body)
		}
	}
	advance()
	if r := s.Do(testapp.Request{Method: "POST", Path: testapp.Path("/api/v1/tickets/%s/check-in", tickets[0])}); r.Status != http.StatusOK {
		t.Fatalf("check-in: %d %s", r.Status, r.Body)
	}
	advance()
	if r := s.Do(testapp.Request{Method: "POST", Path: testapp.Path("/api/v1/tickets/%s/cancel", tickets[2])}); r.Status != http.StatusOK {
		t.Fatalf("cancel: %d %s", r.Status, r.Body)
	}

	// A poll link to an outside queue, and a push link.
	outside := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"now_serving": 1, "last_issued": 3}`)
	}))
	t.Cleanup(outside.Close)
	polled := s.CreateInstitution(nil)
	putLink(t, s, polled, map[string]any{"mode": "poll", "url": outside.URL, "poll_interval_seconds": 0.1})
	pushed := s.CreateInstitution(nil)
	secret, _ := putLink(t, s, pushed, map[string]any{"mode": "push"})["secret"].(string)
	doc := []byte(`{"now_serving": 1, "last_issued": 2}`)
	if r := s.Do(testapp.Request{Method: "POST", Path: testapp.Path("/api/v1/institutions/%d/link/push", pushed), Body: doc,
		Header: map[string]string{institutions.SignatureHeader: institutions.Sign(secret, doc)}}); r.Status != http.StatusOK {
		t.Fatalf("push: %d %s", r.Status, r.Body)
	}

	// Redis goes away and comes back: the broker reconnects and the
	// subscribed institution resyncs.
	proxy.Cut()
	time.Sleep(200 * time.Millisecond)
	proxy.Restore()

	var missing []string
	for {
		exported := scrape(t, s)
		missing = missing[:0]
		for name := range refs {
			if !exported[name] {
				missing = append(missing, name)
			}
		}
		if len(missing) == 0 {
			break
		}
		if ctx.Err() != nil {
			sort.Strings(missing)
			for _, m := range missing {
				t.Errorf("%s names %s, which the server does not export", strings.Join(unique(refs[m]), " and "), m)
			}
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("%d metric names referenced, all exported", len(refs))
}

func putLink(t *testing.T, s *testapp.Server, id int64, body map[string]any) map[string]any {
	t.Helper()
	r := s.Do(testapp.Request{Method: "PUT", Path: testapp.Path("/api/v1/institutions/%d/link", id), Token: testapp.AdminToken, Body: body})
	if r.Status != http.StatusOK {
		t.Fatalf("put link: %d %s", r.Status, r.Body)
	}
	return r.Map(t)
}

// scrape returns the names of the samples /metrics shows (a histogram's
// _bucket, _sum and _count, not its family name).
func scrape(t *testing.T, s *testapp.Server) map[string]bool {
	t.Helper()
	r := s.Do(testapp.Request{Method: "GET", Path: "/metrics"})
	if r.Status != http.StatusOK {
		t.Fatalf("GET /metrics: %d %s", r.Status, r.Body)
	}
	names := map[string]bool{}
	sc := bufio.NewScanner(strings.NewReader(string(r.Body)))
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if i := strings.IndexAny(line, "{ "); i > 0 {
			names[line[:i]] = true
		}
	}
	return names
}

func unique(ss []string) []string {
	sort.Strings(ss)
	out := ss[:0]
	for i, s := range ss {
		if i == 0 || s != ss[i-1] {
			out = append(out, s)
		}
	}
	return out
}
