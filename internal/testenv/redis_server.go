package testenv

import (
	"context"
	"fmt"
	"net"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// StartRedisServer starts a private redis-server on a free port of 127.0.0.1,
// keeping nothing on disk, and returns once it answers PING. stop kills it
// (SIGKILL, as in a crash) and waits for it to exit; start runs it again on
// the same port and waits until it answers. Both do nothing when the server
// is already in that state, and must be called from the test's goroutine.
// The server is killed when the test ends.
//
// Fault tests use this rather than the shared TEST_REDIS_URL server, which
// they must never stop.
func StartRedisServer(t testing.TB) (addr string, stop func(), start func()) {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		requireTool(t, "redis-server", "install it (apt-get install redis-server) or run ./scripts/test.sh as root")
	}
	attr, err := procAttr(nil)
	if err != nil {
		t.Fatalf("start redis-server: %v", err)
	}
	p := redisProcess(t, bin, FreePort(t), t.TempDir(), attr)
	p.start()
	t.Cleanup(p.stop)
	return p.addr, p.stop, p.start
}

// redisServer is a private redis-server process and its address.
type redisServer struct {
	*process
	addr string
}

// redisProcess describes a redis-server on port of 127.0.0.1, keeping its
// files in dir; it is not started.
func redisProcess(t testing.TB, bin string, port int, dir string, attr *syscall.SysProcAttr) redisServer {
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	return redisServer{addr: addr, process: &process{
		t:    t,
		name: "redis-server",
		argv: []string{
			bin,
			"--port", strconv.Itoa(port),
			"--bind", "127.0.0.1",
			"--save", "",
			"--appendonly", "no",
			"--dir", dir,
			"--daemonize", "no",
			"--logfile", "", // stdout, which goes to logPath
		},
		logPath: filepath.Join(dir, "redis.log"),
		attr:    attr,
		stopSig: syscall.SIGKILL,
		ready:   func(ctx context.Context) error { return pingRedis(ctx, addr) },
		owns:    func(ctx context.Context, pid int) error { return redisOwnedBy(ctx, addr, pid) },
	}}
}

// pingRedis sends one PING, so that waiting for a server starts no client
// and leaves no goroutine behind.
func pingRedis(ctx context.Context, addr string) error {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	got, err := redisCommand(ctx, addr, "PING")
	if err != nil {
		return err // -LOADING and the like: up, not ready
	}
	if got != "PONG" {
		return fmt.Errorf("PING answered %q", got)
	}
	return nil
}

// redisOwnedBy checks that the redis-server answering on addr is process
// pid, from the process_id line of INFO server.
func redisOwnedBy(ctx context.Context, addr string, pid int) error {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	info, err := redisCommand(ctx, addr, "INFO", "server")
	if err != nil {
		return err
	}
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "process_id:"); ok {
			if v != strconv.Itoa(pid) {
				return fmt.Errorf("the redis-server answering on %s is process %s, not ours (%d)", addr, v, pid)
			}
			return nil
		}
	}
	return fmt.Errorf("INFO server of %s has no process_id", addr)
}
