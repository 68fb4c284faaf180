package loadtest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
)

// Fanout is the live fan-out scenario: Subscribers follow one
// institution's live stream while staff make Calls, one every Interval.
// Each call's counter name is its send time (see newTag), so every
// subscriber measures the delay from the call leaving the driver to the
// frame that shows it arriving: the "delivery" operation.
//
// Target "minimal" runs the same against loadtest/minimal, the reference
// broadcast server: a call is then a POST /publish of a frame of the same
// shape and size. Target "centrifugo" runs it against a Centrifugo node
// (centrifugo.go): a call publishes that frame through its HTTP API.
//
// SubscribeURL puts the subscribers on another instance than the one the
// calls go to (the run's base URL): the event then reaches them through
// the instances' broker (Redis).
type Fanout struct {
	Target      string        `json:"target"` // queueless (default), minimal or centrifugo
	Institution int64         `json:"institution"`
	Subscribers int           `json:"subscribers"`
	Calls       int           `json:"calls"`
	Interval    time.Duration `json:"interval"`
	// Hold keeps the connections idle this long before the first call.
	Hold time.Duration `json:"hold"`
	// Settle waits this long after the last call for its deliveries.
	Settle time.Duration `json:"settle"`
	// ConnectConcurrency bounds the handshakes in flight per process.
	ConnectConcurrency int `json:"connect_concurrency"`
	// Services gives a created institution that many services (A, B, ...)
	// and spreads the tickets joined to be called over them; 0 or 1: v1's
	// one line. PriorityShare of those tickets are in the priority lane.
	Services      int     `json:"services"`
	PriorityShare float64 `json:"priority_share"`

	// SubscribeURL is the base URL (http://host:port) of the instance the
	// subscribers connect to; empty: the run's base URL.
	SubscribeURL string `json:"subscribe_url"`
	// APIKey is the Centrifugo node's HTTP API key.
	APIKey string `json:"api_key,omitempty"`

	// Settled, when set, runs in the lead once the last call's deliveries
	// had their time, before the subscribers leave (the benchmark reads
	// the server's counters there).
	Settled func() `json:"-"`

	LivePath string `json:"live_path"` // set by setup

	mu    sync.Mutex
	conns []*websocket.Conn // this process's subscribers
	wg    sync.WaitGroup    // their readers
	calls atomic.Int64      // calls that changed something (lead)
}

// Targets of the fan-out scenario.
const (
	TargetQueueLess = "queueless"
	TargetMinimal   = "minimal"
	// TargetCentrifugo: see centrifugo.go.
)

// Name implements Scenario.
func (f *Fanout) Name() string { return "fanout" }

func (f *Fanout) needs() time.Duration {
	f.defaults()
	return f.Hold + time.Duration(f.Calls)*f.Interval + f.Settle + 10*time.Second
}

func (f *Fanout) defaults() {
	if f.Target == "" {
		f.Target = TargetQueueLess
	}
	if f.Subscribers <= 0 {
		f.Subscribers = 100
	}
	if f.Interval <= 0 {
		f.Interval = 500 * time.Millisecond
	}
	if f.Settle <= 0 {
		f.Settle = 2 * time.Second
	}
	if f.ConnectConcurrency <= 0 {
		f.ConnectConcurrency = 128
	}
}

func (f *Fanout) setup(ctx context.Context, r *Run) error {
	f.defaults()
	switch f.Target {
	case TargetMinimal:
		f.LivePath = "/live"
		return nil
	case TargetCentrifugo:
		f.LivePath = "/connection/websocket"
		if f.Calls > 0 && f.APIKey == "" {
			return errors.New("calls to centrifugo need its HTTP API key")
		}
		return nil
	case TargetQueueLess:
	default:
		return fmt.Errorf("unknown target %q (queueless, minimal, centrifugo)", f.Target)
	}
	if f.Calls > 0 && r.Client.admin == "" {
		return errors.New("calls need the admin token (-admin-token or ADMIN_TOKEN)")
	}
	if f.Institution == 0 {
		id, err := createInstitution(ctx, r.Client, "Load test: fan-out "+time.Now().UTC().Format(time.RFC3339))
		if err != nil {
			return err
		}
		f.Institution = id
		if f.Services > 1 {
			if err := putServices(ctx, r.Client, id, f.Services); err != nil {
				return err
			}
		}
	}
	f.LivePath = instPath(f.Institution) + "/live"
	inst, err := getInstitution(ctx, r.Client, f.Institution)
	if err != nil {
		return err
	}
	// Every call must call someone, or it changes nothing and sends nothing.
	if need := int64(f.Calls) - inst.Waiting; need > 0 {
		body := func(i int) []byte { return lineJoinBody(i, f.Services, f.PriorityShare) }
		if err := prejoinBodies(ctx, r.Client, f.Institution, int(need), 1<<21, body); err != nil {
			return fmt.Errorf("join %d tickets to call: %w", need, err)
		}
	}
	return nil
}

// prepare connects this shard's subscribers; each is ready once its first
// frame (the snapshot) is in.
func (f *Fanout) prepare(ctx context.Context, r *Run, sh Shard) error {
	n := sh.Part(f.Subscribers)
	sem := make(chan struct{}, f.ConnectConcurrency)
	var wg sync.WaitGroup
	var ok atomic.Int64
	for i := range n {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			wg.Wait()
			return ctx.Err()
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if f.subscribe(ctx, r, sh.Global(i)) {
				ok.Add(1)
			}
		}()
	}
	wg.Wait()
	if n > 0 && ok.Load() == 0 {
		return fmt.Errorf("none of %d subscribers could connect to %s", n, f.LivePath)
	}
	return nil
}

// subscribe connects one subscriber and starts its reader.
func (f *Fanout) subscribe(ctx context.Context, r *Run, g int) bool {
	addr := ""
	if r.Opts.Addresses > 0 {
		addr = ClientAddr(g % r.Opts.Addresses)
	}
	path := f.LivePath
	if f.SubscribeURL != "" {
		path = "ws" + strings.TrimPrefix(f.SubscribeURL, "http") + path
	}
	ws, err := r.Client.DialLive(ctx, "connect", path, addr)
	if err != nil {
		return false
	}
	rctx, cancel := context.WithTimeout(ctx, r.Opts.Timeout)
	var first []byte
	if f.Target == TargetCentrifugo {
		err = centrifugoJoin(rctx, ws)
	} else {
		_, first, err = ws.Read(rctx)
	}
	cancel()
	if err != nil {
		r.Rec.Count("disconnect", closeStatus(err))
		_ = ws.CloseNow()
		return false
	}
	f.mu.Lock()
	f.conns = append(f.conns, ws)
	f.mu.Unlock()
	r.Rec.Gauge("subscribers", 1)
	f.wg.Add(1)
	go f.read(ctx, r, ws, frameTag(first))
	return true
}

// read receives frames until the connection or the run ends.
func (f *Fanout) read(ctx context.Context, r *Run, ws *websocket.Conn, lastTag string) {
	defer f.wg.Done()
	for {
		// No deadline on the read's context: the library would register
		// and drop a callback on the run's context for every message
		// (context.AfterFunc), under a lock the process's thousands of
		// readers share, CPU taken from the server measured. load closes
		// the connections when the run ends.
		_, data, err := ws.Read(context.Background())
		if err != nil {
			if ctx.Err() == nil {
				r.Rec.Count("disconnect", closeStatus(err))
				r.Rec.Gauge("subscribers", -1)
			}
			return
		}
		now := time.Now()
		if f.Target != TargetCentrifugo {
			lastTag = observeFrame(r, data, lastTag, now)
			continue
		}
		// One JSON reply a line; a server ping wants a pong.
		for line := range bytes.SplitSeq(data, []byte{'\n'}) {
			if bytes.Equal(line, centrifugoPing) {
				_ = ws.Write(ctx, websocket.MessageText, centrifugoPing)
				continue
			}
			lastTag = observeFrame(r, line, lastTag, now)
		}
	}
}

// observeFrame records a frame that arrived at now: the delivery of the
// call its tag names, the first time a subscriber sees that tag; else a
// frame of its type. It returns the newest tag seen.
func observeFrame(r *Run, data []byte, lastTag string, now time.Time) string {
	typ := frameType(data)
	if tag := frameTag(data); tag != "" && tag != lastTag {
		if sent, ok := parseTag(tag); ok {
			r.Rec.Observe("delivery", typ, now.Sub(sent))
			return tag
		}
	}
	r.Rec.Count("frame", typ)
	return lastTag
}

// closeStatus names how a stream ended: the close code, or the error kind.
func closeStatus(err error) string {
	if code := websocket.CloseStatus(err); code != -1 {
		return "close:" + strconv.Itoa(int(code))
	}
	return ErrorKind(err)
}

// load holds the connections until the lead is done.
func (f *Fanout) load(ctx context.Context, r *Run, sh Shard) error {
	<-ctx.Done()
	f.mu.Lock()
	conns := f.conns
	f.conns = nil
	f.mu.Unlock()
	for _, ws := range conns {
		_ = ws.CloseNow()
	}
	f.wg.Wait()
	return nil
}

func (f *Fanout) leadEnds() bool { return true }

func (f *Fanout) lead(ctx context.Context, r *Run) error {
	sleep := func(d time.Duration) error {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(d):
			return nil
		}
	}
	if err := sleep(f.Hold); err != nil {
		return err
	}
	tick := time.NewTicker(f.Interval)
	defer tick.Stop()
	for i := range f.Calls {
		if i > 0 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-tick.C:
			}
		}
		if err := f.call(ctx, r, i); err != nil {
			return err
		}
	}
	if err := sleep(f.Settle); err != nil {
		return err
	}
	if f.Settled != nil {
		f.Settled()
	}
	return nil
}

// call makes one call, tagged with its send time.
func (f *Fanout) call(ctx context.Context, r *Run, i int) error {
	tag := newTag(time.Now())
	if f.Target == TargetCentrifugo {
		ok, err := centrifugoPublish(ctx, r.Client, f.APIKey, minimalFrame(i, tag))
		if ok {
			f.calls.Add(1)
		}
		return err
	}
	req := Req{Op: "call", Method: http.MethodPost, Admin: true}
	if f.Target == TargetMinimal {
		req.Path, req.Body = "/publish", minimalFrame(i, tag)
	} else {
		req.Path, req.Body = instPath(f.Institution)+"/advance", map[string]any{"count": 1, "counter": tag}
	}
	resp, err := r.Client.Do(ctx, req)
	if err != nil {
		return nil // recorded; the run goes on
	}
	if resp.Status/100 != 2 {
		return nil
	}
	if f.Target == TargetQueueLess {
		var res struct {
			Called []json.RawMessage `json:"called"`
		}
		if resp.Decode(&res) != nil || len(res.Called) == 0 {
			return nil // nobody to call: nothing was sent
		}
	}
	f.calls.Add(1)
	return nil
}

// minimalFrame is an update frame like QueueLess's for an institution, of
// the same size, for the minimal server to broadcast.
func minimalFrame(i int, tag string) []byte {
	now := time.Now().UTC()
	type call struct {
		Number   int       `json:"number"`
		Counter  string    `json:"counter"`
		CalledAt time.Time `json:"called_at"`
	}
	calls := []call{{i + 1, tag, now}}
	for k := 1; k < 5 && i-k >= 0; k++ {
		calls = append(calls, call{i + 1 - k, "3", now.Add(-time.Duration(k) * time.Second)})
	}
	est := 420
	b, _ := json.Marshal(map[string]any{"type": "update", "institution": map[string]any{
		"id": 1, "name": "Load test: fan-out " + now.Format(time.RFC3339), "kind": "other", "address": "load test",
		"status": "open", "now_serving": i + 1, "last_issued": 100000, "waiting_count": 100000 - i - 1,
		"capacity": nil, "recent_calls": calls, "estimated_wait_seconds": est, "version": 100 + i,
		"updated_at": now,
	}})
	// The type goes first, as in QueueLess's frames (json sorts map keys:
	// "institution" < "type"), so that frameType finds it at once.
	return append([]byte(`{"type":"update",`), b[1:]...)
}

func (f *Fanout) finish(ctx context.Context, r *Run, res *Result) error {
	if f.Target == TargetQueueLess {
		res.info("institution", f.Institution)
	}
	connects := res.Snapshot.Op("connect")
	deliveries := res.Snapshot.Op("delivery")
	disconnects := res.Snapshot.Op("disconnect")
	connected := connects.Statuses["101"]
	calls := f.calls.Load()
	expected := uint64(calls) * connected
	res.info("calls_made", calls)
	res.info("deliveries_expected", expected)
	res.check("connected", connected == uint64(f.Subscribers), "%d of %d subscribers connected (%s)",
		connected, f.Subscribers, FormatStatuses(connects.Statuses))
	res.check("no disconnects", disconnects.Count == 0, "%d subscribers lost during the run %s",
		disconnects.Count, FormatStatuses(disconnects.Statuses))
	if calls > 0 {
		res.check("every call reached every subscriber", deliveries.Timed == expected,
			"%d of %d deliveries (%.2f%%); a subscriber that falls behind may skip to the newest state",
			deliveries.Timed, expected, 100*float64(deliveries.Timed)/float64(max(expected, 1)))
	}
	return nil
}
