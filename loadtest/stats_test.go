package loadtest

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestRecorderSummaries(t *testing.T) {
	t.Parallel()
	r := NewRecorder(true)
	for i := 1; i <= 100; i++ {
		r.Observe("join", "201", time.Duration(i)*time.Millisecond)
	}
	r.Observe("join", "503", 500*time.Microsecond)
	r.Observe("join", "error:timeout", 10*time.Second)
	r.Count("join", "dropped")
	r.Observe("delivery", "update", 7*time.Millisecond)
	r.Gauge("subscribers", 3)
	r.Gauge("subscribers", -1)
	r.Issue("a", 1)

	s := r.Snapshot(true)
	s.Elapsed = 2 * time.Second
	join := s.Op("join")
	if got, want := join.Count, uint64(103); got != want {
		t.Errorf("join count = %d, want %d (every outcome, dropped included)", got, want)
	}
	if got, want := join.Timed, uint64(102); got != want {
		t.Errorf("join timed = %d, want %d (dropped has no latency)", got, want)
	}
	if got, want := join.OKPerSecond, 50.0; got != want {
		t.Errorf("join ok/s = %v, want %v (100 201s in 2s)", got, want)
	}
	if got, want := join.Max, 10000.0; got != want {
		t.Errorf("join max = %v ms, want %v", got, want)
	}
	// The 2xx latencies alone: 1..100 ms.
	if got := join.OKP50; got < 49.5 || got > 50.5 {
		t.Errorf("join ok p50 = %v ms, want 50 (within bucket precision)", got)
	}
	if got, want := join.Statuses["201"], uint64(100); got != want {
		t.Errorf("201s = %d, want %d", got, want)
	}
	if got, want := s.Op("delivery").OKPerSecond, 0.5; got != want {
		t.Errorf("delivery ok/s = %v, want %v: a frame type counts as a success", got, want)
	}
	if got, want := s.Gauges["subscribers"], int64(2); got != want {
		t.Errorf("gauge = %d, want %d", got, want)
	}
	if got := s.Op("absent"); got.Count != 0 {
		t.Errorf("an operation that never ran has count %d", got.Count)
	}

	// Snapshots merge as if one recorder had seen everything.
	other := NewRecorder(true)
	other.Observe("join", "201", time.Second)
	other.Gauge("subscribers", 5)
	other.Issue("b", 2)
	o := other.Snapshot(true)
	o.Elapsed = 3 * time.Second
	data, err := json.Marshal(o) // as a worker sends it
	if err != nil {
		t.Fatal(err)
	}
	var wire Snapshot
	if err := json.Unmarshal(data, &wire); err != nil {
		t.Fatal(err)
	}
	s.Merge(&wire)
	if got, want := s.Op("join").Statuses["201"], uint64(101); got != want {
		t.Errorf("merged 201s = %d, want %d", got, want)
	}
	if got, want := s.Elapsed, 3*time.Second; got != want {
		t.Errorf("merged elapsed = %v, want the longer %v", got, want)
	}
	if got, want := s.Gauges["subscribers"], int64(7); got != want {
		t.Errorf("merged gauge = %d, want %d", got, want)
	}
	if got, want := len(s.Issued), 2; got != want {
		t.Errorf("merged issued = %d, want %d", got, want)
	}
	if got, want := s.Op("join").Max, 10000.0; got != want {
		t.Errorf("merged max = %v, want %v", got, want)
	}

	var b bytes.Buffer
	WriteTable(&b, s.Summaries())
	for _, want := range []string{"join", "201:101", "delivery", "update:1"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, b.String())
		}
	}
}

func TestSuccess(t *testing.T) {
	t.Parallel()
	for status, want := range map[string]bool{
		"200": true, "201": true, "101": true, "update": true,
		"429": false, "503": false, "302": false, "error:timeout": false, "error:reset": false,
		"dropped": false, "close:1008": false,
	} {
		if got := Success(status); got != want {
			t.Errorf("Success(%q) = %v, want %v", status, got, want)
		}
	}
}

func TestShardsSplitTheWork(t *testing.T) {
	t.Parallel()
	for _, n := range []int{0, 1, 7, 100, 10001} {
		for _, count := range []int{1, 3, 4} {
			total := 0
			seen := map[int]bool{}
			for i := range count {
				sh := Shard{Index: i, Count: count}
				p := sh.Part(n)
				total += p
				for k := range p {
					g := sh.Global(k)
					if seen[g] {
						t.Fatalf("n=%d over %d shards: global index %d given twice", n, count, g)
					}
					seen[g] = true
				}
			}
			if total != n {
				t.Errorf("n=%d over %d shards: parts add up to %d", n, count, total)
			}
			for g := range n {
				if !seen[g] {
					t.Fatalf("n=%d over %d shards: global index %d given to nobody", n, count, g)
				}
			}
		}
	}
}

func TestAddresses(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for i := range 5000 {
		a := ClientAddr(i)
		if !strings.HasPrefix(a, "100.") || seen[a] {
			t.Fatalf("ClientAddr(%d) = %q: want a new address in 100.64.0.0/10", i, a)
		}
		seen[a] = true
	}
	addrs, err := SourceAddrs("127.0.1.0/23")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(addrs), 508; got != want {
		t.Errorf("127.0.1.0/23 gives %d source addresses, want %d (.0 and .255 left out)", got, want)
	}
	for _, bad := range []string{"10.0.0.0/24", "127.0.0.1", "::1/128"} {
		if _, err := SourceAddrs(bad); err == nil {
			t.Errorf("SourceAddrs(%q) accepted", bad)
		}
	}
	if _, err := newSourceDialer("127.0.1.0/24", "example.com"); err == nil {
		t.Error("source addresses were accepted for a target that is not loopback")
	}
}

func TestFrameParsing(t *testing.T) {
	t.Parallel()
	sent := time.Unix(1767225600, 123456789)
	tag := newTag(sent)
	if len(tag) > 16 {
		t.Fatalf("tag %q is longer than a counter may be (16)", tag)
	}
	back, ok := parseTag(tag)
	if !ok || !back.Equal(sent) {
		t.Fatalf("parseTag(%q) = %v, %v; want %v", tag, back, ok, sent)
	}
	frame := []byte(`{"type":"update","institution":{"id":1,"recent_calls":[{"number":9,"counter":"` + tag +
		`","called_at":"x"},{"number":8,"counter":"Lzzz","called_at":"y"}],"version":3}}`)
	if got, want := frameType(frame), "update"; got != want {
		t.Errorf("frameType = %q, want %q", got, want)
	}
	if got := frameTag(frame); got != tag {
		t.Errorf("frameTag = %q, want the newest call's %q", got, tag)
	}
	if got := frameTag([]byte(`{"type":"update","institution":{"recent_calls":[{"counter":"3"}]}}`)); got != "" {
		t.Errorf("frameTag of a frame without a tag = %q", got)
	}
	m := minimalFrame(4, tag)
	if got := frameType(m); got != "update" {
		t.Errorf("minimal frame type = %q", got)
	}
	if got := frameTag(m); got != tag {
		t.Errorf("minimal frame tag = %q, want %q", got, tag)
	}
	if !json.Valid(m) || len(m) < 500 {
		t.Errorf("minimal frame is not a realistic JSON frame (%d bytes): %s", len(m), m)
	}
	if got, want := ticketStatus([]byte(`{"type":"update","ticket":{"id":"x","status":"serving"}}`)), "serving"; got != want {
		t.Errorf("ticketStatus = %q, want %q", got, want)
	}
	if got := ticketStatus([]byte(`{"type":"announcement","message":"hi"}`)); got != "" {
		t.Errorf("ticketStatus of an announcement = %q", got)
	}
}
