package minimal_test

import (
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/queueless/queueless/loadtest/minimal"
)

// ticketKeys are the keys of a Ticket in docs/API contract.
var ticketKeys = []string{"id", "institution_id", "number", "status", "people_ahead", "now_serving",
	"near_turn_threshold", "counter", "estimated_wait_seconds", "issued_at", "called_at", "checked_in_at",
	"completed_at", "updated_at"}

var uuidRe = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

type ticket struct {
	ID            string    `json:"id"`
	InstitutionID int64     `json:"institution_id"`
	Number        int64     `json:"number"`
	Status        string    `json:"status"`
	PeopleAhead   int64     `json:"people_ahead"`
	IssuedAt      time.Time `json:"issued_at"`
}

func join(t *testing.T, url, body string) (int, string, []byte) {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header.Get("Content-Type"), b
}

func TestJoinAnswersATicket(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(minimal.New())
	t.Cleanup(srv.Close)
	var last ticket
	for i, body := range []string{`{}`, `{"phone": "09171234567", "near_turn_threshold": 3}`, ``} {
		status, ctype, b := join(t, srv.URL+"/api/v1/institutions/7/tickets", body)
		if status != http.StatusCreated || ctype != "application/json" {
			t.Fatalf("join %d: %d %q, want 201 application/json: %s", i+1, status, ctype, b)
		}
		var fields map[string]json.RawMessage
		if err := json.Unmarshal(b, &fields); err != nil {
			t.Fatalf("join %d: body is not a JSON object: %v: %s", i+1, err, b)
		}
		keys := slices.Sorted(maps.Keys(fields))
		if want := slices.Sorted(slices.Values(ticketKeys)); !slices.Equal(keys, want) {
			t.Errorf("join %d: keys %v, want a ticket's %v", i+1, keys, want)
		}
		var tk ticket
		if err := json.Unmarshal(b, &tk); err != nil {
			t.Fatalf("join %d: %v: %s", i+1, err, b)
		}
		if !uuidRe.MatchString(tk.ID) {
			t.Errorf("join %d: id %q is not a version 4 UUID", i+1, tk.ID)
		}
		if got, want := tk.InstitutionID, int64(7); got != want {
			t.Errorf("join %d: institution_id %d, want %d", i+1, got, want)
		}
		if got, want := tk.Number, int64(i+1); got != want {
			t.Errorf("join %d: number %d, want %d", i+1, got, want)
		}
		if got, want := tk.PeopleAhead, int64(i); got != want {
			t.Errorf("join %d: people_ahead %d, want %d", i+1, got, want)
		}
		if tk.Status != "notified" { // within the default threshold of 3
			t.Errorf("join %d: status %q, want notified", i+1, tk.Status)
		}
		if time.Since(tk.IssuedAt).Abs() > time.Minute {
			t.Errorf("join %d: issued_at %s is not now", i+1, tk.IssuedAt)
		}
		if tk.ID == last.ID {
			t.Errorf("join %d: id %s repeats the previous one", i+1, tk.ID)
		}
		// QueueLess's ticket, same fields and encoding, is about 340 bytes:
		// the reference must not be cheaper for being shorter.
		if len(b) < 300 || len(b) > 450 {
			t.Errorf("join %d: %d bytes, want a ticket's size (300..450): %s", i+1, len(b), b)
		}
		last = tk
	}
}

func TestJoinRejects(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(minimal.New())
	t.Cleanup(srv.Close)
	for _, tc := range []struct {
		method, path string
		want         int
	}{
		{http.MethodPost, "/api/v1/institutions/x/tickets", http.StatusBadRequest},
		{http.MethodPost, "/api/v1/institutions/0/tickets", http.StatusBadRequest},
		{http.MethodGet, "/api/v1/institutions/1/tickets", http.StatusMethodNotAllowed},
		{http.MethodPost, "/api/v1/institutions/1/join", http.StatusNotFound},
	} {
		req, err := http.NewRequest(tc.method, srv.URL+tc.path, strings.NewReader("{}"))
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if got := resp.StatusCode; got != tc.want {
			t.Errorf("%s %s: %d, want %d", tc.method, tc.path, got, tc.want)
		}
	}
}

// TestJoinNumbersUnderConcurrency: every join gets its own number, 1..n.
func TestJoinNumbersUnderConcurrency(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(minimal.New())
	t.Cleanup(srv.Close)
	const joiners, each = 50, 20
	var mu sync.Mutex
	seen := map[int64]bool{}
	var wg sync.WaitGroup
	for range joiners {
		wg.Go(func() {
			for range each {
				resp, err := http.Post(srv.URL+"/api/v1/institutions/1/tickets", "application/json", strings.NewReader("{}"))
				if err != nil {
					t.Error(err)
					return
				}
				var tk ticket
				err = json.NewDecoder(resp.Body).Decode(&tk)
				resp.Body.Close()
				if err != nil || resp.StatusCode != http.StatusCreated {
					t.Errorf("join: %d %v", resp.StatusCode, err)
					return
				}
				mu.Lock()
				if seen[tk.Number] {
					t.Errorf("number %d issued twice", tk.Number)
				}
				seen[tk.Number] = true
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	for n := int64(1); n <= joiners*each; n++ {
		if !seen[n] {
			t.Errorf("number %d never issued", n)
		}
	}
}
