package httpapi

import (
	"context"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/ulule/limiter/v3"
)

// PairStore is a limiter store that counts a join under two rules in one
// round trip: the first key always, the second only when the first's limit
// is not reached, exactly as two Get calls in that order would. The join
// throttle uses it, when its store has it, for the two address rules of a
// join to an institution known to exist: one Redis round trip per join
// instead of two (docs/BENCHMARKS.md, "What limits each figure").
type PairStore interface {
	GetPair(ctx context.Context, first string, firstRate limiter.Rate, second string, secondRate limiter.Rate) (a, b limiter.Context, counted bool, err error)
}

// checkAddressPair counts a join under the address rules (across
// institutions, then for this one) in one call to the store, for an
// institution known to exist. ok is false when it could not (no pair
// store, a rule off, the institution not known yet, the store degraded or
// failing before it answered): the caller then checks the rules one by
// one, as before. When handled, err is the refusal, if any.
func (t *JoinThrottle) checkAddressPair(c echo.Context, id int64, addr string) (handled bool, err error) {
	ps, isPair := t.cfg.Store.(PairStore)
	if !isPair || t.any == nil || t.address == nil || t.degraded.Load() {
		return false, nil
	}
	if t.cfg.Exists != nil {
		if _, known := t.known.Load(id); !known {
			return false, nil
		}
	}
	ctx := c.Request().Context()
	now := time.Now()
	sctx, cancel := context.WithTimeout(ctx, t.cfg.StoreTimeout)
	a, b, counted, err := ps.GetPair(sctx, "join:any:"+addr, t.any.rate, addressRuleKey(id, addr), t.address.rate)
	cancel()
	if err != nil {
		if ctx.Err() == nil {
			t.storeFailed(time.Now(), err)
		}
		return false, nil
	}
	va := storeVerdict(a, now)
	if va.reached {
		return true, t.refuse(c, t.any, va, "Too many joins from your network")
	}
	t.show(c, va)
	vb := storeVerdict(b, now)
	if !counted { // the store did not count the second rule: count it alone
		vb = t.check(ctx, t.address, addressRuleKey(id, addr))
	}
	if vb.reached {
		return true, t.refuse(c, t.address, vb, "Too many joins from your network for this institution")
	}
	t.show(c, vb)
	return true, nil
}

// addressRuleKey is the store key of the per-institution address rule.
func addressRuleKey(id int64, addr string) string {
	return "join:addr:" + strconv.FormatInt(id, 10) + ":" + addr
}
