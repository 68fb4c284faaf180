//go:build !race

package testenv

// Race reports whether the test binary runs with the race detector; a
// server binary built for it by ServerBinary(t, Race) has it too.
const Race = false
