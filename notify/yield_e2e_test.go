package notify_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/queueless/queueless/internal/app"
	"github.com/queueless/queueless/internal/testapp"
)

// stampingTwilio speaks Twilio's Messages API, answers 201 at once, and
// keeps when each text to each number arrived.
type stampingTwilio struct {
	srv *httptest.Server
	mu  sync.Mutex
	at  map[string][]time.Time
	n   atomic.Int64
}

func newStampingTwilio(t *testing.T) *stampingTwilio {
	tw := &stampingTwilio{at: map[string][]time.Time{}}
	tw.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		form, _ := url.ParseQuery(string(b))
		tw.mu.Lock()
		tw.at[form.Get("To")] = append(tw.at[form.Get("To")], time.Now())
		tw.mu.Unlock()
		n := tw.n.Add(1)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		fmt.Fprintf(w, `{"sid":"SMyield%d","status":"queued"}`, n)
	}))
	t.Cleanup(tw.srv.Close)
	return tw
}

// sentBefore counts the texts that arrived before t.
func (tw *stampingTwilio) sentBefore(t time.Time) int {
	tw.mu.Lock()
	defer tw.mu.Unlock()
	n := 0
	for _, ts := range tw.at {
		for _, at := range ts {
			if at.Before(t) {
				n++
			}
		}
	}
	return n
}

// Deliveries yield to a crowd of joins (JOBS_YIELD_MAX, JOBS_YIELD_JOINS),
// against real PostgreSQL and Redis, under -race: while joins with phones
// are in flight no verification code goes out, as long as the crowd is
// shorter than JOBS_YIELD_MAX; a crowd longer than that gets its texts all
// the same; either way every join's number gets exactly one text, and
// every sms_phone job completes.
func TestTextsYieldToTheCrowdAndEachIsSentOnce(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		yieldMax time.Duration
	}{
		{"crowd shorter than the hold", time.Minute},
		{"crowd longer than the hold", 300 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tw := newStampingTwilio(t)
			s := testapp.Start(t, testapp.Production, func(c *app.Config) {
				c.Notify.SMSGateway, c.Notify.TwilioURL = "twilio", tw.srv.URL
				c.Notify.TwilioAccountSID, c.Notify.TwilioAuthToken, c.Notify.TwilioFrom = "ACyield", "yield-token", "+15005550006"
				c.Notify.SMSVerify = "true"
				c.Jobs.YieldMax, c.Jobs.YieldJoins = tc.yieldMax, 1
			})
			inst := createOffice(t, s, "Yield Hall")
			const joiners, minJoins = 8, 120
			short := tc.yieldMax >= time.Minute
			var next atomic.Int64
			var wg sync.WaitGroup
			errs := make(chan error, joiners)
			deadline := time.Now().Add(45 * time.Second)
			for range joiners {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for {
						i := next.Add(1)
						// The short crowd stops at minJoins; the long one
						// goes on until texts arrive while it joins (or
						// the deadline, which the check below fails).
						if i > minJoins && (short || tw.n.Load() > 0 || time.Now().After(deadline)) {
							next.Add(-1)
							return
						}
						r, err := s.Try(testapp.Request{Method: "POST", Path: fmt.Sprintf("/api/v1/institutions/%d/tickets", inst),
							Body: map[string]any{"phone": fmt.Sprintf("0917%07d", i)}})
						if err == nil && r.Status != http.StatusCreated {
							err = fmt.Errorf("join %d: %d %s", i, r.Status, r.Body)
						}
						if err != nil {
							errs <- err
							return
						}
					}
				}()
			}
			wg.Wait()
			crowdEnd := time.Now()
			close(errs)
			for err := range errs {
				t.Fatal(err)
			}
			joins := int(next.Load())
			during := tw.sentBefore(crowdEnd)
			if short && during != 0 {
				t.Errorf("%d texts went out while %d joins (a crowd of %s, under JOBS_YIELD_MAX=%s) were in flight; want none before the crowd ended",
					during, joins, crowdEnd.Sub(deadline.Add(-45*time.Second)).Round(time.Millisecond), tc.yieldMax)
			}
			if !short && during == 0 {
				t.Errorf("a crowd of %d joins went on for %s with JOBS_YIELD_MAX=%s and no text went out during it; want texts held at most that long",
					joins, crowdEnd.Sub(deadline.Add(-45*time.Second)).Round(time.Millisecond), tc.yieldMax)
			}

			wait := time.Now().Add(90 * time.Second)
			for int(tw.n.Load()) < joins && time.Now().Before(wait) {
				time.Sleep(50 * time.Millisecond)
			}
			time.Sleep(300 * time.Millisecond) // a second text, if any, would come now
			tw.mu.Lock()
			numbers, texts := len(tw.at), int(tw.n.Load())
			for to, ts := range tw.at {
				if len(ts) != 1 {
					t.Errorf("%s got %d texts, want its code once", to, len(ts))
				}
			}
			tw.mu.Unlock()
			if numbers != joins || texts != joins {
				t.Fatalf("%d joins with a phone: %d numbers got %d texts; want one each", joins, numbers, texts)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			conn, err := pgx.Connect(ctx, s.Config.DatabaseURL)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close(context.Background())
			// River marks a job completed a moment after its Work returns.
			var completed, other int
			for range 100 {
				if err := conn.QueryRow(ctx, `SELECT count(*) FILTER (WHERE state = 'completed'), count(*) FILTER (WHERE state <> 'completed')
					FROM river_job WHERE kind = 'sms_phone'`).Scan(&completed, &other); err != nil {
					t.Fatal(err)
				}
				if completed == joins && other == 0 {
					break
				}
				time.Sleep(50 * time.Millisecond)
			}
			if completed != joins || other != 0 {
				t.Fatalf("sms_phone jobs: %d completed, %d not; want %d completed", completed, other, joins)
			}
		})
	}
}
