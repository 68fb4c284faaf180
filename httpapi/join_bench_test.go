package httpapi_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/queueless/queueless/internal/testapp"
)

// BenchmarkJoinHTTP sends joins of one institution over loopback HTTP to a
// whole server, from many clients at once: in embedded mode (the HTTP and
// service cost alone) and in production mode (PostgreSQL, Redis). The
// client shares the CPUs with the server. joins/s is the figure.
func BenchmarkJoinHTTP(b *testing.B) {
	for _, mode := range testapp.Modes {
		b.Run(string(mode), func(b *testing.B) {
			s := testapp.Start(b, mode)
			id := s.CreateInstitution(nil)
			url := fmt.Sprintf("%s/api/v1/institutions/%d/tickets", s.URL, id)
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1024}, Timeout: 30 * time.Second}
			b.SetParallelism(64) // 64 clients per CPU
			b.ReportAllocs()
			b.ResetTimer()
			start := time.Now()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					resp, err := client.Post(url, "application/json", bytes.NewReader([]byte("{}")))
					if err != nil {
						b.Error(err)
						return
					}
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != http.StatusCreated {
						b.Errorf("join: %d", resp.StatusCode)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "joins/s")
		})
	}
}
