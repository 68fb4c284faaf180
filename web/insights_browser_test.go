package web_test

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/queueless/queueless/internal/testapp"
	"github.com/queueless/queueless/stats"
)

// TestBrowserInsights runs web/e2e/insights.test.mjs in Chromium against a
// production-mode server (PostgreSQL, Redis) holding an office with 30
// days of seeded history and three tickets today. The alerts endpoints are
// played by request interception in the page, in the contract's shape, so
// that the alerts shown are fixed (httpapi tests the real ones). With
// -screenshots it also writes
// docs/screenshots/insights.png.
func TestBrowserInsights(t *testing.T) {
	kit := newBrowserKit(t)

	s := testapp.Start(t, testapp.Production)
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, s.Config.DatabaseURL)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	today := time.Now().UTC().Truncate(24 * time.Hour)
	res, err := stats.SeedYear(ctx, pool, stats.SeedOptions{Name: "Civil Registry Office", End: today, Days: 45, PerDay: 300, Location: time.UTC, Seed: 0.3})
	if err != nil {
		t.Fatal(err)
	}
	id := res.InstitutionID
	path := testapp.Path("/api/v1/institutions/%d", id)
	if r := s.Do(testapp.Request{Method: "PATCH", Path: path, Token: testapp.AdminToken, Body: map[string]any{"status": "open"}}); r.Status != 200 {
		t.Fatalf("open: %d %s", r.Status, r.Body)
	}
	staff := s.StaffToken(id)
	for range 3 {
		if r := s.Do(testapp.Request{Method: "POST", Path: path + "/tickets", Body: map[string]any{}}); r.Status != 201 {
			t.Fatalf("join: %d %s", r.Status, r.Body)
		}
	}
	if r := s.Do(testapp.Request{Method: "POST", Path: path + "/advance", Token: staff, Body: map[string]any{"count": 2}}); r.Status != 200 {
		t.Fatalf("advance: %d %s", r.Status, r.Body)
	}

	env := append(os.Environ(),
		"QL_BASE_URL="+s.URL,
		"QL_CONTROL_URL=http://127.0.0.1:1", // no restarts here
		"QL_ADMIN_TOKEN="+testapp.AdminToken,
		"QL_CHROMIUM="+kit.chromium,
		"QL_STAFF_TOKEN="+staff,
		"QL_INSTITUTION="+strconv.FormatInt(id, 10),
		"QL_ARTIFACTS="+filepath.Join(kit.e2e, "artifacts"),
	)
	env = append(env, screenshotsEnv(t)...)
	kit.test(t, env, "insights.test.mjs")
}
