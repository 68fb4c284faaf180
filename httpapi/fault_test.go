package httpapi_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/queueless/queueless/internal/app"
	"github.com/queueless/queueless/internal/testapp"
	"github.com/queueless/queueless/internal/testenv"
)

// TestPostgresUnreachable cuts the network between the server and
// PostgreSQL: requests get 503 unavailable and /readyz names postgres; when
// the network returns, service resumes without a restart.
func TestPostgresUnreachable(t *testing.T) {
	t.Parallel()
	cfg := testapp.Config(t, testapp.Production, func(c *app.Config) { c.RequestTimeout = 10 * time.Second })
	u, err := url.Parse(cfg.DatabaseURL)
	if err != nil {
		t.Fatal(err)
	}
	proxy := testenv.NewTCPProxy(t, u.Host)
	u.Host = proxy.Addr()
	cfg.DatabaseURL = u.String()
	s := testapp.StartConfig(t, cfg)
	id := s.CreateInstitution(nil)
	join := testapp.Request{Method: "POST", Path: testapp.Path("/api/v1/institutions/%d/tickets", id)}
	if r := s.Do(join); r.Status != http.StatusCreated {
		t.Fatalf("join before the cut: %d %s", r.Status, r.Body)
	}

	proxy.Cut()
	for _, req := range []testapp.Request{join, {Method: "GET", Path: testapp.Path("/api/v1/institutions/%d", id)}} {
		start := time.Now()
		r := s.Do(req)
		wantError(t, r, http.StatusServiceUnavailable, "unavailable")
		if r.Header.Get("Retry-After") == "" {
			t.Fatalf("%s %s: 503 without Retry-After", req.Method, req.Path)
		}
		t.Logf("%s %s during the cut: %s", req.Method, req.Path, time.Since(start))
		if d := time.Since(start); d > cfg.RequestTimeout+2*time.Second {
			t.Fatalf("%s %s took %s with the database gone, past the %s deadline", req.Method, req.Path, d, cfg.RequestTimeout)
		}
	}
	r := s.Do(testapp.Request{Method: "GET", Path: "/readyz"})
	if r.Status != http.StatusServiceUnavailable || r.Map(t)["postgres"] != "unavailable" || !strings.Contains(r.Map(t)["message"].(string), "postgres") {
		t.Fatalf("readyz with postgres gone: %d %s", r.Status, r.Body)
	}

	proxy.Restore()
	restored := time.Now()
	defer func() { t.Logf("service resumed %s after the network returned", time.Since(restored)) }()
	deadline := time.Now().Add(15 * time.Second)
	for {
		r := s.Do(join)
		if r.Status == http.StatusCreated {
			var tk struct{ Number int64 }
			r.JSON(t, &tk)
			if tk.Number != 2 {
				t.Fatalf("first ticket after the outage has number %d, want 2 (no gap, nothing lost)", tk.Number)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("service did not resume after postgres came back: %d %s", r.Status, r.Body)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if r := s.Do(testapp.Request{Method: "GET", Path: "/readyz"}); r.Status != http.StatusOK || r.Map(t)["postgres"] != "ok" {
		t.Fatalf("readyz after recovery: %d %s", r.Status, r.Body)
	}
}
