package loadtest

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// The open-loop join sweep (issue 16): joins arrive at fixed rates, the way
// a flash crowd arrives, each at its time whether or not the last was
// answered; the figure is the highest rate at which p99 stays under 50 ms,
// for QueueLess and for the minimal net/http join server measured in the
// same run.

// sweepRates are the rates tried, lowest first, before scaling.
var sweepRates = []float64{500, 1000, 2000, 3000, 4000, 6000, 8000, 10000, 15000, 20000}

// sweepStep is how long each rate is held.
const sweepStep = 5 * time.Second

// sweepP99 is the latency rule of the sweep.
const sweepP99 = 50.0 // ms

func (b *bench) sweep(ctx context.Context) (*BenchSection, error) {
	srv, err := b.queueless(ctx, "queueless-sweep", "JOIN_RATE=off", "JOIN_PHONE_RATE=off", "JOIN_ADDRESS_RATE=off", "JOIN_MAX_IN_FLIGHT=100000")
	if err != nil {
		return nil, err
	}
	defer srv.stop()
	msrv, err := b.minimal(ctx)
	if err != nil {
		return nil, err
	}
	defer msrv.stop()
	addrs := b.scaled(5000)
	s := &BenchSection{Key: "sweep", Title: "Open-loop joins: the highest rate with p99 under 50 ms",
		Setup: fmt.Sprintf("QueueLess in production mode with the throttles off and `JOIN_MAX_IN_FLIGHT=100000` (so that no join is answered early "+
			"with 429 or 503), against the minimal server (`loadgen minimal`). Joins arrive at a fixed rate (open loop) from %d addresses, "+
			"each rate for %s, lowest first (after a 1 s warm-up at the lowest), on a new institution per rate (before each of QueueLess's sweeps the benchmark waits until no autovacuum worker is busy in its database and checkpoints, "+
			"so that a run does not pay for the rows the previous one left); a server's sweep stops at the first rate where its p99 reaches %.0f ms "+
			"or a join fails. The figure is the highest rate with p99 under %.0f ms and every join answered 201.", addrs, sweepStep, sweepP99, sweepP99),
		Command: fmt.Sprintf("loadgen join -rate R -total 5R -addresses %d, for each rate R", addrs),
	}
	s.Table = header("run", "server", "rate joins/s", "201", "other", "p50 ms", "p90 ms", "p99 ms", "max ms")
	var best, minBest []float64
	for i := range b.cfg.Runs {
		// The last run profiles QueueLess at every rate (kept in the
		// workdir as sweep-<rate>.cpu.pprof); the report shows the
		// profile of the first rate over the rule, the knee.
		var prof *proc
		if b.cfg.Profile && i == b.cfg.Runs-1 {
			prof = srv
		}
		waited, err := b.scratch.settle(ctx)
		if err != nil {
			return nil, err
		}
		b.logf("sweep run %d: autovacuum idle and checkpoint done after %s", i+1, waited.Round(time.Millisecond))
		q, err := b.sweepOne(ctx, srv.URL, prof, 0, addrs, i+1, TargetQueueLess, s)
		if err != nil {
			return nil, err
		}
		m, err := b.sweepOne(ctx, msrv.URL, nil, 1, addrs, i+1, TargetMinimal, s)
		if err != nil {
			return nil, fmt.Errorf("minimal server: %w", err)
		}
		best, minBest = append(best, q), append(minBest, m)
		b.logf("sweep run %d: QueueLess %.0f joins/s, minimal %.0f joins/s under p99 %.0f ms", i+1, q, m, sweepP99)
	}
	q, m := median(best), median(minBest)
	ratio := 0.0
	if m > 0 {
		ratio = q / m
	}
	s.Goals = []Goal{{What: "open-loop joins, highest rate with p99 < 50 ms", Target: "≥ 0.6× the minimal server's",
		Result: f0(q) + " joins/s", Reference: fmt.Sprintf("minimal server %s joins/s: %s×", f0(m), f2(ratio)), Met: m > 0 && ratio >= 0.6}}
	return s, nil
}

// sweepOne sweeps one server and returns the highest rate that kept p99
// under the rule (0 if none did). With prof set, each rate's middle 3 s are
// profiled and the top of the first failing rate goes into s.Profile.
func (b *bench) sweepOne(ctx context.Context, url string, prof *proc, inst int64, addrs, run int, name string, s *BenchSection) (float64, error) {
	// A warm-up at the lowest rate, not recorded: connections, pools, the
	// server's first institution.
	warm := b.options(url)
	warm.Addresses = addrs
	first := float64(b.scaled(int(sweepRates[0])))
	if _, err := Execute(ctx, warm, &Join{Institution: inst, Rate: first, Total: int(first)}); err != nil {
		return 0, err
	}
	best := 0.0
	for _, r := range sweepRates {
		rate := float64(b.scaled(int(r)))
		opts := b.options(url)
		opts.Addresses = addrs
		total := int(rate * sweepStep.Seconds())
		var top func() string
		if prof != nil {
			top = b.cpuProfile(ctx, prof, fmt.Sprintf("sweep-%.0f", rate), time.Second, 3*time.Second)
		}
		res, err := Execute(ctx, opts, &Join{Institution: inst, Rate: rate, Total: total})
		if err != nil {
			return 0, err
		}
		profile := ""
		if top != nil {
			profile = fmt.Sprintf("at %.0f joins/s:\n%s", rate, top())
		}
		op := res.Snapshot.Op("join")
		other := op.Count - op.Statuses["201"]
		s.Table = append(s.Table, row(strconv.Itoa(run), name, f0(rate), strconv.FormatUint(op.Statuses["201"], 10),
			strconv.FormatUint(other, 10), f1(op.P50), f1(op.P90), f1(op.P99), f1(op.Max)))
		b.logf("sweep %s %.0f joins/s: p99 %.1f ms, %s", name, rate, op.P99, FormatStatuses(op.Statuses))
		if op.P99 >= sweepP99 || other > 0 || op.Count < uint64(total) {
			if profile != "" {
				s.Profile = profile
			}
			if other > 0 {
				s.Notes = append(s.Notes, fmt.Sprintf("run %d, %s at %.0f joins/s: %s", run, name, rate, strings.TrimSpace(FormatStatuses(op.Statuses))))
			}
			break
		}
		best = rate
	}
	return best, nil
}
