package testenv

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// StartPostgresServer initialises and starts a private PostgreSQL on a free
// port of 127.0.0.1 (trust auth, user postgres) and returns a connection
// string to its postgres database once it accepts connections.
// stop ends it as in a crash (SIGQUIT, immediate shutdown) and waits for it
// to exit; start runs it again on the same port and data, through crash
// recovery, and waits until it accepts connections. Both do nothing when the
// server is already in that state, and must be called from the test's
// goroutine. The server is stopped and its data removed when the test ends.
//
// Fault tests use this rather than the shared TEST_DATABASE_URL server, which
// they must never stop. The binaries come from PG_BIN, else the newest
// /usr/lib/postgresql/*/bin. As root, the server runs as the postgres user.
func StartPostgresServer(t testing.TB) (connString string, stop func(), start func()) {
	t.Helper()
	bin := pgBin(t)

	var runAs *user.User
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			requireTool(t, "user postgres", "PostgreSQL refuses to run as root; install postgresql, which creates that user")
		}
		runAs = u
	}
	attr, err := procAttr(runAs)
	if err != nil {
		t.Fatalf("start postgres: %v", err)
	}

	// Not t.TempDir: its parents are private to the test's user, which the
	// server, as postgres, could not traverse.
	dir, err := os.MkdirTemp("", "testenv-pg-")
	if err != nil {
		t.Fatalf("start postgres: %v", err)
	}
	t.Cleanup(func() {
		if err := os.RemoveAll(dir); err != nil {
			t.Errorf("remove postgres data: %v", err)
		}
	})
	data := filepath.Join(dir, "data")
	logPath := filepath.Join(dir, "postgres.log")
	if runAs != nil {
		if err := os.Chown(dir, int(attr.Credential.Uid), int(attr.Credential.Gid)); err != nil {
			t.Fatalf("start postgres: %v", err)
		}
	}

	initdb := exec.Command(filepath.Join(bin, "initdb"),
		"--pgdata", data, "--username", "postgres", "--auth", "trust",
		"--encoding", "UTF8", "--locale", "C", "--no-sync")
	initdb.SysProcAttr = attr
	if out, err := initdb.CombinedOutput(); err != nil {
		t.Fatalf("start postgres: initdb: %v\n%s", err, out)
	}

	port := FreePort(t)
	connString = fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", port)
	p := &process{
		t:    t,
		name: "postgres",
		argv: []string{
			filepath.Join(bin, "postgres"),
			"-D", data,
			"-p", strconv.Itoa(port),
			"-c", "listen_addresses=127.0.0.1",
			"-c", "unix_socket_directories=", // TCP only: no socket path length limit, nothing in /var/run
			// A stopped server loses nothing committed: fsync only matters
			// when the machine, not the process, crashes.
			"-c", "fsync=off",
			"-c", "full_page_writes=off",
			"-c", "max_connections=50",
			"-c", "shared_buffers=16MB",
		},
		logPath: logPath,
		attr:    attr,
		stopSig: syscall.SIGQUIT,
		ready:   func(ctx context.Context) error { return pingPostgres(ctx, connString) },
		owns:    func(ctx context.Context, _ int) error { return postgresServes(ctx, connString, data) },
	}
	p.start()
	t.Cleanup(p.stop) // runs before the RemoveAll registered above
	return connString, p.stop, p.start
}

// pgBin returns the directory holding initdb and postgres.
func pgBin(t testing.TB) string {
	t.Helper()
	hint := "install postgresql or set " + EnvPGBin + "; ./scripts/test.sh does both"
	if dir := os.Getenv(EnvPGBin); dir != "" {
		if !isFile(filepath.Join(dir, "initdb")) || !isFile(filepath.Join(dir, "postgres")) {
			t.Fatalf("%s=%s holds no initdb and postgres", EnvPGBin, dir)
		}
		return dir
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	// Newest major version first; numeric, so that 10 sorts after 9.
	sort.Slice(dirs, func(i, j int) bool {
		return pgMajor(dirs[i]) > pgMajor(dirs[j])
	})
	for _, dir := range dirs {
		if isFile(filepath.Join(dir, "initdb")) && isFile(filepath.Join(dir, "postgres")) {
			return dir
		}
	}
	requireTool(t, "PostgreSQL server binaries", hint)
	return ""
}

func pgMajor(binDir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return n
}

func isFile(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular()
}

// pingPostgres connects once. While the server starts or recovers it refuses
// with "the database system is starting up".
func pingPostgres(ctx context.Context, connString string) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, connString)
	if err != nil {
		return err
	}
	return conn.Close(ctx)
}

// postgresServes checks that the PostgreSQL answering at connString serves
// the data directory data: ours, not another test's server on that port.
func postgresServes(ctx context.Context, connString, data string) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, connString)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	var dir string
	if err := conn.QueryRow(ctx, "SHOW data_directory").Scan(&dir); err != nil {
		return err
	}
	if dir != data {
		return fmt.Errorf("the PostgreSQL answering at %s serves %s, not ours (%s)", connString, dir, data)
	}
	return nil
}
