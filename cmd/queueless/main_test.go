package main

import (
	"bytes"
	"context"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a bytes.Buffer safe for the server goroutine and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

var servingOn = regexp.MustCompile(`serving on http://(127\.0\.0\.1:[0-9]+) `)

// TestRunServesAndShutsDown runs the server as main does, in embedded mode:
// it prints an admin token, serves the demo institutions, and returns
// cleanly when its context ends.
func TestRunServesAndShutsDown(t *testing.T) {
	t.Parallel()
	// Port 0: the address it bound is read back from what it prints.
	env := map[string]string{"ADDR": "127.0.0.1:0", "LOG_FORMAT": "json"}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout, stderr syncBuffer
	done := make(chan error, 1)
	go func() { done <- run(ctx, nil, func(k string) string { return env[k] }, &stdout, &stderr) }()

	deadline := time.Now().Add(10 * time.Second)
	var addr string
	for addr == "" {
		select {
		case err := <-done:
			t.Fatalf("run returned before serving: %v\n%s", err, stderr.String())
		default:
		}
		if m := servingOn.FindStringSubmatch(stdout.String()); m != nil {
			addr = m[1]
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("run printed no address within 10s: %q\n%s", stdout.String(), stderr.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	for {
		resp, err := http.Get("http://" + addr + "/api/v1/institutions")
		if err == nil {
			var body bytes.Buffer
			_, _ = body.ReadFrom(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK || !strings.Contains(body.String(), "Civil Service Commission") {
				t.Fatalf("institutions: %d %s", resp.StatusCode, body.String())
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("server did not come up: %v\n%s", err, stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !strings.Contains(stdout.String(), "Admin token (shown once): ql_") {
		t.Fatalf("stdout does not show the generated admin token: %q", stdout.String())
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run returned %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("run did not return after its context ended")
	}
	if !strings.Contains(stderr.String(), "shutting down") {
		t.Fatalf("no shutdown log line: %s", stderr.String())
	}
}

func TestRunRejectsBadConfig(t *testing.T) {
	t.Parallel()
	env := map[string]string{"GRACE_PERIOD": "forever"}
	err := run(context.Background(), nil, func(k string) string { return env[k] }, &bytes.Buffer{}, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "GRACE_PERIOD") {
		t.Fatalf("run with GRACE_PERIOD=forever: %v, want an error naming the variable", err)
	}
	if err := run(context.Background(), []string{"frobnicate"}, func(string) string { return "" }, &bytes.Buffer{}, &bytes.Buffer{}); err == nil {
		t.Fatal("an unknown command was accepted")
	}
}

func TestRoutesListsTheContract(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	if err := run(context.Background(), []string{"routes"}, func(string) string { return "" }, &out, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"GET /api/v1/institutions", "POST /api/v1/institutions/:id/tickets", "POST /api/v1/institutions/:id/advance",
		"GET /api/v1/tickets/:ticket_id", "POST /api/v1/tickets/:ticket_id/recall", "POST /api/v1/tokens", "GET /readyz",
	} {
		if !strings.Contains(out.String(), want+"\n") {
			t.Errorf("routes lacks %q", want)
		}
	}
}
