package loadtest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// The live benchmarks: fan-out latency and memory per idle connection,
// each against the minimal broadcast server.

const benchSourceCIDR = "127.0.1.0/23" // 508 source addresses: ~30 connections each at 15,000

// fanoutCase is one server set-up of the fan-out benchmark: subscribers
// on sub, calls to pub (the same server, or another instance sharing its
// Redis).
type fanoutCase struct {
	target    string
	instances int
	pub, sub  *proc
	apiKey    string
}

func (c fanoutCase) label() string { return c.target + " ×" + strconv.Itoa(c.instances) }

func (b *bench) fanout(ctx context.Context) (*BenchSection, error) {
	var procs []*proc
	defer func() {
		for _, p := range procs {
			p.stop()
		}
	}()
	start := func(p *proc, err error) (*proc, error) {
		if p != nil {
			procs = append(procs, p)
		}
		return p, err
	}
	qa, err := start(b.queueless(ctx, "queueless-fanout-a"))
	if err != nil {
		return nil, err
	}
	qb, err := start(b.queueless(ctx, "queueless-fanout-b"))
	if err != nil {
		return nil, err
	}
	msrv, err := start(b.minimal(ctx))
	if err != nil {
		return nil, err
	}
	cases := []fanoutCase{{target: TargetQueueLess, instances: 1, pub: qa, sub: qa}, {target: TargetMinimal, instances: 1, pub: msrv, sub: msrv}}
	centrifugo := b.cfg.Centrifugo != ""
	if centrifugo {
		key := randomHex(16)
		ca, err := start(b.centrifugo(ctx, "centrifugo-a", key))
		if err != nil {
			return nil, err
		}
		cb, err := start(b.centrifugo(ctx, "centrifugo-b", key))
		if err != nil {
			return nil, err
		}
		cases = append(cases, fanoutCase{target: TargetCentrifugo, instances: 1, pub: ca, sub: ca, apiKey: key})
		cases = append(cases, fanoutCase{target: TargetQueueLess, instances: 2, pub: qa, sub: qb},
			fanoutCase{target: TargetCentrifugo, instances: 2, pub: ca, sub: cb, apiKey: key})
	} else {
		cases = append(cases, fanoutCase{target: TargetQueueLess, instances: 2, pub: qa, sub: qb})
	}
	subs := b.scaled(10000)
	// Calls far enough apart that one fan-out ends before the next: this
	// measures latency, not how many fan-outs a second fit.
	const calls = 20
	interval := max(200*time.Millisecond, time.Duration(subs/1000)*100*time.Millisecond)
	ref := "Centrifugo: not built (no `-centrifugo` binary given); the minimal server is the reference."
	if centrifugo {
		ref = "Centrifugo (`" + filepath.Base(b.cfg.Centrifugo) + "`, built by hand from its public source, see below) with its Redis engine " +
			"on the same Redis (a key prefix of the run's own), default settings, anonymous clients (`client.insecure`), " +
			"subscribers speaking its JSON protocol over `/connection/websocket` (connect, subscribe to one channel); " +
			"a call is a `POST /api/publish` whose data is the minimal server's frame."
	}
	s := &BenchSection{Key: "fanout", Title: "Fan-out: one institution's subscribers while staff call",
		Setup: fmt.Sprintf("QueueLess in production mode (the call commits in PostgreSQL, the event goes through Redis pub/sub to the hub), "+
			"default settings (`WS_MAX_PER_IP=50`). %d WebSocket subscribers of one institution, connected from %s (3 worker processes), "+
			"then %d calls (`POST .../advance`, count 1) one every %s. A call's counter name carries its send time; "+
			"each subscriber measures send-to-frame time. ×1: subscribers and calls on one instance; ×2: two instances on the same "+
			"PostgreSQL and Redis, the calls to the first, the subscribers on the second. "+
			"References in the same run, alternating with QueueLess: the minimal coder/websocket broadcast server "+
			"(`loadtest/minimal`, after the library's chat example; one process, so ×1 only), same subscribers and calls "+
			"(`POST /publish` of a frame of the same shape and size); %s "+
			"The \"Live fan-out\" section (loadtest/fanout) studies this latency in more depth.", subs, benchSourceCIDR, calls, interval, ref),
		Command: fmt.Sprintf("loadgen fanout -subscribers %d -calls %d -interval %s -procs 3 -source-cidr %s [-target minimal|centrifugo] [-subscribe-url <second instance>]",
			subs, calls, interval, benchSourceCIDR),
	}
	s.Table = header("run", "server", "delivered", "p50 ms", "p90 ms", "p99 ms", "max ms", "call p50 ms", "connect p99 ms",
		"write(2) per delivery", "server CPU ms per call")
	p99 := map[string][]float64{}
	p50 := map[string][]float64{}
	type labelled struct {
		label string
		top   func() string
	}
	var tops []labelled
	for i := range b.cfg.Runs {
		for _, fc := range cases {
			opts := b.options(fc.pub.URL)
			opts.Procs, opts.SourceCIDR = 3, benchSourceCIDR
			f := &Fanout{Target: fc.target, Subscribers: subs, Calls: calls, Interval: interval, Hold: 2 * time.Second, Settle: 3 * time.Second,
				Services: b.cfg.Services, PriorityShare: b.cfg.PriorityShare, APIKey: fc.apiKey}
			if fc.sub != fc.pub {
				f.SubscribeURL = fc.sub.URL
			}
			// The subscribers' server's write(2) calls and CPU time from
			// the first call to the last delivery: the cost of a fan-out.
			var before, after procCounters
			var cerr error
			// QueueLess's server, and with two instances the subscribers'.
			profile := b.cfg.Profile && i == b.cfg.Runs-1 && fc.target == TargetQueueLess
			opts.AllReady = func(context.Context) error {
				if profile {
					// The bench's context: the profile outlives the run's.
					name := "fanout-x" + strconv.Itoa(fc.instances)
					tops = append(tops, labelled{fc.label() + ", the subscribers' instance",
						b.cpuProfile(ctx, fc.sub, name, f.Hold, time.Duration(calls)*interval)})
				}
				if b.cfg.Trace > 0 && i == b.cfg.Runs-1 && fc.target == TargetQueueLess {
					b.runtimeTrace(ctx, fc.sub, "fanout-x"+strconv.Itoa(fc.instances), f.Hold, b.cfg.Trace)
				}
				before, cerr = fc.sub.counters()
				return nil
			}
			f.Settled = func() {
				if cerr == nil {
					after, cerr = fc.sub.counters()
				}
			}
			res, err := Execute(ctx, opts, f)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", fc.label(), err)
			}
			d := res.Snapshot.Op("delivery")
			c := res.Snapshot.Op("call")
			conn := res.Snapshot.Op("connect")
			exp, _ := res.Info["deliveries_expected"].(uint64)
			p99[fc.label()] = append(p99[fc.label()], d.P99)
			p50[fc.label()] = append(p50[fc.label()], d.P50)
			writes, cpu := "?", "?"
			if made, _ := res.Info["calls_made"].(int64); cerr == nil && made > 0 && d.Timed > 0 {
				writes = f2(float64(after.writes-before.writes) / float64(d.Timed))
				cpu = f1(float64(after.cpu-before.cpu) / float64(time.Millisecond) / float64(made))
			}
			s.Table = append(s.Table, row(strconv.Itoa(i+1), fc.label(), fmt.Sprintf("%d/%d", d.Timed, exp),
				f1(d.P50), f1(d.P90), f1(d.P99), f1(d.Max), f1(c.P50), f1(conn.P99), writes, cpu))
			for _, ck := range res.Checks {
				if !ck.OK {
					s.Notes = append(s.Notes, fmt.Sprintf("run %d, %s: %s: %s", i+1, fc.label(), ck.Name, ck.Detail))
				}
			}
			b.logf("fanout run %d %s: delivery p50 %.1f p99 %.1f ms (%d deliveries)", i+1, fc.label(), d.P50, d.P99, d.Timed)
		}
	}
	for _, fc := range cases {
		s.Table = append(s.Table, row("**median**", fc.label(), "", "**"+f1(median(p50[fc.label()]))+"**", "",
			"**"+f1(median(p99[fc.label()]))+"**", "", "", "", "", ""))
	}
	goal := func(what, q, ref string) Goal {
		qv, rv := median(p99[q]), median(p99[ref])
		return Goal{What: fmt.Sprintf("fan-out p99, %d subscribers, %s", subs, what), Target: "≤ " + ref, Result: f1(qv) + " ms",
			Reference: fmt.Sprintf("%s %s ms: %s×", ref, f1(rv), f2(qv/rv)), Met: qv <= rv}
	}
	if centrifugo {
		s.Goals = append(s.Goals, goal("one instance", "queueless ×1", "centrifugo ×1"),
			goal("two instances, subscribers on the other", "queueless ×2", "centrifugo ×2"))
	}
	s.Goals = append(s.Goals, goal("one instance", "queueless ×1", "minimal ×1"))
	if !centrifugo {
		s.Notes = append(s.Notes, "Centrifugo not built: the fan-out target's reference is missing from this run (give `-centrifugo <binary>`).")
	}
	for _, t := range tops {
		if len(tops) > 1 {
			s.Profile += t.label + ":\n"
		}
		s.Profile += t.top() + "\n\n"
	}
	b.noteLines(s, "the tickets called spread over")
	return s, nil
}

func (b *bench) memory(ctx context.Context) (*BenchSection, error) {
	conns := b.scaled(15000)
	idle := b.cfg.MemoryIdle
	s := &BenchSection{Key: "memory", Title: "Memory per idle WebSocket connection",
		Setup: fmt.Sprintf("A fresh server per run. Resident memory (VmRSS of /proc/<pid>/status) once the server is up and has "+
			"answered a first request; then, with %d subscribers of one institution connected (from %s, 3 worker processes), "+
			"5 s after the last connected and again after %s idle: the hub pings every connection every 30 s (hub.Config.PingInterval), "+
			"and what those rounds leave behind is part of an idle connection's cost. Per connection: the difference "+
			"over %d. QueueLess in production mode with its defaults; reference: the minimal broadcast server (which never "+
			"pings), measured the same way in the same run. The target is judged on the idle figure.", conns, benchSourceCIDR, idle, conns),
		Command: fmt.Sprintf("loadgen fanout -subscribers %d -calls 0 -hold %s -procs 3 -source-cidr %s, reading /proc/<server pid>/status",
			conns, idle+10*time.Second, benchSourceCIDR),
	}
	s.Table = header("run", "server", "RSS before MiB", "RSS at 5 s MiB", "per connection KiB", "RSS at "+idle.String()+" MiB",
		"per connection KiB", "connected")
	per, perEarly := map[string][]float64{}, map[string][]float64{}
	var heapTop, goroutines, memStats string
	for i := range b.cfg.Runs {
		for _, target := range []string{TargetQueueLess, TargetMinimal} {
			var srv *proc
			var err error
			if target == TargetQueueLess {
				srv, err = b.queueless(ctx, "queueless-memory")
			} else {
				srv, err = b.minimal(ctx)
			}
			if err != nil {
				return nil, err
			}
			opts := b.options(srv.URL)
			opts.Procs, opts.SourceCIDR, opts.Progress = 3, benchSourceCIDR, 10*time.Second
			f := &Fanout{Target: target, Subscribers: conns, Calls: 0, Hold: time.Second, Settle: time.Second}
			if target == TargetQueueLess {
				// The first request loads what every later one shares.
				c := mustClient(srv.URL, b.token)
				id, err := createInstitution(ctx, c, "Load test: memory")
				c.Close()
				if err != nil {
					srv.stop()
					return nil, err
				}
				f.Institution = id
			}
			time.Sleep(time.Second)
			before, err := srv.rss()
			if err != nil {
				srv.stop()
				return nil, err
			}
			var early, after int64
			profile := b.cfg.Profile && i == b.cfg.Runs-1 && target == TargetQueueLess
			opts.AllReady = func(ctx context.Context) error {
				start := time.Now()
				time.Sleep(5 * time.Second)
				var err error
				if early, err = srv.rss(); err != nil {
					return err
				}
				b.logf("memory run %d %s: connected; waiting %s idle", i+1, target, idle)
				time.Sleep(idle - time.Since(start))
				if after, err = srv.rss(); err != nil {
					return err
				}
				if profile {
					heapTop, memStats, goroutines = b.memoryProfiles(ctx, srv, conns)
				}
				return nil
			}
			res, err := Execute(ctx, opts, f)
			srv.stop()
			if err != nil {
				return nil, err
			}
			connected := res.Snapshot.Op("connect").Statuses["101"]
			kib := func(v int64) float64 { return float64(v-before) / float64(max(connected, 1)) / 1024 }
			per[target] = append(per[target], kib(after))
			perEarly[target] = append(perEarly[target], kib(early))
			s.Table = append(s.Table, row(strconv.Itoa(i+1), target, f1(float64(before)/(1<<20)),
				f1(float64(early)/(1<<20)), f1(kib(early)), f1(float64(after)/(1<<20)), f1(kib(after)),
				fmt.Sprintf("%d/%d", connected, conns)))
			for _, ck := range res.Checks {
				if !ck.OK && ck.Name != "every call reached every subscriber" {
					s.Notes = append(s.Notes, fmt.Sprintf("run %d, %s: %s: %s", i+1, target, ck.Name, ck.Detail))
				}
			}
			b.logf("memory run %d %s: %.1f KiB per connection at 5 s, %.1f KiB after %s idle", i+1, target, kib(early), kib(after), idle)
		}
	}
	q, m := median(per[TargetQueueLess]), median(per[TargetMinimal])
	for _, t := range []string{TargetQueueLess, TargetMinimal} {
		s.Table = append(s.Table, row("**median**", t, "", "", "**"+f1(median(perEarly[t]))+"**", "", "**"+f1(median(per[t]))+"**", ""))
	}
	s.Goals = []Goal{{What: fmt.Sprintf("resident memory per idle WebSocket, %d connections, %s idle", conns, idle), Target: "< 16 KiB",
		Result: f1(q) + " KiB", Reference: fmt.Sprintf("minimal %s KiB: %s×", f1(m), f2(q/m)), Met: q < 16}}
	if heapTop != "" {
		s.Profile = goroutines + "\n\n" + memStats + "\nheap, inuse_space:\n" + heapTop
	}
	return s, nil
}

// memoryProfiles reads where the server's memory goes: a heap profile,
// runtime.MemStats and the number of goroutines.
func (b *bench) memoryProfiles(ctx context.Context, srv *proc, conns int) (heapTop, memStats, goroutines string) {
	path := filepath.Join(b.cfg.WorkDir, "memory.heap.pprof")
	if err := fetch(ctx, srv.PProf+"heap", path); err == nil {
		heapTop = pprofTop(ctx, b.cfg.Exe, path, "-sample_index=inuse_space")
	}
	mpath := filepath.Join(b.cfg.WorkDir, "memory.memstats.txt")
	if err := fetch(ctx, srv.PProf+"heap?debug=1", mpath); err == nil {
		memStats = memStatsSummary(mpath, conns)
	}
	gpath := filepath.Join(b.cfg.WorkDir, "memory.goroutine.txt")
	if err := fetch(ctx, srv.PProf+"goroutine?debug=1", gpath); err == nil {
		if data, err := os.ReadFile(gpath); err == nil {
			goroutines = strings.SplitN(string(data), "\n", 2)[0]
		}
	}
	return heapTop, memStats, goroutines
}

func mustClient(url, token string) *Client {
	c, err := NewClient(ClientConfig{BaseURL: url, AdminToken: token}, nil)
	if err != nil {
		panic(err) // url is the benchmark's own
	}
	return c
}

// memStatsSummary picks the runtime.MemStats lines of a heap?debug=1 dump
// that say where resident memory goes, with each per connection.
func memStatsSummary(path string, conns int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	var b strings.Builder
	b.WriteString("runtime.MemStats at the measurement (per connection in brackets):\n")
	for _, l := range strings.Split(string(data), "\n") {
		for _, k := range []string{"# Sys = ", "# HeapSys = ", "# HeapInuse = ", "# HeapIdle = ", "# HeapReleased = ", "# Stack = ", "# MSpan = ", "# GCSys = ", "# NextGC = "} {
			rest, ok := strings.CutPrefix(l, k)
			if !ok {
				continue
			}
			first := strings.Fields(rest)[0]
			v, err := strconv.ParseFloat(first, 64)
			if err != nil {
				continue
			}
			fmt.Fprintf(&b, "%-16s %8.1f MiB  (%.1f KiB)\n", strings.TrimSuffix(strings.TrimPrefix(k, "# "), " = "), v/(1<<20), v/1024/float64(conns))
		}
	}
	return b.String()
}
