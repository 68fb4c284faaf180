package webhooks_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/queueless/queueless/internal/testenv"
)

// The kill test runs the real server binary, built once per test binary
// (with -race when the tests have it).
var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binPath != "" {
		_ = os.RemoveAll(filepath.Dir(binPath))
	}
	os.Exit(code)
}

func serverBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "queueless-webhooks-e2e-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "queueless")
		args := []string{"build", "-o", binPath}
		if raceEnabled {
			args = append(args, "-race")
		}
		args = append(args, "github.com/queueless/queueless/cmd/queueless")
		if out, err := exec.Command(filepath.Join(runtime.GOROOT(), "bin", "go"), args...).CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatalf("build server: %v", buildErr)
	}
	return binPath
}

const killAdminToken = "webhooks-e2e-admin-token-0123456789"

type proc struct {
	t    *testing.T
	base string
	cmd  *exec.Cmd
	done chan struct{}
	log  string
}

func startProc(t *testing.T, env ...string) *proc {
	t.Helper()
	port := testenv.FreePort(t)
	logPath := filepath.Join(t.TempDir(), "server.log")
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	cmd := exec.Command(serverBinary(t))
	cmd.Env = append(os.Environ(), fmt.Sprintf("ADDR=127.0.0.1:%d", port), "ADMIN_TOKEN="+killAdminToken,
		"LOG_LEVEL=warn", "LOG_FORMAT=json", "JOIN_RATE=off", "JOIN_PHONE_RATE=off", "SHUTDOWN_TIMEOUT=10s")
	cmd.Env = append(cmd.Env, env...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{t: t, base: fmt.Sprintf("http://127.0.0.1:%d", port), cmd: cmd, done: make(chan struct{}), log: logPath}
	go func() { _ = cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(20 * time.Second):
			_ = cmd.Process.Kill()
			<-p.done
		}
	})
	deadline := time.Now().Add(90 * time.Second)
	for {
		if resp, err := http.Get(p.base + "/healthz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p
			}
		}
		select {
		case <-p.done:
			t.Fatalf("server exited before answering:\n%s", p.logTail())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("server did not answer /healthz:\n%s", p.logTail())
		}
	}
}

func (p *proc) logTail() string {
	b, _ := os.ReadFile(p.log)
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

func (p *proc) call(method, path string, body, out any) {
	p.t.Helper()
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, method, p.base+path, r)
	req.Header.Set("Authorization", "Bearer "+killAdminToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		p.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		p.t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			p.t.Fatalf("decode %s: %v", b, err)
		}
	}
}

// An instance killed with deliveries in flight (its POSTs held by the
// receiver): another instance on the same database delivers every one of
// them, once River's leader finds them stuck.
func TestWebhookInstanceKilledAnotherDelivers(t *testing.T) {
	t.Parallel()
	env := []string{
		"DATABASE_URL=" + testenv.NewSchema(t),
		"REDIS_URL=" + testenv.RedisURL(t), "REDIS_PREFIX=" + testenv.RedisPrefix(t),
		"WEBHOOK_TIMEOUT=5s", "JOBS_RESCUE_AFTER=11s", "WEBHOOK_RETRY_BASE=100ms",
	}
	r := newReceiver(t)
	r.mu.Lock()
	r.hang = make(chan struct{})
	r.mu.Unlock()

	a := startProc(t, env...)
	var inst struct{ ID int64 }
	a.call("POST", "/api/v1/institutions", map[string]any{"name": "Kill Office", "kind": "bank", "address": "x", "status": "open"}, &inst)
	var hook hookOut
	a.call("POST", "/api/v1/webhooks", map[string]any{"url": r.srv.URL, "events": []string{"ticket.created"}}, &hook)
	r.setSecret(hook.Secret)
	const joins = 5
	for range joins {
		a.call("POST", fmt.Sprintf("/api/v1/institutions/%d/tickets", inst.ID), map[string]any{}, nil)
	}
	waitFor(t, 30*time.Second, "every delivery in flight at the receiver", func() bool {
		ids := map[string]bool{}
		for _, at := range r.attempts() {
			ids[at.delivery] = true
		}
		return len(ids) == joins
	})
	if err := a.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-a.done
	r.mu.Lock()
	close(r.hang)
	r.hang = nil
	r.mu.Unlock()
	if n := len(r.accepted()); n != 0 {
		t.Fatalf("%d deliveries accepted before the kill, want none (all held)", n)
	}

	b := startProc(t, env...)
	waitFor(t, 90*time.Second, "the other instance to deliver every delivery", func() bool { return len(r.accepted()) == joins })
	time.Sleep(300 * time.Millisecond)
	for id, n := range r.accepted() {
		if n != 1 {
			t.Errorf("delivery %s accepted %d times, want once", id, n)
		}
	}
	for _, at := range r.attempts() {
		if !at.sigOK {
			t.Errorf("delivery %s: bad signature", at.delivery)
		}
	}
	waitFor(t, 15*time.Second, "every delivery recorded as delivered", func() bool {
		var out struct{ Items []deliveryOut }
		b.call("GET", fmt.Sprintf("/api/v1/webhooks/%d/deliveries?status=delivered", hook.ID), nil, &out)
		return len(out.Items) == joins
	})
}
