package web_test

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/queueless/queueless/internal/testenv"
)

// The browser tests drive the real pages in Debian's Chromium, through
// playwright-core (web/e2e), against the real server binary in production
// mode (PostgreSQL and Redis), run as a process so that a test can stop and
// start it. Go owns the servers; the node tests ask for restarts through a
// small control endpoint.

var updateScreenshots = flag.Bool("screenshots", false, "also write the README screenshots to docs/screenshots")

const browserAdminToken = "browser-test-admin-token-0123456789"

// browserTestTimeout bounds the node run: the tests take about two minutes
// (more on a loaded machine); a hung browser must not hold the whole suite
// until go test's -timeout.
const browserTestTimeout = 8 * time.Minute

func TestBrowser(t *testing.T) {
	kit := newBrowserKit(t)

	dbURL, redisURL, redisPrefix := testenv.NewSchema(t), testenv.RedisURL(t), testenv.RedisPrefix(t)
	bin := testenv.ServerBinary(t, testenv.Race)
	env := []string{
		"DATABASE_URL=" + dbURL,
		"REDIS_URL=" + redisURL,
		"REDIS_PREFIX=" + redisPrefix,
		"ADMIN_TOKEN=" + browserAdminToken,
		"SHUTDOWN_TIMEOUT=5s",
		// Every request comes from 127.0.0.1: no join throttling.
		"JOIN_RATE=off",
		"JOIN_PHONE_RATE=off",
		"JOIN_ADDRESS_RATE=off",
	}
	// Each server's first run binds 127.0.0.1:0; later runs bind that
	// port again, so that it comes back where the pages expect it.
	servers := map[string]*testenv.Server{
		"main":  testenv.NewServer(t, "main", bin, env...),
		"other": testenv.NewServer(t, "other", bin, env...),
		// Same database, a 2 s grace period: a ticket called through it
		// misses its turn quickly (office-day.test.mjs).
		"quick": testenv.NewServer(t, "quick", bin, append(append([]string{}, env...), "GRACE_PERIOD=2s")...),
	}
	servers["main"].Start()
	control := httptest.NewServer(controlHandler(servers))
	t.Cleanup(control.Close)
	t.Cleanup(func() {
		if t.Failed() {
			for name, s := range servers {
				t.Logf("server %s (%s):\n%s", name, s.State(), s.LogTail())
			}
		}
	})

	// Pictures of the pages when a test fails; kept after the run (and out
	// of git) for a look at what the browser showed.
	artifacts := filepath.Join(kit.e2e, "artifacts")
	if err := os.RemoveAll(artifacts); err != nil {
		t.Fatal(err)
	}
	runEnv := append(os.Environ(),
		"QL_BASE_URL="+servers["main"].URL(),
		"QL_CONTROL_URL="+control.URL,
		"QL_ADMIN_TOKEN="+browserAdminToken,
		"QL_CHROMIUM="+kit.chromium,
		"QL_ARTIFACTS="+artifacts,
	)
	if shots := screenshotsEnv(t); shots != nil {
		// First, on the fresh database, before the tests add their offices.
		runNode(t, kit.node, kit.e2e, append(runEnv, shots...), "screenshots.mjs")
	}

	start := time.Now()
	kit.test(t, runEnv, "pages.test.mjs", "office-day.test.mjs")
	t.Logf("browser tests took %s", time.Since(start).Round(time.Millisecond))
	if t.Failed() {
		t.Logf("screenshots of the failure, if any: %s", artifacts)
	}
}

// browserKit is what every browser test needs before it starts a server:
// Debian's Chromium, Node.js 20 or later and web/e2e's node modules.
type browserKit struct{ chromium, node, e2e string }

// newBrowserKit finds them (installing the node modules when missing), or
// ends the test as findChromium says.
func newBrowserKit(t *testing.T) browserKit {
	t.Helper()
	k := browserKit{chromium: findChromium(t)}
	k.node = requireProgram(t, "node", "install Node.js 20 or later (apt-get install nodejs npm)")
	requireNode20(t, k.node)
	e2e, err := filepath.Abs("e2e")
	if err != nil {
		t.Fatal(err)
	}
	k.e2e = e2e
	ensureNodeModules(t, k.e2e)
	return k
}

// test runs node's test runner on files (under web/e2e), one at a time.
func (k browserKit) test(t *testing.T, env []string, files ...string) {
	t.Helper()
	runNode(t, k.node, k.e2e, env, append([]string{"--test", "--test-reporter=spec", "--test-concurrency=1"}, files...)...)
}

// screenshotsEnv is QL_SCREENSHOTS naming docs/screenshots when the run
// redraws the README's screenshots (-screenshots), nothing otherwise.
func screenshotsEnv(t *testing.T) []string {
	t.Helper()
	if !*updateScreenshots {
		return nil
	}
	out, err := filepath.Abs(filepath.Join("..", "docs", "screenshots"))
	if err != nil {
		t.Fatal(err)
	}
	return []string{"QL_SCREENSHOTS=" + out}
}

// findChromium returns Debian's chromium, or ends the test: a failure in CI,
// where ./scripts/test.sh installs it, a skip elsewhere.
func findChromium(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("QL_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	missing(t, "chromium", "run ./scripts/test.sh as root (it installs it), or apt-get install chromium")
	return ""
}

func requireProgram(t *testing.T, name, hint string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		missing(t, name, hint)
	}
	return p
}

func missing(t *testing.T, what, hint string) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatalf("%s not found: in CI the browser tests must run, not skip; %s", what, hint)
	}
	t.Skipf("%s not found: %s", what, hint)
}

// requireNode20 checks the version playwright-core needs.
func requireNode20(t *testing.T, node string) {
	t.Helper()
	out, err := exec.Command(node, "--version").Output()
	if err != nil {
		t.Fatalf("node --version: %v", err)
	}
	v := strings.TrimPrefix(strings.TrimSpace(string(out)), "v")
	major, _, _ := strings.Cut(v, ".")
	if n, err := strconv.Atoi(major); err != nil || n < 20 {
		missing(t, "Node.js 20 or later", fmt.Sprintf("%s is version %s; playwright-core needs 20 or later", node, v))
	}
}

// ensureNodeModules runs npm ci when playwright-core is missing from
// node_modules, or is not the version package-lock.json names.
func ensureNodeModules(t *testing.T, dir string) {
	t.Helper()
	want, err := lockedVersion(filepath.Join(dir, "package-lock.json"), "node_modules/playwright-core")
	if err != nil {
		t.Fatal(err)
	}
	if got, err := installedVersion(filepath.Join(dir, "node_modules", "playwright-core", "package.json")); err == nil && got == want {
		return
	}
	npm := requireProgram(t, "npm", "install npm (apt-get install npm)")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, npm, "ci", "--no-audit", "--no-fund", "--loglevel=error")
	cmd.Dir = dir
	// playwright-core downloads no browser; say so anyway.
	cmd.Env = append(os.Environ(), "PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1")
	start := time.Now()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("npm ci in %s: %v\n%s", dir, err, out)
	}
	t.Logf("npm ci in %s took %s", dir, time.Since(start).Round(time.Millisecond))
}

func lockedVersion(lockPath, pkg string) (string, error) {
	b, err := os.ReadFile(lockPath)
	if err != nil {
		return "", err
	}
	var lock struct {
		Packages map[string]struct{ Version string } `json:"packages"`
	}
	if err := json.Unmarshal(b, &lock); err != nil {
		return "", fmt.Errorf("%s: %w", lockPath, err)
	}
	v := lock.Packages[pkg].Version
	if v == "" {
		return "", fmt.Errorf("%s does not lock %s", lockPath, pkg)
	}
	return v, nil
}

func installedVersion(pkgJSON string) (string, error) {
	b, err := os.ReadFile(pkgJSON)
	if err != nil {
		return "", err
	}
	var p struct{ Version string }
	err = json.Unmarshal(b, &p)
	return p.Version, err
}

// runNode runs node in dir and copies its output to the test log, line by
// line, as it comes.
func runNode(t *testing.T, node, dir string, env []string, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), browserTestTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, args...)
	cmd.Dir = dir
	cmd.Env = env
	cmd.WaitDelay = 10 * time.Second
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			t.Log(sc.Text())
		}
		_, _ = io.Copy(io.Discard, pr)
	}()
	err := cmd.Run()
	pw.Close()
	wg.Wait()
	if ctx.Err() != nil {
		t.Fatalf("node %s: no result within %s", strings.Join(args, " "), browserTestTimeout)
	}
	if err != nil {
		t.Fatalf("node %s: %v", strings.Join(args, " "), err)
	}
}

// controlHandler lets the node tests stop and start the servers:
// POST /start?server=main|other answers {"url": ...} once it is healthy;
// POST /stop?server=... once it has exited.
func controlHandler(servers map[string]*testenv.Server) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /{action}", func(w http.ResponseWriter, r *http.Request) {
		s := servers[r.URL.Query().Get("server")]
		if s == nil {
			http.Error(w, "unknown server", http.StatusNotFound)
			return
		}
		var err error
		switch r.PathValue("action") {
		case "start":
			err = s.TryStart()
		case "stop":
			s.Signal(syscall.SIGTERM, 15*time.Second)
		default:
			http.Error(w, "unknown action", http.StatusNotFound)
			return
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{"url": s.URL()})
	})
	return mux
}
