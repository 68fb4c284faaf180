package hub_test

import (
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/queueless/queueless/internal/testenv"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testenv.RemoveServerBinaries()
	os.Exit(code)
}

const adminToken = "live-e2e-admin-token-0123456789"

// server is one queueless process (testenv.Server: the real binary, built
// with -race when the tests have it, on a port it bound itself).
type server struct {
	*testenv.Server
	t    *testing.T
	base string // http://127.0.0.1:port
}

// startServer runs the binary with env added to the defaults below and
// waits until it answers /healthz; it is stopped as an orchestrator would
// (SIGTERM) when the test ends.
func startServer(t *testing.T, env ...string) *server {
	t.Helper()
	s := testenv.StartServer(t, "queueless", testenv.ServerBinary(t, testenv.Race), append([]string{
		"ADMIN_TOKEN=" + adminToken,
		"JOIN_RATE=off", "JOIN_PHONE_RATE=off", "JOIN_ADDRESS_RATE=off", "WS_MAX_PER_IP=0",
		"SHUTDOWN_TIMEOUT=10s",
	}, env...)...)
	return &server{Server: s, t: t, base: s.URL()}
}

func (s *server) ws(path string) string { return "ws" + s.base[len("http"):] + path }

// call makes an API request as the admin and decodes a 2xx answer into
// out.
func (s *server) call(method, path string, body, out any) {
	s.t.Helper()
	s.Call(adminToken, method, path, body, out)
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
