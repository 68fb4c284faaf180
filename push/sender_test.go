package push_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/queueless/queueless/push"
)

func newSender(t *testing.T) *push.Sender {
	t.Helper()
	keys, err := push.GenerateKeys()
	if err != nil {
		t.Fatal(err)
	}
	return &push.Sender{Keys: keys, Subject: "mailto:ops@queueless.example", Policy: push.Policy{AllowLoopback: true}}
}

var aMessage = push.Message{Event: "turn_called", Title: "Your turn", Body: "Counter 2", URL: "https://queue.example/"}

// What each answer of a push service means, through a real POST.
func TestSenderClassifiesAnswers(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC)
	cases := []struct {
		status     int
		retryAfter string
		outcome    push.Outcome
		after      time.Duration
	}{
		{201, "", push.Sent, 0},
		{202, "", push.Sent, 0},
		{200, "", push.Sent, 0},
		{404, "", push.Gone, 0},
		{410, "", push.Gone, 0},
		{429, "30", push.Retry, 30 * time.Second},
		{429, "", push.Retry, 0},
		{500, "", push.Retry, 0},
		{502, "", push.Retry, 0},
		{503, now.Add(2 * time.Minute).Format(http.TimeFormat), push.Retry, 2 * time.Minute},
		{504, "oops", push.Retry, 0},
		{408, "", push.Retry, 0},
		{400, "", push.Permanent, 0},
		{401, "", push.Permanent, 0},
		{403, "", push.Permanent, 0},
		{413, "", push.Permanent, 0},
		{301, "", push.Permanent, 0}, // not followed
	}
	for _, c := range cases {
		t.Run(http.StatusText(c.status), func(t *testing.T) {
			t.Parallel()
			ps := newPushService(t)
			ps.status = c.status
			if c.retryAfter != "" {
				ps.header.Set("Retry-After", c.retryAfter)
			}
			if c.status == 301 {
				ps.header.Set("Location", ps.srv.URL+"/elsewhere")
			}
			s := newSender(t)
			s.Now = func() time.Time { return now }
			sub, err := s.Policy.ParseSubscription(newBrowser(t).subscriptionJSON(ps.srv.URL + "/push/1"))
			if err != nil {
				t.Fatal(err)
			}
			err = s.Send(context.Background(), sub, aMessage, push.Options{})
			if got := push.OutcomeOf(err); got != c.outcome {
				t.Fatalf("status %d: outcome %s (%v), want %s", c.status, got, err, c.outcome)
			}
			if n := len(ps.received()); n != 1 {
				t.Errorf("push service got %d requests, want 1", n)
			}
			if c.outcome == push.Sent {
				return
			}
			var se *push.SendError
			if !errors.As(err, &se) {
				t.Fatalf("error %T, want *push.SendError", err)
			}
			if se.StatusCode != c.status || se.RetryAfter != c.after {
				t.Errorf("StatusCode %d, RetryAfter %s; want %d, %s", se.StatusCode, se.RetryAfter, c.status, c.after)
			}
			if c.status >= 400 && !strings.Contains(se.Detail, "status") {
				t.Errorf("Detail %q lacks the push service's answer", se.Detail)
			}
			if !strings.Contains(err.Error(), http.StatusText(c.status)) && !strings.Contains(err.Error(), "status") {
				t.Errorf("Error() = %q says nothing of the status", err)
			}
		})
	}
}

func TestClassify(t *testing.T) {
	t.Parallel()
	now := time.Now()
	for status, want := range map[int]push.Outcome{
		100: push.Permanent, 200: push.Sent, 201: push.Sent, 204: push.Sent, 299: push.Sent,
		302: push.Permanent, 400: push.Permanent, 404: push.Gone, 405: push.Permanent,
		408: push.Retry, 410: push.Gone, 413: push.Permanent, 429: push.Retry,
		500: push.Retry, 599: push.Retry, 600: push.Permanent,
	} {
		if got, _ := push.Classify(status, http.Header{}, now); got != want {
			t.Errorf("Classify(%d) = %s, want %s", status, got, want)
		}
	}
	h := http.Header{"Retry-After": {"120"}}
	if _, d := push.Classify(404, h, now); d != 0 {
		t.Errorf("Retry-After on a 404 gave %s, want 0: it is not retried", d)
	}
}

func TestRetryAfter(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC)
	for v, want := range map[string]time.Duration{
		"":                        0,
		"0":                       0,
		"-5":                      0,
		"1":                       time.Second,
		" 90 ":                    90 * time.Second,
		"abc":                     0,
		"1.5":                     0,
		"999999999":               push.MaxRetryAfter,
		"99999999999999999999999": 0, // not a number Go reads: no hint
		now.Add(45 * time.Second).Format(http.TimeFormat): 45 * time.Second,
		now.Add(-time.Hour).Format(http.TimeFormat):       0,
		now.Add(72 * time.Hour).Format(http.TimeFormat):   push.MaxRetryAfter,
		"Sunday, 29-Nov-26 10:01:00 GMT":                  time.Minute, // RFC 850, which HTTP dates may be
	} {
		if got := push.RetryAfter(v, now); got != want {
			t.Errorf("RetryAfter(%q) = %s, want %s", v, got, want)
		}
	}
}

func TestSenderWithoutAnAnswerRetries(t *testing.T) {
	t.Parallel()
	t.Run("connection refused", func(t *testing.T) {
		ps := newPushService(t)
		endpoint := ps.srv.URL + "/push/1"
		ps.srv.Close()
		s := newSender(t)
		sub, _ := s.Policy.ParseSubscription(newBrowser(t).subscriptionJSON(endpoint))
		err := s.Send(context.Background(), sub, aMessage, push.Options{})
		var se *push.SendError
		if !errors.As(err, &se) || se.Outcome != push.Retry || se.StatusCode != 0 {
			t.Fatalf("Send to a closed server = %v, want a Retry with no status", err)
		}
	})
	t.Run("hangs past the client's timeout", func(t *testing.T) {
		release := make(chan struct{})
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-release:
			case <-r.Context().Done():
			}
		}))
		t.Cleanup(srv.Close)
		t.Cleanup(func() { close(release) })
		s := newSender(t)
		s.Client = &http.Client{Timeout: 200 * time.Millisecond}
		sub, _ := s.Policy.ParseSubscription(newBrowser(t).subscriptionJSON(srv.URL + "/push/1"))
		if got := push.OutcomeOf(s.Send(context.Background(), sub, aMessage, push.Options{})); got != push.Retry {
			t.Fatalf("outcome %s, want retry", got)
		}
	})
	t.Run("context cancelled", func(t *testing.T) {
		ps := newPushService(t)
		s := newSender(t)
		sub, _ := s.Policy.ParseSubscription(newBrowser(t).subscriptionJSON(ps.srv.URL + "/push/1"))
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		err := s.Send(ctx, sub, aMessage, push.Options{})
		if push.OutcomeOf(err) != push.Retry || !errors.Is(err, context.Canceled) {
			t.Fatalf("Send on a cancelled context = %v, want a Retry wrapping context.Canceled", err)
		}
	})
}

// What cannot be sent is refused before any request.
func TestSenderRefusesBeforeSending(t *testing.T) {
	t.Parallel()
	ps := newPushService(t)
	b := newBrowser(t)
	loopback, err := push.Policy{AllowLoopback: true}.ParseSubscription(b.subscriptionJSON(ps.srv.URL + "/push/1"))
	if err != nil {
		t.Fatal(err)
	}
	big := aMessage
	big.Body = strings.Repeat("é", push.MaxPlaintext)
	cases := map[string]func(s *push.Sender) error{
		"loopback under the production policy": func(s *push.Sender) error {
			s.Policy = push.Policy{}
			return s.Send(context.Background(), loopback, aMessage, push.Options{})
		},
		"message too large": func(s *push.Sender) error {
			return s.Send(context.Background(), loopback, big, push.Options{})
		},
		"bad subject": func(s *push.Sender) error {
			s.Subject = "ops@queueless.example"
			return s.Send(context.Background(), loopback, aMessage, push.Options{})
		},
		"no keys": func(s *push.Sender) error {
			s.Keys = nil
			return s.Send(context.Background(), loopback, aMessage, push.Options{})
		},
		"bad urgency": func(s *push.Sender) error {
			return s.Send(context.Background(), loopback, aMessage, push.Options{Urgency: "urgent"})
		},
		"bad topic": func(s *push.Sender) error {
			return s.Send(context.Background(), loopback, aMessage, push.Options{Topic: "ticket 42"})
		},
		"long topic": func(s *push.Sender) error {
			return s.Send(context.Background(), loopback, aMessage, push.Options{Topic: strings.Repeat("a", 33)})
		},
		"negative TTL": func(s *push.Sender) error {
			return s.Send(context.Background(), loopback, aMessage, push.Options{TTL: -time.Second})
		},
		"bad keys": func(s *push.Sender) error {
			bad := loopback
			bad.Auth = bad.Auth[:8]
			return s.Send(context.Background(), bad, aMessage, push.Options{})
		},
	}
	for name, f := range cases {
		err := f(newSender(t))
		if got := push.OutcomeOf(err); got != push.Permanent {
			t.Errorf("%s: outcome %s (%v), want permanent", name, got, err)
		}
	}
	if _, err := big.Marshal(); !errors.Is(err, push.ErrTooLarge) {
		t.Errorf("Marshal of a large message = %v, want ErrTooLarge", err)
	}
	if n := len(ps.received()); n != 0 {
		t.Errorf("push service got %d requests, want none", n)
	}
}

// One Sender is used by many workers at once.
func TestSenderConcurrentSends(t *testing.T) {
	t.Parallel()
	ps := newPushService(t)
	s := newSender(t)
	const n = 50
	browsers := make([]*browser, n)
	errs := make(chan error, n)
	for i := range n {
		browsers[i] = newBrowser(t)
		sub, err := s.Policy.ParseSubscription(browsers[i].subscriptionJSON(ps.srv.URL + "/push/" + string(rune('a'+i%26)) + "/" + strings.Repeat("x", i)))
		if err != nil {
			t.Fatal(err)
		}
		go func() { errs <- s.Send(context.Background(), sub, aMessage, push.Options{}) }()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	got := ps.received()
	if len(got) != n {
		t.Fatalf("push service got %d pushes, want %d", len(got), n)
	}
	for _, r := range got {
		i := len(r.path) - len("/push/a/")
		if _, err := browsers[i].decrypt(r.body); err != nil {
			t.Errorf("push to %s: %v", r.path, err)
		}
	}
}

func TestTopicFor(t *testing.T) {
	t.Parallel()
	a, b := push.TopicFor("0190f1c2-7d5e-7a3b-9c1d-2e3f4a5b6c7d"), push.TopicFor("0190f1c2-7d5e-7a3b-9c1d-2e3f4a5b6c7e")
	if a == b || a != push.TopicFor("0190f1c2-7d5e-7a3b-9c1d-2e3f4a5b6c7d") {
		t.Errorf("TopicFor is not a function of its key: %q %q", a, b)
	}
	ps := newPushService(t)
	s := newSender(t)
	sub, _ := s.Policy.ParseSubscription(newBrowser(t).subscriptionJSON(ps.srv.URL + "/push/1"))
	if err := s.Send(context.Background(), sub, aMessage, push.Options{Topic: a}); err != nil {
		t.Fatalf("Send with TopicFor's topic: %v", err)
	}
	if got := ps.received()[0].header.Get("Topic"); got != a || len(got) != 32 {
		t.Errorf("Topic header %q, want %q (32 characters)", got, a)
	}
}
