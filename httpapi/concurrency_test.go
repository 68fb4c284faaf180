package httpapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/queueless/queueless/internal/app"
	"github.com/queueless/queueless/internal/testapp"
)

// TestConcurrentJoinsGapFree sends 2,000 joins at once over HTTP, spread
// over four institutions, to a server on PostgreSQL: each institution's
// numbers are then exactly 1..n.
func TestConcurrentJoinsGapFree(t *testing.T) {
	t.Parallel()
	// A generous deadline: this test is about numbers, and 2,000 joins at
	// once beside the package's other tests on two cores can take longer
	// than the default 10s; a 503 would hide the answer.
	s := testapp.Start(t, testapp.Production, func(c *app.Config) { c.RequestTimeout = time.Minute })
	ids := make([]int64, 4)
	for i := range ids {
		ids[i] = s.CreateInstitution(nil)
	}
	const joins = 2000
	type result struct {
		inst   int64
		number int64
		status int
	}
	results := make(chan result, joins)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range joins {
		inst := ids[i%len(ids)]
		wg.Go(func() {
			<-start
			r, err := s.Try(testapp.Request{Method: "POST", Path: fmt.Sprintf("/api/v1/institutions/%d/tickets", inst)})
			if err != nil {
				t.Error(err)
				return
			}
			var tk struct{ Number int64 }
			if r.Status == http.StatusCreated {
				// Not r.JSON: its t.Fatal must not run on this goroutine.
				if err := json.Unmarshal(r.Body, &tk); err != nil {
					t.Errorf("decode 201 %q: %v", r.Body, err)
					return
				}
			}
			results <- result{inst, tk.Number, r.Status}
		})
	}
	close(start)
	wg.Wait()
	close(results)
	got := map[int64][]int64{}
	for r := range results {
		if r.status != http.StatusCreated {
			t.Fatalf("a join got %d", r.status)
		}
		got[r.inst] = append(got[r.inst], r.number)
	}
	conn, err := pgx.Connect(context.Background(), s.Config.DatabaseURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	for _, id := range ids {
		seen := map[int64]bool{}
		for _, n := range got[id] {
			if seen[n] {
				t.Fatalf("institution %d: number %d issued twice", id, n)
			}
			seen[n] = true
		}
		want := joins / len(ids)
		for n := 1; n <= want; n++ {
			if !seen[int64(n)] {
				t.Fatalf("institution %d: number %d missing from the responses", id, n)
			}
		}
		var count, lo, hi, distinct int64
		err := conn.QueryRow(context.Background(),
			`SELECT count(*), min(number), max(number), count(DISTINCT number) FROM tickets WHERE institution_id = $1`, id).Scan(&count, &lo, &hi, &distinct)
		if err != nil {
			t.Fatal(err)
		}
		if count != int64(want) || lo != 1 || hi != int64(want) || distinct != count {
			t.Fatalf("institution %d in PostgreSQL: %d tickets, numbers %d..%d (%d distinct), want 1..%d", id, count, lo, hi, distinct, want)
		}
		var last int64
		if err := conn.QueryRow(context.Background(), `SELECT last_issued FROM institutions WHERE id = $1`, id).Scan(&last); err != nil || last != int64(want) {
			t.Fatalf("institution %d last_issued %d (%v), want %d", id, last, err, want)
		}
	}
}
