package main

import (
	"bytes"
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/queueless/queueless/internal/testenv"
	"github.com/queueless/queueless/mockapi"
)

// TestSeedCommand seeds a production database twice: demo institutions with
// waiting tickets, and a mockapi's institutions linked in poll mode; the
// second run adds nothing.
func TestSeedCommand(t *testing.T) {
	t.Parallel()
	dist, _ := mockapi.ParseDist("exp:60s")
	mock, err := mockapi.New(mockapi.Config{Institutions: []mockapi.InstitutionConfig{
		{ExternalID: "A", Name: "Outside A", Kind: "bank", Arrival: dist, Service: dist},
		{ExternalID: "B", Name: "Outside B", Kind: "not-a-kind", Arrival: dist, Service: dist},
	}})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(mock)
	defer hs.Close()
	db := testenv.NewSchema(t)
	env := map[string]string{"DATABASE_URL": db, "REDIS_URL": testenv.RedisURL(t), "REDIS_PREFIX": testenv.RedisPrefix(t),
		"SEED_TICKETS": "7", "LOG_LEVEL": "error"}
	getenv := func(k string) string { return env[k] }
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	var out bytes.Buffer
	if err := run(ctx, []string{"seed", "-mockapi", hs.URL}, getenv, &out, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	if got, want := strings.TrimSpace(out.String()), "seeded: 6 institutions created, 2 linked, 28 tickets joined"; got != want {
		t.Fatalf("first seed said %q, want %q", got, want)
	}
	out.Reset()
	if err := run(ctx, []string{"seed", "-mockapi", hs.URL}, getenv, &out, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	if got, want := strings.TrimSpace(out.String()), "seeded: 0 institutions created, 0 linked, 0 tickets joined"; got != want {
		t.Fatalf("second seed said %q, want %q", got, want)
	}

	conn, err := pgx.Connect(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var links int
	var kind string
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM links WHERE mode = 'poll' AND url LIKE $1`, hs.URL+"/api/v1/institutions/%/queue").Scan(&links); err != nil {
		t.Fatal(err)
	}
	if err := conn.QueryRow(ctx, `SELECT kind FROM institutions WHERE name = 'Outside B'`).Scan(&kind); err != nil {
		t.Fatal(err)
	}
	if links != 2 || kind != "other" {
		t.Fatalf("%d poll links to the mock, Outside B of kind %q; want 2 and other", links, kind)
	}

	// Embedded mode has nothing to seed from outside the process.
	if err := run(ctx, []string{"seed"}, func(string) string { return "" }, &out, &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), "SEED_TICKETS") {
		t.Fatalf("seed without DATABASE_URL: %v, want an error pointing at SEED_TICKETS", err)
	}
}
