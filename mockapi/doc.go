// Package mockapi simulates institutions' own queue systems (dispensers and
// counters calling numbers) behind a small REST API with fault injection, so
// that QueueLess's links can be developed, shown and tested against an
// imperfect third party. It knows nothing of QueueLess's packages.
package mockapi
