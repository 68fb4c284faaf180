package testenv

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"
)

// ServingAddr waits for a queueless server process, started with
// ADDR=127.0.0.1:0 (or a port of its own), LOG_FORMAT=json and
// LOG_LEVEL=info or lower, to log that it serves, and returns the address
// it logged: the one it bound, read back from its own log rather than
// picked in advance, so that a test never drives another test's server.
// Only the log past offset counts (the log of an earlier run is appended
// to). exited reports whether the process has ended; it is asked before
// every look, and then ServingAddr gives up.
func ServingAddr(logPath string, offset int64, exited func() bool, timeout time.Duration) (string, error) {
	deadline := time.Now().Add(timeout)
	for {
		if exited() {
			return "", fmt.Errorf("the server exited before serving")
		}
		if addr, err := servingLine(logPath, offset); err != nil {
			return "", err
		} else if addr != "" {
			return addr, nil
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("the server logged no \"serving\" line within %v", timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func servingLine(logPath string, offset int64) (string, error) {
	f, err := os.Open(logPath)
	if err != nil {
		return "", err
	}
	defer f.Close()
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		return "", err
	}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Bytes()
		if !bytes.Contains(line, []byte(`"serving"`)) {
			continue
		}
		var rec struct{ Msg, Addr string }
		if json.Unmarshal(line, &rec) == nil && rec.Msg == "serving" && rec.Addr != "" {
			return rec.Addr, nil
		}
	}
	return "", sc.Err()
}
