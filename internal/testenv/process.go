package testenv

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Bounds on a private server's start and stop, generous for a loaded
// two-core CI machine.
const (
	startTimeout = 30 * time.Second
	stopTimeout  = 10 * time.Second
)

// process is a private server that a fault test stops and starts again with
// the same arguments, and so on the same port and data directory.
type process struct {
	t       testing.TB
	name    string   // for messages: "redis-server", "postgres"
	argv    []string // program and arguments
	logPath string   // stdout and stderr of every run, appended
	attr    *syscall.SysProcAttr
	stopSig os.Signal                       // how stop ends it: a crash, not a clean shutdown
	ready   func(ctx context.Context) error // nil once the server answers
	// owns reports whether the server that answers is the process with
	// this pid: the port was free when it was picked, not necessarily when
	// the server bound it, and another test's server may be the one that
	// answers there.
	owns func(ctx context.Context, pid int) error

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{} // closed when the running cmd has been waited for
}

// start runs the server unless it is running, and waits until it answers.
// Like t.Fatal, it must be called from the test's goroutine.
func (p *process) start() {
	p.t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd != nil {
		return
	}
	logf, err := os.OpenFile(p.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		p.t.Fatalf("start %s: %v", p.name, err)
	}
	defer logf.Close() // the child has its own copy of the descriptor

	cmd := exec.Command(p.argv[0], p.argv[1:]...)
	// An *os.File is handed to the child as is: no copying goroutine.
	cmd.Stdout = logf
	cmd.Stderr = logf
	cmd.SysProcAttr = p.attr
	if err := cmd.Start(); err != nil {
		p.t.Fatalf("start %s: %v", p.name, err)
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(done)
	}()
	p.cmd, p.done = cmd, done

	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	for {
		// Our process first: an answer on the port means nothing once it
		// has exited (say, because the port was taken).
		select {
		case <-done:
			p.cmd, p.done = nil, nil
			p.t.Fatalf("start %s: it exited before answering (is the port taken?)\n%s", p.name, p.logTail())
		default:
		}
		err := p.ready(ctx)
		if err == nil && p.owns != nil {
			err = p.owns(ctx, cmd.Process.Pid)
		}
		if err == nil {
			return
		}
		select {
		case <-done:
			p.cmd, p.done = nil, nil
			p.t.Fatalf("start %s: it exited before answering (is the port taken?): %v\n%s", p.name, err, p.logTail())
		case <-ctx.Done():
			p.stopLocked()
			p.t.Fatalf("start %s: no answer after %v: %v\n%s", p.name, startTimeout, err, p.logTail())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// stop ends the server, if running, and waits until it has exited.
func (p *process) stop() {
	p.t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stopLocked()
}

func (p *process) stopLocked() {
	p.t.Helper()
	if p.cmd == nil {
		return
	}
	cmd, done := p.cmd, p.done
	p.cmd, p.done = nil, nil
	_ = cmd.Process.Signal(p.stopSig)
	select {
	case <-done:
		return
	case <-time.After(stopTimeout):
	}
	_ = cmd.Process.Kill()
	<-done
	p.t.Errorf("stop %s: still running %v after %v; killed it", p.name, stopTimeout, p.stopSig)
}

// logTail returns the end of the server's log, for failure messages.
func (p *process) logTail() string {
	b, err := os.ReadFile(p.logPath)
	if err != nil {
		return fmt.Sprintf("(no log: %v)", err)
	}
	const tailBytes = 4000
	if len(b) > tailBytes {
		b = b[len(b)-tailBytes:]
	}
	return fmt.Sprintf("--- %s log (%s) ---\n%s", p.name, p.logPath, b)
}
