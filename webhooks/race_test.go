//go:build race

package webhooks_test

// raceEnabled: the server binary of the end-to-end tests is built with the
// race detector too.
const raceEnabled = true
