package chaos

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/queueless/queueless/internal/testenv"
)

const adminToken = "chaos-admin-token-0123456789abcdef"

func TestMain(m *testing.M) {
	code := m.Run()
	testenv.RemoveServerBinaries()
	os.Exit(code)
}

// instance is one server process, which the suite kills, stops and
// starts again on the same port. Its binary is built without the race
// detector: the suite looks at the system from outside, and three raced
// servers would not fit a two-core machine beside the crowd.
type instance = testenv.Server

// portOf is the port an instance serves on.
func portOf(t *testing.T, in *instance) int {
	u, err := url.Parse(in.URL())
	if err != nil {
		t.Fatal(err)
	}
	p, err := strconv.Atoi(u.Port())
	if err != nil {
		t.Fatalf("%s: %v", in.Name, err)
	}
	return p
}

func tailBytes(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}

// upstreamLine matches the upstream servers of deploy/nginx.conf.
var upstreamLine = regexp.MustCompile(`(?m)^(\s*)server queueless\d+:8080( [^;]*)?;\n`)

// nginxConfig is deploy/nginx.conf for processes on this machine: the
// same upstream parameters, proxy settings and timeouts, with the
// instances' loopback ports, a loopback listener, and its files under dir.
func nginxConfig(t *testing.T, dir string, listen int, ports []int) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "deploy", "nginx.conf"))
	if err != nil {
		t.Fatal(err)
	}
	conf := string(b)
	m := upstreamLine.FindAllStringSubmatch(conf, -1)
	if len(m) != 3 {
		t.Fatalf("deploy/nginx.conf has %d upstream servers queueless<N>:8080, want 3", len(m))
	}
	var servers strings.Builder
	for i, p := range ports {
		fmt.Fprintf(&servers, "%sserver 127.0.0.1:%d%s;\n", m[i][1], p, m[i][2])
	}
	first := true
	conf = upstreamLine.ReplaceAllStringFunc(conf, func(string) string {
		if first {
			first = false
			return servers.String()
		}
		return ""
	})
	if !strings.Contains(conf, "listen 80;") {
		t.Fatal("deploy/nginx.conf does not listen on 80")
	}
	conf = strings.Replace(conf, "listen 80;", fmt.Sprintf("listen 127.0.0.1:%d;", listen), 1)
	paths := fmt.Sprintf(`    client_body_temp_path %[1]s/body;
    proxy_temp_path %[1]s/proxy;
    fastcgi_temp_path %[1]s/fastcgi;
    uwsgi_temp_path %[1]s/uwsgi;
    scgi_temp_path %[1]s/scgi;
`, dir)
	conf = strings.Replace(conf, "http {\n", "http {\n"+paths, 1)
	head := fmt.Sprintf("daemon off;\npid %[1]s/nginx.pid;\nerror_log %[1]s/error.log warn;\n", dir)
	if os.Geteuid() == 0 {
		head += "user root;\n"
	}
	return head + conf
}

// nginxBin finds Debian's nginx, or ends the test as a missing service
// does: before anything is started.
func nginxBin(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("nginx")
	if err != nil {
		if _, serr := os.Stat("/usr/sbin/nginx"); serr == nil {
			bin = "/usr/sbin/nginx"
		} else if os.Getenv("CI") != "" {
			t.Fatal("nginx not found: in CI the chaos suite must run; ./scripts/test.sh installs it (apt-get install nginx)")
		} else {
			t.Skip("nginx not found: apt-get install nginx, or run ./scripts/test.sh as root")
		}
	}
	return bin
}

// startNginx runs nginx (bin) with deploy/nginx.conf and waits until it
// answers.
func startNginx(t *testing.T, bin string, ports []int) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "chaos-nginx-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() || os.Getenv("CHAOS_NGINX_LOG") != "" {
			b, _ := os.ReadFile(filepath.Join(dir, "error.log"))
			t.Logf("nginx error log (tail):\n%s", tailBytes(b, 6000))
			if p := os.Getenv("CHAOS_NGINX_LOG"); strings.HasPrefix(p, "/") {
				_ = os.WriteFile(p, b, 0o644)
			}
		}
		_ = os.RemoveAll(dir)
	})
	listen := testenv.FreePort(t)
	confPath := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(confPath, []byte(nginxConfig(t, dir, listen, ports)), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-p", dir, "-c", confPath, "-e", filepath.Join(dir, "error.log"))
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	out, err := os.Create(filepath.Join(dir, "stdout.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start nginx: %v", err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		// QUIT: graceful; the workers are its children, in its group.
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGQUIT)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
	})
	base := fmt.Sprintf("http://127.0.0.1:%d", listen)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for {
		resp, err := http.Get(base + "/lb-healthz")
		if err == nil {
			resp.Body.Close()
			return base
		}
		select {
		case <-done:
			b, _ := os.ReadFile(filepath.Join(dir, "error.log"))
			o, _ := os.ReadFile(filepath.Join(dir, "stdout.log"))
			t.Fatalf("nginx exited: %s\n%s", b, o)
		case <-ctx.Done():
			t.Fatalf("nginx did not answer: %v", err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}
