package testenv

import (
	"bufio"
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
	dir := t.TempDir()
	port := FreePort(t)
	addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	p := &process{
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
	}
	p.start()
	t.Cleanup(p.stop)
	return addr, p.stop, p.start
}

// pingRedis sends one PING in the wire protocol, so that waiting for a server
// starts no client and leaves no goroutine behind.
func pingRedis(ctx context.Context, addr string) error {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	if deadline, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(deadline)
	}
	if _, err := conn.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		return err
	}
	if got := strings.TrimSpace(line); got != "+PONG" {
		// -LOADING and the like: up, not ready.
		return fmt.Errorf("PING answered %q", got)
	}
	return nil
}
