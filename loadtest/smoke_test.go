package loadtest

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/queueless/queueless/internal/app"
	"github.com/queueless/queueless/internal/testapp"
	"github.com/queueless/queueless/loadtest/minimal"
)

// workerEnv makes the test binary a worker process (see TestMain), so that
// a test can run a scenario over several processes.
const workerEnv = "LOADTEST_TEST_WORKER"

func TestMain(m *testing.M) {
	if os.Getenv(workerEnv) == "1" {
		if err := ServeWorker(context.Background(), os.Stdin, os.Stdout); err != nil {
			os.Stderr.WriteString("worker: " + err.Error() + "\n")
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// smokeOptions are a one-second run against srv.
func smokeOptions(t *testing.T, url string) Options {
	t.Helper()
	return Options{BaseURL: url, AdminToken: testapp.AdminToken, Duration: time.Second, MaxTime: time.Minute,
		Timeout: 10 * time.Second, Verify: true, Progress: 200 * time.Millisecond, ProgressOut: io.Discard}
}

// trustLoopback lets the test server believe the driver's X-Forwarded-For.
func trustLoopback(c *app.Config) {
	_, n, _ := net.ParseCIDR("127.0.0.1/32")
	c.TrustedProxies = append(c.TrustedProxies, n)
}

func requireOK(t *testing.T, res *Result, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	res.WriteText(&b)
	t.Log(b.String())
	for _, c := range res.Checks {
		if !c.OK {
			t.Errorf("check %s failed: %s", c.Name, c.Detail)
		}
	}
}

func TestSmokeJoinClosedLoop(t *testing.T) {
	t.Parallel()
	srv := testapp.Start(t, testapp.Embedded, trustLoopback)
	opts := smokeOptions(t, srv.URL)
	opts.Addresses = 20
	res, err := Execute(context.Background(), opts, &Join{Clients: 20, PhoneShare: 0.5, Services: 3, PriorityShare: 0.2, Allowed: []int{201}})
	requireOK(t, res, err)
	if got := res.Snapshot.Op("join").Statuses["201"]; got == 0 {
		t.Error("no join got 201")
	}
}

func TestSmokeFlashCrowdInWorkerProcesses(t *testing.T) {
	t.Parallel()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	srv := testapp.Start(t, testapp.Embedded, trustLoopback, func(c *app.Config) { c.JoinMaxInFlight = 8 })
	opts := smokeOptions(t, srv.URL)
	opts.Addresses, opts.Procs = 50, 2
	opts.WorkerCommand, opts.WorkerEnv = []string{exe, "-test.run=^$"}, []string{workerEnv + "=1"}
	res, err := Execute(context.Background(), opts, &Join{Rate: 400, Total: 400, Allowed: []int{201, 429, 503}})
	requireOK(t, res, err)
	if got, want := res.Snapshot.Op("join").Count, uint64(400); got != want {
		t.Errorf("%d joins accounted for, want %d", got, want)
	}
}

func TestSmokeFanout(t *testing.T) {
	t.Parallel()
	srv := testapp.Start(t, testapp.Embedded, trustLoopback)
	opts := smokeOptions(t, srv.URL)
	opts.Addresses = 30
	res, err := Execute(context.Background(), opts, &Fanout{Subscribers: 30, Calls: 4, Interval: 100 * time.Millisecond,
		Hold: 100 * time.Millisecond, Settle: 500 * time.Millisecond})
	requireOK(t, res, err)
	d := res.Snapshot.Op("delivery")
	if got, want := d.Timed, uint64(30*4); got != want {
		t.Errorf("%d deliveries, want %d", got, want)
	}
	if d.Max <= 0 || d.Max > 10_000 {
		t.Errorf("delivery max %.2f ms: not a plausible delay", d.Max)
	}
}

func TestSmokeFanoutMinimal(t *testing.T) {
	t.Parallel()
	opts := smokeOptions(t, startMinimal(t))
	opts.SourceCIDR = "127.0.1.0/30"
	res, err := Execute(context.Background(), opts, &Fanout{Target: TargetMinimal, Subscribers: 20, Calls: 3,
		Interval: 100 * time.Millisecond, Hold: 100 * time.Millisecond, Settle: 500 * time.Millisecond})
	requireOK(t, res, err)
}

func TestSmokeMixedDay(t *testing.T) {
	t.Parallel()
	srv := testapp.Start(t, testapp.Embedded, trustLoopback)
	opts := smokeOptions(t, srv.URL)
	// A citizen's first visit (browse, look, join) takes well over the
	// other smoke tests' second when the machine is busy running the
	// rest of the suite: give the day long enough to reach a join.
	opts.Duration = 5 * time.Second
	res, err := Execute(context.Background(), opts, &Mixed{Offices: 2, Users: 20, LiveShare: 0.5, CancelShare: 0.2,
		Think: 100 * time.Millisecond, PollInterval: 100 * time.Millisecond, CallInterval: 50 * time.Millisecond,
		MaxWait: 500 * time.Millisecond})
	requireOK(t, res, err)
	for _, op := range []string{"browse", "institution", "join", "call"} {
		if res.Snapshot.Op(op).Count == 0 {
			t.Errorf("no %s in a mixed day", op)
		}
	}
}

// startMinimal serves the minimal reference server on a free loopback
// port for the test and returns its URL.
func startMinimal(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: minimal.New(), ReadHeaderTimeout: 5 * time.Second}
	go hs.Serve(ln)
	t.Cleanup(func() { hs.Close() })
	return "http://" + ln.Addr().String()
}
