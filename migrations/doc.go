// Package migrations holds the numbered SQL files that build QueueLess's
// PostgreSQL schema, embedded in the binary, and applies them with goose.
// It knows SQL and goose only: no domain types, no HTTP.
package migrations
