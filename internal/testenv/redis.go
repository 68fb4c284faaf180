package testenv

import (
	"context"
	"testing"

	"github.com/redis/go-redis/v9"
)

// RedisPrefix returns a key prefix test:<hex>: of the test's own on the
// TEST_REDIS_URL server, and deletes every key under it when the test ends.
// Code under test must put the prefix in front of every key and channel it
// uses; channels need no cleanup.
func RedisPrefix(t testing.TB) string {
	t.Helper()
	opts, err := redis.ParseURL(RedisURL(t))
	if err != nil {
		t.Fatalf("parse %s: %v", EnvRedisURL, err)
	}
	prefix := "test:" + randomHex(t, 8) + ":"
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
		defer cancel()
		if err := deleteKeys(ctx, opts, prefix); err != nil {
			t.Errorf("delete redis keys %s*: %v", prefix, err)
		}
	})
	return prefix
}

// deleteKeys deletes every key that starts with prefix, which must hold no
// glob characters. SCAN rather than KEYS, so that a large shared server is
// never blocked.
func deleteKeys(ctx context.Context, opts *redis.Options, prefix string) error {
	client := redis.NewClient(opts)
	defer client.Close()
	var cursor uint64
	for {
		keys, next, err := client.Scan(ctx, cursor, prefix+"*", 1000).Result()
		if err != nil {
			return err
		}
		if len(keys) > 0 {
			if err := client.Del(ctx, keys...).Err(); err != nil {
				return err
			}
		}
		if next == 0 {
			return nil
		}
		cursor = next
	}
}
