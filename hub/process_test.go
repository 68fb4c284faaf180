package hub_test

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
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/queueless/queueless/internal/testenv"
)

// The end-to-end tests run the real server binary, built once per test
// binary (with -race when the tests have it) into a directory TestMain
// removes.
var (
	buildOnce sync.Once
	binDir    string
	binPath   string
	buildErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		_ = os.RemoveAll(binDir)
	}
	os.Exit(code)
}

func serverBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		binDir, buildErr = os.MkdirTemp("", "queueless-live-e2e-")
		if buildErr != nil {
			return
		}
		binPath = filepath.Join(binDir, "queueless")
		args := []string{"build", "-o", binPath}
		if raceEnabled {
			args = append(args, "-race")
		}
		args = append(args, "github.com/queueless/queueless/cmd/queueless")
		cmd := exec.Command(filepath.Join(runtime.GOROOT(), "bin", "go"), args...)
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatalf("build server: %v", buildErr)
	}
	return binPath
}

const adminToken = "live-e2e-admin-token-0123456789"

// server is one queueless process.
type server struct {
	t    *testing.T
	base string // http://127.0.0.1:port
	cmd  *exec.Cmd
	done chan struct{}
	log  string
}

// startServer runs the binary on 127.0.0.1:0 with env added to the
// defaults below, reads the address it bound from its own log, and waits
// until it answers /healthz there, checking before every try that the
// process is still running.
func startServer(t *testing.T, env ...string) *server {
	t.Helper()
	logPath := filepath.Join(t.TempDir(), "server.log")
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatalf("server log: %v", err)
	}
	defer logf.Close()
	cmd := exec.Command(serverBinary(t))
	cmd.Env = append(os.Environ(),
		"ADDR=127.0.0.1:0",
		"ADMIN_TOKEN="+adminToken,
		// info: the "serving" line tells the address.
		"LOG_LEVEL=info", "LOG_FORMAT=json",
		"JOIN_RATE=off", "JOIN_PHONE_RATE=off", "JOIN_ADDRESS_RATE=off", "WS_MAX_PER_IP=0",
		"SHUTDOWN_TIMEOUT=10s",
	)
	cmd.Env = append(cmd.Env, env...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start server: %v", err)
	}
	s := &server{t: t, cmd: cmd, done: make(chan struct{}), log: logPath}
	go func() { _ = cmd.Wait(); close(s.done) }()
	t.Cleanup(s.stop)
	exited := func() bool {
		select {
		case <-s.done:
			return true
		default:
			return false
		}
	}
	deadline := time.Now().Add(60 * time.Second)
	addr, err := testenv.ServingAddr(logPath, 0, exited, time.Until(deadline))
	if err != nil {
		t.Fatalf("server: %v\n%s", err, s.logTail())
	}
	s.base = "http://" + addr
	for {
		if exited() {
			t.Fatalf("server exited before answering:\n%s", s.logTail())
		}
		resp, err := http.Get(s.base + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("server did not answer /healthz within a minute:\n%s", s.logTail())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// stop ends the server as an orchestrator would: SIGTERM, then SIGKILL.
func (s *server) stop() {
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(20 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
		s.t.Errorf("server did not stop within 20s of SIGTERM:\n%s", s.logTail())
	}
}

func (s *server) logTail() string {
	b, _ := os.ReadFile(s.log)
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

func (s *server) ws(path string) string { return "ws" + s.base[len("http"):] + path }

// call makes an API request and decodes a 2xx answer into out.
func (s *server) call(method, path string, body any, out any) {
	s.t.Helper()
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, method, s.base+path, r)
	req.Header.Set("Authorization", "Bearer "+adminToken)
	if body != nil || method != http.MethodGet {
		req.Header.Set("Content-Type", "application/json") // every change says so, body or not
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		s.t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			s.t.Fatalf("%s %s: decode %s: %v", method, path, b, err)
		}
	}
}

// metric reads one sample of /metrics, by its name and labels as printed.
func (s *server) metric(series string) float64 {
	s.t.Helper()
	resp, err := http.Get(s.base + "/metrics")
	if err != nil {
		s.t.Fatalf("get metrics: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(b), "\n") {
		if name, value, ok := strings.Cut(line, " "); ok && name == series {
			v, err := strconv.ParseFloat(value, 64)
			if err != nil {
				s.t.Fatalf("metric %s: %v", line, err)
			}
			return v
		}
	}
	return 0
}
