package loadtest

import (
	"bytes"
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/coder/websocket"
)

// DialLive opens a live stream at path (an absolute ws(s):// URL is taken
// as is) and records the handshake under op: "101", the refusal's HTTP
// status, or the error kind.
func (c *Client) DialLive(ctx context.Context, op, path, addr string) (*websocket.Conn, error) {
	u := path
	if !strings.HasPrefix(path, "ws://") && !strings.HasPrefix(path, "wss://") {
		u = "ws" + strings.TrimPrefix(c.URL(path), "http")
	}
	h := http.Header{}
	if addr != "" {
		h.Set("X-Forwarded-For", addr)
	}
	parent := ctx
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	start := time.Now()
	ws, resp, err := websocket.Dial(ctx, u, &websocket.DialOptions{HTTPClient: c.ws, HTTPHeader: h})
	d := time.Since(start)
	if err != nil {
		if parent.Err() == nil {
			status := ErrorKind(err)
			if resp != nil && resp.StatusCode != http.StatusSwitchingProtocols {
				status = strconv.Itoa(resp.StatusCode)
			}
			c.record(op, status, d)
		}
		return nil, err
	}
	c.record(op, "101", d)
	// Frames are small; a state frame of an institution is under 1 KiB.
	ws.SetReadLimit(64 << 10)
	return ws, nil
}

// tagPrefix starts every counter name the fan-out scenario calls with:
// the rest is the call's send time, in base 36 Unix nanoseconds, so that a
// subscriber in any process on the machine computes the delivery latency
// from the frame alone.
const tagPrefix = "L"

// newTag returns the counter name of a call sent at t (14 characters:
// counters may have 16).
func newTag(t time.Time) string { return tagPrefix + strconv.FormatInt(t.UnixNano(), 36) }

// parseTag returns the send time of a tag.
func parseTag(tag string) (time.Time, bool) {
	if !strings.HasPrefix(tag, tagPrefix) {
		return time.Time{}, false
	}
	ns, err := strconv.ParseInt(tag[len(tagPrefix):], 36, 64)
	if err != nil {
		return time.Time{}, false
	}
	return time.Unix(0, ns), true
}

var (
	typeKey    = []byte(`"type":"`)
	counterKey = []byte(`"counter":"` + tagPrefix)
)

// frameType returns the type of a live frame, "" when it has none.
func frameType(data []byte) string {
	i := bytes.Index(data, typeKey)
	if i < 0 {
		return ""
	}
	rest := data[i+len(typeKey):]
	j := bytes.IndexByte(rest, '"')
	if j < 0 {
		return ""
	}
	return string(rest[:j])
}

// frameTag returns the first fan-out tag in a frame: in an institution
// frame, the counter of the newest call (recent_calls is newest first).
// It scans rather than decodes: at 10,000 subscribers the driver shares the
// machine's CPUs with the server it measures.
func frameTag(data []byte) string {
	i := bytes.Index(data, counterKey)
	if i < 0 {
		return ""
	}
	rest := data[i+len(counterKey)-len(tagPrefix):]
	j := bytes.IndexByte(rest, '"')
	if j < 0 || j > 16 {
		return ""
	}
	return string(rest[:j])
}
