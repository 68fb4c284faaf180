package testenv

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The queueless binaries a test binary built, one per race setting,
// removed by RemoveServerBinaries.
var (
	buildMu  sync.Mutex
	builtDir string
	built    = map[bool]string{}
)

// ServerBinary builds cmd/queueless, once per test binary and race
// setting (race: with -race; pass Race to match the tests), and returns
// its path. A package that uses it calls RemoveServerBinaries from its
// TestMain after m.Run.
func ServerBinary(t testing.TB, race bool) string {
	t.Helper()
	buildMu.Lock()
	defer buildMu.Unlock()
	if bin, ok := built[race]; ok {
		return bin
	}
	if builtDir == "" {
		dir, err := os.MkdirTemp("", "queueless-bin-")
		if err != nil {
			t.Fatalf("build server: %v", err)
		}
		builtDir = dir
	}
	name := "queueless"
	args := []string{"build"}
	if race {
		name += "-race"
		args = append(args, "-race")
	}
	bin := filepath.Join(builtDir, name)
	args = append(args, "-o", bin, "github.com/queueless/queueless/cmd/queueless")
	if out, err := exec.Command(filepath.Join(runtime.GOROOT(), "bin", "go"), args...).CombinedOutput(); err != nil {
		t.Fatalf("build server: go build: %v\n%s", err, out)
	}
	built[race] = bin
	return bin
}

// RemoveServerBinaries removes what ServerBinary built; for TestMain.
func RemoveServerBinaries() {
	buildMu.Lock()
	defer buildMu.Unlock()
	if builtDir != "" {
		_ = os.RemoveAll(builtDir)
	}
	builtDir, built = "", map[bool]string{}
}

// Server is a queueless server process that a test starts, signals and
// starts again. Its first start binds a free port of 127.0.0.1 (ADDR
// 127.0.0.1:0, the address read back from its own log, so that a test
// never drives another test's server); later starts bind the same port.
// Every run's output is appended to Log.
type Server struct {
	t    testing.TB
	Name string
	Log  string
	bin  string
	env  []string

	mu   sync.Mutex
	addr string // host:port once served
	cmd  *exec.Cmd
	done chan struct{}
}

// serverStart bounds a server's start, generous for a loaded two-core
// machine running a race-built binary.
const serverStart = 90 * time.Second

// StartServer is NewServer and Start.
func StartServer(t testing.TB, name, bin string, env ...string) *Server {
	t.Helper()
	s := NewServer(t, name, bin, env...)
	s.Start()
	return s
}

// NewServer describes a server, not yet started, that runs bin (from
// ServerBinary) as `bin serve` with env added to PATH, HOME, TMPDIR,
// GORACE and LOG_FORMAT=json, LOG_LEVEL=info (env may override those two,
// but not below info: the "serving" line tells the address). When the
// test ends it is sent SIGTERM, and the test fails if it has not exited
// 20s later.
func NewServer(t testing.TB, name, bin string, env ...string) *Server {
	t.Helper()
	s := &Server{t: t, Name: name, Log: filepath.Join(t.TempDir(), name+".log"), bin: bin}
	for _, k := range []string{"PATH", "HOME", "TMPDIR", "GORACE"} {
		if v, ok := os.LookupEnv(k); ok {
			s.env = append(s.env, k+"="+v)
		}
	}
	s.env = append(append(s.env, "LOG_FORMAT=json", "LOG_LEVEL=info"), env...)
	t.Cleanup(func() { s.Signal(syscall.SIGTERM, 20*time.Second) })
	return s
}

// URL is http://host:port of the server.
func (s *Server) URL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return "http://" + s.addr
}

// Done is closed when the running process has exited (nil when stopped).
func (s *Server) Done() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.done
}

// Start runs the server unless it runs, and waits until it answers
// /healthz. Like t.Fatal, it must be called from the test's goroutine.
func (s *Server) Start() {
	s.t.Helper()
	if err := s.TryStart(); err != nil {
		s.t.Fatal(err)
	}
}

// TryStart is Start for any goroutine: it returns what went wrong.
func (s *Server) TryStart() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		return nil
	}
	logf, err := os.OpenFile(s.Log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("start %s: %w", s.Name, err)
	}
	defer logf.Close()
	st, err := logf.Stat()
	if err != nil {
		return fmt.Errorf("start %s: %w", s.Name, err)
	}
	addr := "127.0.0.1:0"
	if s.addr != "" {
		addr = s.addr
	}
	attr, err := procAttr(nil)
	if err != nil {
		return fmt.Errorf("start %s: %w", s.Name, err)
	}
	cmd := exec.Command(s.bin, "serve")
	cmd.Env = append(append([]string(nil), s.env...), "ADDR="+addr)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = attr
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", s.Name, err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	s.cmd, s.done = cmd, done
	exited := func() bool {
		select {
		case <-done:
			return true
		default:
			return false
		}
	}
	deadline := time.Now().Add(serverStart)
	served, err := ServingAddr(s.Log, st.Size(), exited, serverStart)
	if err != nil {
		s.killLocked()
		return fmt.Errorf("start %s: %w\n%s", s.Name, err, s.LogTail())
	}
	if _, _, err := net.SplitHostPort(served); err != nil || s.addr != "" && served != s.addr {
		s.killLocked()
		return fmt.Errorf("start %s: it serves on %q, want %s", s.Name, served, addr)
	}
	s.addr = served
	client := &http.Client{Timeout: 5 * time.Second}
	for {
		resp, err := client.Get("http://" + served + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if exited() {
			s.cmd, s.done = nil, nil
			return fmt.Errorf("start %s: it exited before answering /healthz:\n%s", s.Name, s.LogTail())
		}
		if time.Now().After(deadline) {
			s.killLocked()
			return fmt.Errorf("start %s: no 200 from /healthz within %v:\n%s", s.Name, serverStart, s.LogTail())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (s *Server) killLocked() {
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	<-s.done
	s.cmd, s.done = nil, nil
}

// Signal sends sig and waits until the process has exited: up to within,
// then it is killed and the test fails (a SIGKILL is never late). It
// returns how long the process took to exit; 0 when it was not running.
func (s *Server) Signal(sig syscall.Signal, within time.Duration) time.Duration {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return 0
	}
	start := time.Now()
	_ = s.cmd.Process.Signal(sig)
	select {
	case <-s.done:
	case <-time.After(within):
		s.killLocked()
		s.t.Errorf("%s still running %v after %v; killed it\n%s", s.Name, within, sig, s.LogTail())
	}
	s.cmd, s.done = nil, nil
	return time.Since(start)
}

// SignalNoWait sends sig and returns at once; Done tells when it exited.
func (s *Server) SignalNoWait(sig syscall.Signal) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return fmt.Errorf("%s is not running", s.Name)
	}
	return s.cmd.Process.Signal(sig)
}

// State says whether the process runs, or how it ended.
func (s *Server) State() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return "stopped by the test"
	}
	select {
	case <-s.done:
		return "exited by itself: " + s.cmd.ProcessState.String()
	default:
		return "running"
	}
}

// LogTail is the end of the server's log, for failure messages.
func (s *Server) LogTail() string {
	b, err := os.ReadFile(s.Log)
	if err != nil {
		return fmt.Sprintf("(no log: %v)", err)
	}
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return fmt.Sprintf("--- %s log (%s) ---\n%s", s.Name, s.Log, b)
}
