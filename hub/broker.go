package hub

import "context"

// Broker carries messages between the server instances that share it. A
// message published on a channel reaches every handler subscribed to that
// channel, on every instance, in publish order per publisher. Delivery is at
// most once: a handler learns through Resync that messages may have been lost.
type Broker interface {
	// Publish sends payload to every subscriber of channel. It may deliver to
	// local subscribers before it returns.
	Publish(ctx context.Context, channel string, payload []byte) error
	// Subscribe delivers the messages of channel to h from the moment it
	// returns, until the returned function is called. It returns once the
	// subscription is active, so that state read from the source of truth
	// afterwards misses no later message; or, when the broker cannot get
	// it confirmed soon (Redis away), it returns with the subscription
	// pending and calls h.Resync once it is active.
	Subscribe(ctx context.Context, channel string, h Handler) (unsubscribe func(), err error)
	// Close stops delivery and releases the broker's resources.
	Close() error
}

// Handler receives the messages of one subscribed channel. Its methods are
// called from the broker's delivery goroutine and must not block.
type Handler interface {
	// Deliver is called with each message, in order. The handler owns
	// payload.
	Deliver(payload []byte)
	// Resync is called when messages of the channel may have been lost (the
	// broker reconnected): the handler reloads from the source of truth.
	Resync()
}
