package queue

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// ExpireDue expires every serving ticket past its grace period, in every
// institution, and returns how many it expired. Several instances may run
// it at once: the institution lock makes each expiry happen exactly once.
func (s *Service) ExpireDue(ctx context.Context) (int, error) {
	ids, err := s.store.DueExpiries(ctx, s.clock())
	if err != nil {
		return 0, err
	}
	total := 0
	var errs []error
	for _, id := range ids {
		var res AdvanceResult
		_, err := s.update(ctx, id, nil, func(ctx context.Context, tx Tx) (Changes, []Transition, error) {
			res = AdvanceResult{}
			inst := tx.Institution()
			inst.ensureLines()
			c := &changeSet{s: s, now: s.clock(), meta: Meta{Actor: ActorSystem}, inst: &inst}
			if err := s.settleServing(ctx, tx, c, false, &res); err != nil {
				return Changes{}, nil, err
			}
			if c.ch.empty() {
				return Changes{}, nil, nil
			}
			s.bump(&inst, c.now)
			c.ch.Institution = &inst
			return c.ch, c.trans, nil
		})
		if err != nil {
			errs = append(errs, fmt.Errorf("expire tickets of institution %d: %w", id, err))
			continue
		}
		total += len(res.Expired)
	}
	return total, errors.Join(errs...)
}

// RunSweeper expires due tickets every interval until ctx ends.
func (s *Service) RunSweeper(ctx context.Context, interval time.Duration) {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	lastPurge := time.Time{}
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if n, err := s.ExpireDue(ctx); err != nil && ctx.Err() == nil {
			s.log.WarnContext(ctx, "sweeper: expire due tickets", "error", err)
		} else if n > 0 {
			s.log.InfoContext(ctx, "sweeper: expired tickets", "count", n)
		}
		if now := s.clock(); now.Sub(lastPurge) > time.Hour {
			if err := s.store.PurgeIdempotencyKeys(ctx, now.Add(-IdempotencyWindow)); err == nil {
				lastPurge = now
			}
		}
	}
}
