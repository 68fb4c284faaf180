package hub

import (
	"context"
	"errors"
	"slices"
	"sync"
)

// MemoryBroker is an in-process Broker: embedded mode, and tests of several
// hubs in one process. Publish delivers synchronously to every subscribed
// handler.
type MemoryBroker struct {
	mu       sync.RWMutex
	closed   bool
	channels map[string][]*memorySub
}

type memorySub struct{ h Handler }

var _ Broker = (*MemoryBroker)(nil)

// NewMemoryBroker returns an empty in-process broker.
func NewMemoryBroker() *MemoryBroker {
	return &MemoryBroker{channels: map[string][]*memorySub{}}
}

// ErrBrokerClosed is returned by a closed broker.
var ErrBrokerClosed = errors.New("broker closed")

// Publish implements Broker. Each handler gets its own copy of payload.
func (b *MemoryBroker) Publish(ctx context.Context, channel string, payload []byte) error {
	b.mu.RLock()
	defer b.mu.RUnlock()
	if b.closed {
		return ErrBrokerClosed
	}
	for _, s := range b.channels[channel] {
		s.h.Deliver(slices.Clone(payload))
	}
	return nil
}

// Subscribe implements Broker.
func (b *MemoryBroker) Subscribe(ctx context.Context, channel string, h Handler) (func(), error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil, ErrBrokerClosed
	}
	s := &memorySub{h: h}
	b.channels[channel] = append(b.channels[channel], s)
	var once sync.Once
	return func() {
		once.Do(func() {
			b.mu.Lock()
			defer b.mu.Unlock()
			list := slices.DeleteFunc(b.channels[channel], func(x *memorySub) bool { return x == s })
			if len(list) == 0 {
				delete(b.channels, channel)
			} else {
				b.channels[channel] = list
			}
		})
	}, nil
}

// Close implements Broker.
func (b *MemoryBroker) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.closed = true
	clear(b.channels)
	return nil
}
