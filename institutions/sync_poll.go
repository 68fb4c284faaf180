package institutions

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	neturl "net/url"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/sony/gobreaker/v2"

	"github.com/queueless/queueless/queue"
)

// maxOutsideBody bounds an outside queue document.
const maxOutsideBody = 1 << 20

// Run polls the links in poll mode until ctx ends. Every instance runs it;
// a lease per link makes one instance at a time poll each link. Each tick
// it lists the links, starts a worker for each new polled link, stops those
// of links gone or changed, and refreshes the links' gauges.
func (s *Syncer) Run(ctx context.Context) {
	var wg sync.WaitGroup
	workers := map[int64]*worker{}
	known := map[string]bool{}
	tick := time.NewTicker(s.cfg.Tick)
	defer tick.Stop()
	for {
		list, err := s.links.Links(ctx)
		if err != nil && ctx.Err() == nil {
			s.log.WarnContext(ctx, "sync: list links", "error", err.Error())
		}
		if err == nil {
			known = s.metrics.report(list, s.cfg.Now(), known)
			want := map[int64]queue.Link{}
			for _, l := range list {
				if l.Mode == queue.LinkPoll {
					want[l.InstitutionID] = l
				}
			}
			for id, w := range workers {
				if l, ok := want[id]; !ok || !l.UpdatedAt.Equal(w.link.UpdatedAt) {
					w.cancel()
					delete(workers, id)
				}
			}
			for id, l := range want {
				if _, ok := workers[id]; !ok {
					w := s.newWorker(ctx, l)
					workers[id] = w
					wg.Go(w.run)
				}
			}
		}
		select {
		case <-ctx.Done():
			for _, w := range workers {
				w.cancel()
			}
			wg.Wait()
			s.cfg.Client.CloseIdleConnections()
			return
		case <-tick.C:
		}
	}
}

// worker polls one link while this instance holds its lease.
type worker struct {
	s      *Syncer
	link   queue.Link
	ctx    context.Context
	cancel context.CancelFunc
	cb     *gobreaker.CircuitBreaker[queue.OutsideQueue]
	rnd    *rand.Rand
}

func (s *Syncer) newWorker(ctx context.Context, l queue.Link) *worker {
	ctx, cancel := context.WithCancel(ctx)
	w := &worker{s: s, link: l, ctx: ctx, cancel: cancel,
		rnd: rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), uint64(l.InstitutionID)))}
	w.cb = gobreaker.NewCircuitBreaker[queue.OutsideQueue](gobreaker.Settings{
		Name:    fmt.Sprintf("link %d", l.InstitutionID),
		Timeout: s.cfg.BreakerOpen,
		ReadyToTrip: func(c gobreaker.Counts) bool {
			return c.ConsecutiveFailures >= uint32(s.cfg.BreakerFailures)
		},
		// Our own shutdown is not the outside system failing.
		IsExcluded: func(err error) bool { return errors.Is(err, context.Canceled) },
		OnStateChange: func(name string, from, to gobreaker.State) {
			s.log.Info("sync: circuit breaker", "institution_id", l.InstitutionID, "from", from.String(), "to", to.String())
		},
	})
	return w
}

// run takes the lease, polls when one is due, and renews the lease between
// polls. A poll must end before the lease does, so it runs under a
// deadline a margin before the lease's end as this instance reckons it
// (from before it asked): then no two instances poll a link at once, even
// when one of them stalls.
func (w *worker) run() {
	s, id := w.s, w.link.InstitutionID
	ttl := s.cfg.LeaseTTL
	margin := ttl / 10
	// Released on the way out whatever the last renewal said: one cut
	// short by the shutdown may still have taken it.
	defer func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(w.ctx), 2*time.Second)
		defer cancel()
		if err := s.links.ReleaseLinkLease(ctx, id, s.cfg.Owner); err != nil && !queue.IsNotFound(err) {
			s.log.Warn("sync: release lease", "institution_id", id, "error", err.Error())
		}
	}()
	failures := w.link.ConsecutiveFailures
	status := w.link.LinkStatus
	next := time.Now()
	for {
		asked := time.Now()
		ok, err := s.links.AcquireLinkLease(w.ctx, id, s.cfg.Owner, ttl)
		if err != nil && w.ctx.Err() == nil {
			s.log.Warn("sync: acquire lease", "institution_id", id, "error", err.Error())
		}
		held := ok && err == nil
		leaseEnd := asked.Add(ttl - margin)
		wait := s.cfg.Tick
		if held {
			if !time.Now().Before(next) {
				ctx, cancel := context.WithDeadline(w.ctx, leaseEnd)
				var delay time.Duration
				status, failures, delay = w.poll(ctx, status, failures)
				cancel()
				next = time.Now().Add(delay)
			}
			wait = min(time.Until(next), ttl/3)
		} else if l, err := s.links.Link(w.ctx, id); err == nil {
			// Another instance polls: follow its count, so that whoever
			// takes over backs off from where it was.
			failures, status = l.ConsecutiveFailures, l.LinkStatus
		}
		select {
		case <-w.ctx.Done():
			return
		case <-time.After(max(wait, time.Millisecond)):
		}
	}
}

// poll reads the outside queue once, through the breaker, applies it and
// records the link's status. It returns the new status, the consecutive
// failures and the wait until the next poll.
func (w *worker) poll(ctx context.Context, prev queue.LinkStatus, failures int) (queue.LinkStatus, int, time.Duration) {
	s, l := w.s, w.link
	start := time.Now()
	fctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	q, err := w.cb.Execute(func() (queue.OutsideQueue, error) { return s.fetch(fctx, l.URL) })
	cancel()
	var res queue.SyncResult
	result := "ok"
	if err == nil {
		res, err = s.q.SyncCalls(ctx, l.InstitutionID, q, queue.Meta{Actor: queue.ActorSync, RequestID: "sync-" + uuid.NewString()})
		if code, _ := queue.ErrorCode(err); err != nil && code == queue.CodeInvalid {
			result = "invalid"
		} else if err != nil {
			result = "error"
		}
	} else if errors.Is(err, gobreaker.ErrOpenState) || errors.Is(err, gobreaker.ErrTooManyRequests) {
		result = "breaker_open"
	} else {
		result = "error"
	}
	if ctx.Err() != nil && w.ctx.Err() != nil {
		return prev, failures, 0 // shutting down: nothing to record
	}
	s.metrics.polls.WithLabelValues(result).Inc()
	now := s.cfg.Now().UTC()
	st := prev
	st.LastAttemptAt = &now
	st.Breaker = breakerState(w.cb.State())
	var delay time.Duration
	if err == nil {
		s.count(res)
		failures = 0
		st.Outside, st.LastSuccessAt, st.LastError, st.ConsecutiveFailures, st.Stale = &q, &now, "", 0, false
		delay = l.PollInterval
		if prev.Stale {
			s.log.InfoContext(ctx, "sync: link recovered", "institution_id", l.InstitutionID,
				"issued", len(res.Issued), "called", len(res.Called))
		}
	} else {
		failures++
		st.LastError, st.ConsecutiveFailures = err.Error(), failures
		since := l.CreatedAt
		if st.LastSuccessAt != nil {
			since = *st.LastSuccessAt
		}
		st.Stale = st.Breaker == queue.BreakerOpen || now.Sub(since) > l.StaleAfter
		if st.Stale && !prev.Stale {
			s.log.WarnContext(ctx, "sync: link stale", "institution_id", l.InstitutionID, "error", err.Error())
		}
		delay = jitter(backoff(l.PollInterval, s.cfg.BackoffMax, failures), w.rnd.Float64())
	}
	if ok, serr := s.links.SetLinkStatus(ctx, l.InstitutionID, s.cfg.Owner, st); serr != nil {
		s.log.WarnContext(ctx, "sync: record link status", "institution_id", l.InstitutionID, "error", serr.Error())
	} else if !ok {
		s.log.WarnContext(ctx, "sync: lost the lease while polling", "institution_id", l.InstitutionID,
			"took", time.Since(start).String())
	}
	return st, failures, delay
}

func breakerState(st gobreaker.State) string {
	switch st {
	case gobreaker.StateOpen:
		return queue.BreakerOpen
	case gobreaker.StateHalfOpen:
		return queue.BreakerHalfOpen
	}
	return queue.BreakerClosed
}

// fetch reads and decodes an outside queue. Its errors name the URL
// redacted as the link's url field is, never as given: they are shown to
// staff (last_error) and logged.
func (s *Syncer) fetch(ctx context.Context, target string) (queue.OutsideQueue, error) {
	shown := redactURL(target)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return queue.OutsideQueue{}, fmt.Errorf("poll %s: the URL cannot be requested", shown)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "QueueLess-sync/1")
	req.Header.Set(InstanceHeader, s.cfg.Owner)
	resp, err := s.cfg.Client.Do(req)
	if err != nil {
		return queue.OutsideQueue{}, fmt.Errorf("poll %s: %w", shown, requestCause(err, target))
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxOutsideBody+1))
	if err != nil {
		return queue.OutsideQueue{}, fmt.Errorf("poll %s: read body: %w", shown, requestCause(err, target))
	}
	if resp.StatusCode != http.StatusOK {
		return queue.OutsideQueue{}, fmt.Errorf("poll %s: answered %d", shown, resp.StatusCode)
	}
	if len(body) > maxOutsideBody {
		return queue.OutsideQueue{}, fmt.Errorf("poll %s: body over %d bytes", shown, maxOutsideBody)
	}
	q, err := DecodeOutsideQueue(body)
	if err != nil {
		return queue.OutsideQueue{}, fmt.Errorf("poll %s: %w", shown, err)
	}
	return q, nil
}

// requestCause is what went wrong in a request to target without the URL
// that net/http's *url.Error spells out in full (user, password, query):
// its cause, and where a redirect led, redacted.
func requestCause(err error, target string) error {
	var ue *neturl.Error
	if !errors.As(err, &ue) {
		return err
	}
	if ue.URL != target {
		return fmt.Errorf("after a redirect to %s: %w", redactURL(ue.URL), ue.Err)
	}
	return ue.Err
}

// InstanceHeader names the polling instance in its requests, so that an
// outside system's logs (and tests) can tell instances apart.
const InstanceHeader = "X-QueueLess-Instance"
