package loadtest

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"
)

// A worker process makes one shard of the load. The lead talks to it over
// its standard input and output, one JSON message or word a line:
//
//	lead -> worker: workerInit, then "go", then "stop" (or EOF: the lead died)
//	worker -> lead: {"type":"ready"} or {"type":"error"}, {"type":"progress"}
//	                every 250ms, and last {"type":"result"} with the full record
//
// A worker's standard error is the lead's, for crashes.

type workerInit struct {
	Scenario string          `json:"scenario"`
	Params   json.RawMessage `json:"params"`
	Opts     Options         `json:"opts"`
	Shard    Shard           `json:"shard"`
}

type workerMsg struct {
	Type     string    `json:"type"` // ready, error, progress, result
	Error    string    `json:"error,omitempty"`
	Snapshot *Snapshot `json:"snapshot,omitempty"`
}

// workerProgressEvery is how often a worker reports its record.
const workerProgressEvery = 250 * time.Millisecond

// ServeWorker is the body of a worker process (cmd/loadgen worker): it
// reads its shard from in, runs it and reports to out.
func ServeWorker(ctx context.Context, in io.Reader, out io.Writer) error {
	lines := bufio.NewScanner(in)
	lines.Buffer(make([]byte, 64<<10), 16<<20)
	if !lines.Scan() {
		return errors.New("worker: no set-up on standard input")
	}
	var init workerInit
	if err := json.Unmarshal(lines.Bytes(), &init); err != nil {
		return fmt.Errorf("worker: set-up: %w", err)
	}
	mk, ok := scenarios[init.Scenario]
	if !ok {
		return fmt.Errorf("worker: unknown scenario %q", init.Scenario)
	}
	sc := mk()
	if err := json.Unmarshal(init.Params, sc); err != nil {
		return fmt.Errorf("worker: scenario parameters: %w", err)
	}
	init.Opts.defaults()
	r, err := newRun(init.Opts)
	if err != nil {
		return err
	}
	defer r.Client.Close()

	var mu sync.Mutex
	enc := json.NewEncoder(out)
	send := func(m workerMsg) {
		mu.Lock()
		defer mu.Unlock()
		_ = enc.Encode(m)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	goC := make(chan struct{})
	go func() { // commands; EOF or "stop" ends the shard
		defer cancel()
		started := false
		for lines.Scan() {
			switch strings.TrimSpace(lines.Text()) {
			case "go":
				if !started {
					started = true
					close(goC)
				}
			case "stop":
				return
			}
		}
	}()
	stopProgress := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(workerProgressEvery)
		defer t.Stop()
		for {
			select {
			case <-stopProgress:
				return
			case <-t.C:
				send(workerMsg{Type: "progress", Snapshot: r.Rec.Snapshot(false)})
			}
		}
	}()
	defer func() { close(stopProgress); wg.Wait() }()

	if err := sc.prepare(ctx, r, init.Shard); err != nil {
		send(workerMsg{Type: "error", Error: err.Error()})
		return err
	}
	send(workerMsg{Type: "ready"})
	select {
	case <-goC:
	case <-ctx.Done():
		return nil
	}
	r.Rec.Restart()
	loadErr := sc.load(ctx, r, init.Shard)
	if loadErr != nil && ctx.Err() == nil {
		send(workerMsg{Type: "error", Error: loadErr.Error()})
		return loadErr
	}
	send(workerMsg{Type: "result", Snapshot: r.Rec.Snapshot(true)})
	return nil
}

// workerShard is a shard in a worker process.
type workerShard struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser

	readyC chan error
	doneC  chan struct{}
	mu     sync.Mutex
	latest *Snapshot
	final  *Snapshot
	err    error
	once   sync.Once
	inMu   sync.Mutex
}

func startWorker(ctx context.Context, opts Options, sc Scenario, sh Shard) (*workerShard, error) {
	argv := opts.WorkerCommand
	if len(argv) == 0 {
		exe, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("start worker: %w", err)
		}
		argv = []string{exe, "worker"}
	}
	params, err := json.Marshal(sc)
	if err != nil {
		return nil, err
	}
	init, err := json.Marshal(workerInit{Scenario: sc.Name(), Params: params, Opts: opts, Shard: sh})
	if err != nil {
		return nil, err
	}
	// Not CommandContext: the lead stops a worker by closing its input and
	// waits for its result; a kill is the last resort (stop).
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), opts.WorkerEnv...)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start worker %d: %w", sh.Index, err)
	}
	w := &workerShard{cmd: cmd, stdin: stdin, readyC: make(chan error, 1), doneC: make(chan struct{})}
	if _, err := stdin.Write(append(init, '\n')); err != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return nil, fmt.Errorf("start worker %d: %w", sh.Index, err)
	}
	go w.read(stdout, sh)
	go func() { // a run that ends early must not leave workers behind
		select {
		case <-ctx.Done():
			w.stop()
		case <-w.doneC:
		}
	}()
	return w, nil
}

func (w *workerShard) read(stdout io.Reader, sh Shard) {
	defer close(w.doneC)
	readySent := false
	setReady := func(err error) {
		if !readySent {
			readySent = true
			w.readyC <- err
		}
	}
	lines := bufio.NewScanner(stdout)
	lines.Buffer(make([]byte, 64<<10), 64<<20)
	for lines.Scan() {
		var m workerMsg
		if err := json.Unmarshal(lines.Bytes(), &m); err != nil {
			continue // not ours
		}
		switch m.Type {
		case "ready":
			setReady(nil)
		case "error":
			w.mu.Lock()
			w.err = fmt.Errorf("worker %d: %s", sh.Index, m.Error)
			w.mu.Unlock()
			setReady(w.err)
		case "progress":
			w.mu.Lock()
			w.latest = m.Snapshot
			w.mu.Unlock()
		case "result":
			w.mu.Lock()
			w.final = m.Snapshot
			w.mu.Unlock()
		}
	}
	err := w.cmd.Wait()
	w.mu.Lock()
	if w.final == nil && w.err == nil {
		w.err = fmt.Errorf("worker %d ended without a result: %v", sh.Index, err)
	}
	w.mu.Unlock()
	setReady(w.err)
}

func (w *workerShard) send(line string) {
	w.inMu.Lock()
	defer w.inMu.Unlock()
	_, _ = io.WriteString(w.stdin, line+"\n")
}

func (w *workerShard) ready() <-chan error   { return w.readyC }
func (w *workerShard) start()                { w.send("go") }
func (w *workerShard) done() <-chan struct{} { return w.doneC }

// stop asks the worker to end its load and report; one that has not
// reported within a minute is killed.
func (w *workerShard) stop() {
	w.once.Do(func() {
		w.send("stop")
		w.inMu.Lock()
		_ = w.stdin.Close()
		w.inMu.Unlock()
		go func() {
			select {
			case <-w.doneC:
			case <-time.After(time.Minute):
				_ = w.cmd.Process.Kill()
			}
		}()
	})
}

func (w *workerShard) progress() *Snapshot {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.final != nil {
		return w.final
	}
	return w.latest
}

func (w *workerShard) result() (*Snapshot, error) {
	<-w.doneC
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.final, w.err
}
