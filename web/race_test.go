//go:build race

package web_test

// raceEnabled: the server under test is built with the race detector too.
const raceEnabled = true
