package app

import (
	"context"
	"fmt"

	"github.com/queueless/queueless/httpapi"
	"github.com/queueless/queueless/hub"
)

// setupLive wires the live WebSocket streams: a Redis broker when REDIS_URL
// or REDIS_CLUSTER_URL is set (changes reach the clients of every instance;
// sharded pub/sub over a cluster), else an in-process
// one; the hub, fed by every committed event; the routes; and, first among
// the closers (they run in reverse), closing every stream with 1001:
// http.Server.Shutdown does not wait for hijacked connections.
func (a *App) setupLive(ctx context.Context) error {
	var broker hub.Broker
	if a.redis != nil {
		b, err := hub.NewRedisBroker(a.redis, hub.RedisBrokerConfig{
			Prefix: a.cfg.RedisPrefix, Logger: a.log, Registerer: a.Registry,
		})
		if err != nil {
			return fmt.Errorf("live: %w", err)
		}
		broker = b
	} else {
		broker = hub.NewMemoryBroker()
	}
	h, err := hub.New(hub.Config{
		Store: a.Queue.Store(), Broker: broker, Logger: a.log, Registerer: a.Registry,
		MaxPerAddr: a.cfg.WSMaxPerIP, MaxConns: a.cfg.WSMaxConns,
	})
	if err != nil {
		_ = broker.Close()
		return fmt.Errorf("live: %w", err)
	}
	a.hub = h
	a.closers = append(a.closers, h.Close)
	a.Queue.OnEvent(h.Publish)
	a.HTTP.MountLive(httpapi.LiveConfig{Hub: h, AllowedOrigins: a.cfg.AllowedOrigins, MaxPerAddr: a.cfg.WSMaxPerIP})
	return nil
}
