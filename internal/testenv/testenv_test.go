package testenv_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"
	"go.uber.org/goleak"

	"github.com/queueless/queueless/internal/testenv"
)

// TestMain checks that no test, with every cleanup done, leaves a goroutine
// behind: the proxy's and the private servers' included.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func connect(t *testing.T, connString string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), connString)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(func() { _ = conn.Close(context.Background()) })
	return conn
}

func schemaExists(t *testing.T, name string) bool {
	t.Helper()
	conn := connect(t, testenv.PostgresURL(t))
	var exists bool
	err := conn.QueryRow(t.Context(),
		"SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)", name).Scan(&exists)
	if err != nil {
		t.Fatalf("look up schema %s: %v", name, err)
	}
	return exists
}

func TestNewSchemaIsolatesAndDrops(t *testing.T) {
	t.Parallel()

	var names []string
	t.Run("two schemas", func(t *testing.T) {
		// Not parallel: t.Run returns only once this subtest's cleanups,
		// which drop the schemas, have run.
		for i := range 2 {
			conn := connect(t, testenv.NewSchema(t))
			var name string
			if err := conn.QueryRow(t.Context(), "SELECT current_schema()").Scan(&name); err != nil {
				t.Fatalf("current_schema: %v", err)
			}
			if !strings.HasPrefix(name, "test_") {
				t.Fatalf("current_schema() = %q, want a test_ schema", name)
			}
			// The same unqualified table in each: it must land in its own
			// schema, not collide.
			if _, err := conn.Exec(t.Context(), "CREATE TABLE t (v int)"); err != nil {
				t.Fatalf("create table in %s: %v", name, err)
			}
			if _, err := conn.Exec(t.Context(), "INSERT INTO t VALUES ($1)", i); err != nil {
				t.Fatalf("insert in %s: %v", name, err)
			}
			names = append(names, name)
		}
		if names[0] == names[1] {
			t.Fatalf("two schemas share the name %s", names[0])
		}
		for i, name := range names {
			conn := connect(t, testenv.PostgresURL(t))
			rows, _ := conn.Query(t.Context(), "SELECT v FROM "+pgx.Identifier{name, "t"}.Sanitize())
			got, err := pgx.CollectRows(rows, pgx.RowTo[int])
			if err != nil {
				t.Fatalf("read %s.t: %v", name, err)
			}
			if len(got) != 1 || got[0] != i {
				t.Errorf("%s.t holds %v, want [%d]", name, got, i)
			}
		}
	})
	if len(names) != 2 {
		t.Fatal("the subtest made no schemas")
	}
	for _, name := range names {
		if schemaExists(t, name) {
			t.Errorf("schema %s still exists after its test ended", name)
		}
	}
}

func TestNewSchemaPoolConnectionsShareSearchPath(t *testing.T) {
	t.Parallel()
	cs := testenv.NewSchema(t)
	cfg, err := pgx.ParseConfig(cs)
	if err != nil {
		t.Fatalf("parse %q: %v", cs, err)
	}
	got := cfg.RuntimeParams["search_path"]
	if !strings.HasPrefix(got, "test_") {
		t.Fatalf("search_path run-time parameter = %q, want a test_ schema", got)
	}
	// A fresh connection, as a pool would open, gets it too.
	for range 2 {
		conn := connect(t, cs)
		var sp string
		if err := conn.QueryRow(t.Context(), "SHOW search_path").Scan(&sp); err != nil {
			t.Fatalf("show search_path: %v", err)
		}
		if sp != got {
			t.Errorf("SHOW search_path = %q, want %q", sp, got)
		}
	}
}

func TestRedisPrefixDeletesOnlyItsKeys(t *testing.T) {
	t.Parallel()
	opts, err := redis.ParseURL(testenv.RedisURL(t))
	if err != nil {
		t.Fatalf("parse redis url: %v", err)
	}
	client := redis.NewClient(opts)
	t.Cleanup(func() { _ = client.Close() })

	// A key outside the prefix, which the cleanup must leave alone.
	outside := testenv.RedisPrefix(t) + "outside"
	if err := client.Set(t.Context(), outside, "keep", 0).Err(); err != nil {
		t.Fatalf("set %s: %v", outside, err)
	}

	var prefix string
	t.Run("fill", func(t *testing.T) {
		prefix = testenv.RedisPrefix(t)
		if !strings.HasPrefix(prefix, "test:") || !strings.HasSuffix(prefix, ":") || prefix == outside {
			t.Fatalf("prefix = %q, want test:<hex>:", prefix)
		}
		// More keys than one SCAN page, to exercise the cursor.
		pipe := client.Pipeline()
		for i := range 2500 {
			pipe.Set(t.Context(), fmt.Sprintf("%sk%d", prefix, i), i, 0)
		}
		if _, err := pipe.Exec(t.Context()); err != nil {
			t.Fatalf("fill: %v", err)
		}
	})

	keys, _, err := client.Scan(t.Context(), 0, prefix+"*", 100000).Result()
	if err != nil {
		t.Fatalf("scan: %v", err)
	}
	if len(keys) != 0 {
		t.Errorf("%d keys under %s remain after the test ended, e.g. %s", len(keys), prefix, keys[0])
	}
	if got, err := client.Get(t.Context(), outside).Result(); err != nil || got != "keep" {
		t.Errorf("GET %s = %q, %v; want \"keep\": cleanup deleted a key outside its prefix", outside, got, err)
	}
}

// echoServer answers every connection by echoing; when a client half-closes
// it writes "bye" and closes. It reports each connection's end on closed.
func echoServer(t *testing.T) (addr string, closed <-chan struct{}) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	ended := make(chan struct{}, 100)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				buf := make([]byte, 1024)
				for {
					n, err := c.Read(buf)
					if n > 0 {
						if _, werr := c.Write(buf[:n]); werr != nil {
							break
						}
					}
					if err != nil {
						if errors.Is(err, io.EOF) {
							_, _ = c.Write([]byte("bye"))
						}
						break
					}
				}
				ended <- struct{}{}
			}()
		}
	}()
	// Registered before the proxy's, so it runs after the proxy has closed
	// every connection, which ends the handlers.
	t.Cleanup(func() { _ = ln.Close(); wg.Wait() })
	return ln.Addr().String(), ended
}

func dialProxy(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		t.Fatalf("dial proxy: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	return c
}

// dialRoundTrip dials addr and echoes msg once. During a cut the proxy may
// reset the connection before the dial even returns.
func dialRoundTrip(addr, msg string) error {
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	return roundTrip(c, msg)
}

func roundTrip(c net.Conn, msg string) error {
	if _, err := c.Write([]byte(msg)); err != nil {
		return err
	}
	buf := make([]byte, len(msg))
	n, err := c.Read(buf)
	if err != nil {
		return err
	}
	if got := string(buf[:n]); got != msg {
		return fmt.Errorf("echo = %q, want %q", got, msg)
	}
	return nil
}

func TestTCPProxyCutAndRestore(t *testing.T) {
	t.Parallel()
	target, ended := echoServer(t)
	p := testenv.NewTCPProxy(t, target)

	c := dialProxy(t, p.Addr())
	if err := roundTrip(c, "hello"); err != nil {
		t.Fatalf("before cut: %v", err)
	}

	p.Cut()
	if err := roundTrip(c, "again"); err == nil {
		t.Fatal("a connection open before Cut still works after it")
	}
	select {
	case <-ended:
	case <-time.After(5 * time.Second):
		t.Fatal("Cut left the upstream side of the connection open")
	}
	if err := dialRoundTrip(p.Addr(), "during"); err == nil {
		t.Fatal("a connection made during the cut works")
	}

	p.Restore()
	if err := dialRoundTrip(p.Addr(), "after"); err != nil {
		t.Fatalf("a connection made after Restore: %v", err)
	}
}

func TestTCPProxyCloseEndsConnections(t *testing.T) {
	t.Parallel()
	target, ended := echoServer(t)
	p := testenv.NewTCPProxy(t, target)

	c := dialProxy(t, p.Addr())
	if err := roundTrip(c, "hello"); err != nil {
		t.Fatalf("before close: %v", err)
	}
	p.Close()
	p.Close() // idempotent
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	var ne net.Error
	if _, err := c.Read(make([]byte, 1)); err == nil || errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("read after Close: err = %v, want the connection closed", err)
	}
	select {
	case <-ended:
	case <-time.After(5 * time.Second):
		t.Fatal("Close left the upstream side of the connection open")
	}
	if err := dialRoundTrip(p.Addr(), "x"); err == nil {
		t.Fatal("the proxy still works after Close")
	}
}

func TestTCPProxyPassesHalfClose(t *testing.T) {
	t.Parallel()
	target, _ := echoServer(t)
	p := testenv.NewTCPProxy(t, target)

	c := dialProxy(t, p.Addr())
	if _, err := c.Write([]byte("x")); err != nil {
		t.Fatalf("write: %v", err)
	}
	if err := c.(*net.TCPConn).CloseWrite(); err != nil {
		t.Fatalf("close write: %v", err)
	}
	var got bytes.Buffer
	if _, err := got.ReadFrom(c); err != nil {
		t.Fatalf("read to EOF: %v", err)
	}
	if got, want := got.String(), "xbye"; got != want {
		t.Errorf("read %q after half close, want %q", got, want)
	}
}

func TestTCPProxyTargetDown(t *testing.T) {
	t.Parallel()
	p := testenv.NewTCPProxy(t, fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t)))
	if err := dialRoundTrip(p.Addr(), "x"); err == nil {
		t.Fatal("a connection to a dead target works")
	}
}

func TestTCPProxyBreaksRedisClient(t *testing.T) {
	t.Parallel()
	opts, err := redis.ParseURL(testenv.RedisURL(t))
	if err != nil {
		t.Fatalf("parse redis url: %v", err)
	}
	p := testenv.NewTCPProxy(t, opts.Addr)
	opts.Addr = p.Addr()
	opts.MaxRetries = -1 // see each failure, not a retry's success
	client := redis.NewClient(opts)
	t.Cleanup(func() { _ = client.Close() })

	if err := client.Ping(t.Context()).Err(); err != nil {
		t.Fatalf("ping before cut: %v", err)
	}
	p.Cut()
	if err := client.Ping(t.Context()).Err(); err == nil {
		t.Fatal("ping during cut succeeded")
	}
	p.Restore()
	if err := client.Ping(t.Context()).Err(); err != nil {
		t.Fatalf("ping after restore: %v", err)
	}
}

func TestStartRedisServerStopStart(t *testing.T) {
	t.Parallel()
	addr, stop, start := testenv.StartRedisServer(t)
	client := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1})
	t.Cleanup(func() { _ = client.Close() })

	if err := client.Set(t.Context(), "k", "v", 0).Err(); err != nil {
		t.Fatalf("set: %v", err)
	}
	stop()
	stop() // idempotent
	if err := client.Ping(t.Context()).Err(); err == nil {
		t.Fatal("ping after stop succeeded")
	}
	start()
	start() // idempotent
	if err := client.Ping(t.Context()).Err(); err != nil {
		t.Fatalf("ping after start: %v", err)
	}
	// It keeps nothing on disk, so a restart loses every key, as the
	// shared server's configuration does.
	if err := client.Get(t.Context(), "k").Err(); err != redis.Nil {
		t.Errorf("GET k after restart: err = %v, want redis.Nil", err)
	}
}

func TestStartPostgresServerStopStart(t *testing.T) {
	t.Parallel()
	cs, stop, start := testenv.StartPostgresServer(t)

	func() {
		conn := connect(t, cs)
		if _, err := conn.Exec(t.Context(), "CREATE TABLE t (v int); INSERT INTO t VALUES (42)"); err != nil {
			t.Fatalf("write: %v", err)
		}
		// Left open on purpose: stop must cut it like a crash.
		stop()
		if err := conn.Ping(t.Context()); err == nil {
			t.Fatal("ping on a connection open across stop succeeded")
		}
	}()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
	defer cancel()
	if conn, err := pgx.Connect(ctx, cs); err == nil {
		_ = conn.Close(ctx)
		t.Fatal("connect after stop succeeded")
	}

	start()
	conn := connect(t, cs)
	var v int
	if err := conn.QueryRow(t.Context(), "SELECT v FROM t").Scan(&v); err != nil {
		t.Fatalf("read after restart: %v", err)
	}
	if got, want := v, 42; got != want {
		t.Errorf("after restart t.v = %d, want %d: a committed row was lost", got, want)
	}
}

func TestFreePort(t *testing.T) {
	t.Parallel()
	port := testenv.FreePort(t)
	ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Fatalf("listen on free port %d: %v", port, err)
	}
	_ = ln.Close()
}

// TestMissingURL runs this test binary again without the URLs: the helper
// test must skip on a developer's machine and fail in CI.
func TestMissingURL(t *testing.T) {
	t.Parallel()
	if os.Getenv("TESTENV_HELPER") != "" {
		return // the helper run itself
	}
	for _, tc := range []struct {
		ci       string
		wantFail bool
		wantOut  string
	}{
		{ci: "", wantFail: false, wantOut: "SKIP"},
		{ci: "true", wantFail: true, wantOut: "must run, not skip"},
	} {
		t.Run("CI="+tc.ci, func(t *testing.T) {
			t.Parallel()
			cmd := exec.Command(os.Args[0], "-test.run=^TestHelperRequireURL$", "-test.v")
			var env []string
			for _, kv := range os.Environ() {
				if !strings.HasPrefix(kv, "CI=") && !strings.HasPrefix(kv, testenv.EnvDatabaseURL+"=") {
					env = append(env, kv)
				}
			}
			cmd.Env = append(env, "CI="+tc.ci, "TESTENV_HELPER=1")
			out, err := cmd.CombinedOutput()
			if failed := err != nil; failed != tc.wantFail {
				t.Errorf("helper failed = %v, want %v; output:\n%s", failed, tc.wantFail, out)
			}
			if !bytes.Contains(out, []byte(tc.wantOut)) {
				t.Errorf("helper output lacks %q:\n%s", tc.wantOut, out)
			}
		})
	}
}

func TestHelperRequireURL(t *testing.T) {
	if os.Getenv("TESTENV_HELPER") == "" {
		return // only TestMissingURL runs it, in a child process
	}
	testenv.PostgresURL(t)
}
