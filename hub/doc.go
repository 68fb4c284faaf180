// Package hub serves the live WebSocket streams: it keeps, per institution
// with local subscribers, the last state and the waiting numbers, turns queue
// events into frames encoded once, and fans them out through bounded
// per-connection buffers. Brokers (memory, Redis) carry events between
// instances. It knows queue's types and the Store, never Echo or SQL.
package hub
