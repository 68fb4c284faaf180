package app

import (
	"context"
	"errors"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/ulule/limiter/v3"
	"github.com/ulule/limiter/v3/drivers/store/common"

	"github.com/queueless/queueless/httpapi"
)

// pairScript counts under two keys as the limiter's Redis store counts
// under one (its "incr" script: INCRBY, PEXPIRE on the first count, else
// PTTL), the second only when the first's count is within its limit. It
// returns {count1, ttl1} or {count1, ttl1, count2, ttl2}.
var pairScript = redis.NewScript(`
local function incr(key, ttl)
	local ret = redis.call("incrby", key, 1)
	if ret == 1 then
		if ttl > 0 then
			redis.call("pexpire", key, ttl)
		end
		return ret, ttl
	end
	return ret, redis.call("pttl", key)
end
local c1, t1 = incr(KEYS[1], tonumber(ARGV[1]))
if c1 > tonumber(ARGV[2]) then
	return {c1, t1}
end
local c2, t2 = incr(KEYS[2], tonumber(ARGV[3]))
return {c1, t1, c2, t2}
`)

// pairLimiterStore is the limiter's Redis store with the join throttle's
// two address rules counted in one round trip (httpapi.PairStore), in the
// same keys. Not over a cluster: the two keys of a script must share a
// slot there.
type pairLimiterStore struct {
	*redisLimiterStore
}

var _ httpapi.PairStore = pairLimiterStore{}

// GetPair implements httpapi.PairStore.
func (s pairLimiterStore) GetPair(ctx context.Context, first string, firstRate limiter.Rate, second string, secondRate limiter.Rate) (a, b limiter.Context, counted bool, err error) {
	keys := []string{s.prefix + ":" + first, s.prefix + ":" + second}
	res, err := pairScript.Run(ctx, s.client, keys,
		firstRate.Period.Milliseconds(), firstRate.Limit, secondRate.Period.Milliseconds()).Int64Slice()
	if err != nil {
		return a, b, false, err
	}
	if len(res) != 2 && len(res) != 4 {
		return a, b, false, errors.New("limiter pair script: unexpected reply")
	}
	now := time.Now()
	a = limiterContext(now, firstRate, res[0], res[1])
	if len(res) == 4 {
		b, counted = limiterContext(now, secondRate, res[2], res[3]), true
	}
	return a, b, counted, nil
}

// limiterContext is the limiter's Redis store's answer for a count and a
// time to live (milliseconds).
func limiterContext(now time.Time, rate limiter.Rate, count, ttl int64) limiter.Context {
	expiration := now.Add(rate.Period)
	if ttl > 0 {
		expiration = now.Add(time.Duration(ttl) * time.Millisecond)
	}
	return common.GetContextFromState(now, rate, expiration, count)
}
