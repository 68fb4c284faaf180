package institutions_test

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/queueless/queueless/institutions"
	"github.com/queueless/queueless/queue"
)

// lockedBuffer is a log sink shared by the syncer's goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestLinkErrorsHideCredentials: a poll link whose URL carries a user name,
// a password and an API key in its query shows staff an error (last_error)
// and writes log lines that name the cause with the URL redacted as the
// link's url field is, never the secrets.
func TestLinkErrorsHideCredentials(t *testing.T) {
	t.Parallel()
	// A port nobody listens on: the poll fails to connect.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()
	// A server that redirects to a URL with another secret, then fails.
	redirect := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://qluser:redirsecret@"+closed+"/next?token=redirtoken", http.StatusFound)
	}))
	t.Cleanup(redirect.Close)

	for name, target := range map[string]string{
		"refused":  "http://qluser:hunter2@" + closed + "/queue?api_key=sk_live_123",
		"redirect": strings.Replace(redirect.URL, "http://", "http://qluser:hunter2@", 1) + "/queue?api_key=sk_live_123",
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var logs lockedBuffer
			svc := queue.NewService(queue.NewMemoryStore(), queue.Config{})
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			inst, err := svc.CreateInstitution(ctx, queue.Fields{Name: "Linked", Kind: "bank", Status: queue.StatusOpen}, queue.Meta{})
			if err != nil {
				t.Fatal(err)
			}
			s := institutions.NewSyncer(institutions.SyncConfig{Queue: svc, Links: queue.NewMemoryLinkStore(nil),
				Tick: 10 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
			if _, err := s.PutLink(ctx, inst.ID, institutions.LinkSpec{Mode: queue.LinkPoll, URL: target,
				PollInterval: 100 * time.Millisecond, StaleAfter: time.Second}, queue.Meta{}); err != nil {
				t.Fatal(err)
			}
			done := make(chan struct{})
			go func() { s.Run(ctx); close(done) }()
			defer func() { cancel(); <-done }()
			var shown string
			deadline := time.Now().Add(10 * time.Second)
			for {
				l, err := s.Link(ctx, inst.ID)
				if err == nil && l.LastError != nil && l.Stale {
					shown = *l.LastError
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("the link never recorded its failure and went stale: %+v %v", l, err)
				}
				time.Sleep(20 * time.Millisecond)
			}
			cancel()
			<-done
			for what, text := range map[string]string{"last_error": shown, "the log": logs.String()} {
				for _, secret := range []string{"hunter2", "sk_live_123", "qluser", "redirsecret", "redirtoken", "api_key="} {
					if strings.Contains(text, secret) {
						t.Errorf("%s shows %q: %s", what, secret, text)
					}
				}
			}
			if !strings.Contains(shown, "/queue") {
				t.Errorf("last_error %q does not say which URL failed (redacted)", shown)
			}
		})
	}
}

// TestDecodeOutsideCounters: counter names from an outside system are
// checked like the API's own (1 to 16 characters, no control character,
// no NUL, which PostgreSQL cannot store in jsonb), when the document is
// decoded.
func TestDecodeOutsideCounters(t *testing.T) {
	t.Parallel()
	for name, counter := range map[string]string{
		"NUL":     `"3\u0000"`,
		"escape":  `"\u001b[2J"`,
		"long":    `"` + strings.Repeat("c", 17) + `"`,
		"huge":    `"` + strings.Repeat("c", 100000) + `"`,
		"empty":   `""`,
		"blank":   `"   "`,
		"newline": `"3\n"`,
	} {
		body := `{"now_serving": 3, "last_issued": 5, "counters": [{"counter": ` + counter + `, "number": 3}]}`
		if _, err := institutions.DecodeOutsideQueue([]byte(body)); err == nil {
			t.Errorf("%s counter: decoded", name)
		} else if code, _ := queue.ErrorCode(err); code != queue.CodeInvalid {
			t.Errorf("%s counter: error code %s, want invalid_request", name, code)
		}
	}
	q, err := institutions.DecodeOutsideQueue([]byte(`{"now_serving": 3, "last_issued": 5, "counters": [{"counter": "Window 12 (ñ)", "number": 3}]}`))
	if err != nil || len(q.Calls) != 1 || *q.Calls[0].Counter != "Window 12 (ñ)" {
		t.Fatalf("a fair counter name: %+v %v", q, err)
	}
}
