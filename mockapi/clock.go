package mockapi

import (
	"sync"
	"time"
)

// Clock is the simulation's time: every schedule of the mock (arrivals,
// service times, opening hours, outage windows) is read from it, so that a
// test can run a minute of calls in seconds. Added latency is not: it is a
// property of the network, and stays in wall time.
type Clock struct {
	mu     sync.Mutex
	base   time.Time // simulated time at origin
	origin time.Time // wall time when base held
	speed  float64
	jumped time.Duration
	wall   func() time.Time
}

// NewClock returns a clock that reads base now and then runs speed times
// as fast as the wall clock; speed 0 stops it (it moves by Advance only).
func NewClock(base time.Time, speed float64) *Clock {
	return &Clock{base: base, origin: time.Now(), speed: speed, wall: time.Now}
}

// Now is the simulated time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	elapsed := time.Duration(float64(c.wall().Sub(c.origin)) * c.speed)
	return c.base.Add(elapsed + c.jumped).UTC()
}

// Advance moves the clock forward by d at once: what the simulation would
// have done in d happens on the next read.
func (c *Clock) Advance(d time.Duration) {
	if d <= 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.jumped += d
}

// Speed is how many simulated seconds pass per wall second.
func (c *Clock) Speed() float64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.speed
}
