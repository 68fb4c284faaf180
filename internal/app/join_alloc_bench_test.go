package app_test

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/ulule/limiter/v3"

	"github.com/queueless/queueless/internal/app"
	"github.com/queueless/queueless/internal/testapp"
)

// BenchmarkJoinHandler is one citizen join through the whole server's
// handler (request id, metrics, security headers, the address throttles,
// admission control, the phone throttle, body checks, the batcher, the
// store, the publish to the hub) with no network in between: one join at a
// time, so every batch holds one join and allocs/op does not depend on the
// machine's load. In production mode the store is PostgreSQL and the
// throttle's counts and the live events go through Redis. The throttles
// are on, at a rate no join reaches (so every join pays for the checks).
//
// allocs/op and B/op are the figures (docs/BENCHMARKS.md, "What limits
// each figure"); instruction counts come from the same benchmark under
// valgrind --tool=callgrind.
func BenchmarkJoinHandler(b *testing.B) {
	for _, mode := range testapp.Modes {
		b.Run(string(mode), func(b *testing.B) {
			high := limiter.Rate{Limit: 1_000_000_000, Period: 60e9}
			s := testapp.Start(b, mode, func(c *app.Config) {
				c.JoinRate, c.JoinAddressRate, c.JoinPhoneRate, c.JoinMaxInFlight = high, high, high, 256
				// Less periodic work: under callgrind, which runs ~50x slower, it
				// would add instructions with the wall time, not the joins.
				c.SweepInterval = time.Minute
			})
			id := s.CreateInstitution(nil)
			path := fmt.Sprintf("/api/v1/institutions/%d/tickets", id)
			join := func(i int) {
				body := fmt.Appendf(nil, `{"phone":"09%09d"}`, i)
				r := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body))
				r.Header.Set("Content-Type", "application/json")
				r.RemoteAddr = fmt.Sprintf("10.%d.%d.%d:4000", i>>16&255, i>>8&255, i&255)
				w := httptest.NewRecorder()
				s.App.HTTP.ServeHTTP(w, r)
				if w.Code != http.StatusCreated {
					b.Fatalf("join: %d %s", w.Code, w.Body)
				}
			}
			for i := range 100 { // warm up: pools, caches, the institution's room
				join(i)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				join(100 + i)
			}
		})
	}
}
