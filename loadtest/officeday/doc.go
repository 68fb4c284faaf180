// Package officeday replays realistic office days in simulated time to
// measure the wait estimates: arrivals peaking at opening and after lunch,
// skewed (lognormal) visit times per service, counters opening, closing and
// serving several services, no-shows and people giving up. It records what
// each ticket was told at join and how long it really waited, for the v1.1
// estimator and for v1's, and scores both (docs/ESTIMATES.md).
//
// Unlike the rest of loadtest it drives no server: it calls queue's pure
// estimate and calendar functions directly, on a simulated clock, so a day
// takes milliseconds and every run of a seed is the same. It must not
// import anything of queue that does I/O (stores, services), nor HTTP.
package officeday
