package testenv

import (
	"fmt"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// fatalTB is a testing.TB whose Fatal ends only the goroutine that calls it
// and records the message, so that a test can watch a helper fail.
type fatalTB struct {
	testing.TB
	mu    sync.Mutex
	fatal string
}

func (f *fatalTB) Helper() {}

func (f *fatalTB) Fatalf(format string, args ...any) {
	f.mu.Lock()
	f.fatal = fmt.Sprintf(format, args...)
	f.mu.Unlock()
	runtime.Goexit()
}

func (f *fatalTB) Errorf(format string, args ...any) { f.TB.Logf("(ignored) "+format, args...) }

// TestStartRefusesAnotherServersAnswer: a private server whose port turns
// out to be taken must not be taken for started because the server already
// there answers. Here the port is another private redis-server's: ours
// cannot bind it and exits, while the other answers every PING.
func TestStartRefusesAnotherServersAnswer(t *testing.T) {
	t.Parallel()
	otherAddr, _, _ := StartRedisServer(t)
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Skip("no redis-server")
	}
	_, portText, _ := strings.Cut(otherAddr, ":")
	port, _ := strconv.Atoi(portText)
	attr, err := procAttr(nil)
	if err != nil {
		t.Fatal(err)
	}
	ftb := &fatalTB{TB: t}
	p := redisProcess(ftb, bin, port, t.TempDir(), attr)
	t.Cleanup(func() {
		p.mu.Lock()
		if p.cmd != nil {
			_ = p.cmd.Process.Kill()
		}
		p.mu.Unlock()
	})
	returned := make(chan bool, 1)
	go func() {
		ok := false
		defer func() { returned <- ok }()
		p.start()
		ok = true // start returned: it believed the server was ours
	}()
	select {
	case ok := <-returned:
		if ok {
			t.Fatalf("start returned as if the redis-server on %s were ours; the answer came from another process", otherAddr)
		}
	case <-time.After(2 * startTimeout):
		t.Fatal("start neither returned nor failed")
	}
	ftb.mu.Lock()
	defer ftb.mu.Unlock()
	if !strings.Contains(ftb.fatal, "exited before answering") {
		t.Errorf("start failed with %q, want it to say our server exited before answering", ftb.fatal)
	}
}
