package push

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Urgency is RFC 8030 §5.3's Urgency header: how soon the device should be
// woken for the message.
type Urgency string

// The urgencies of RFC 8030.
const (
	UrgencyVeryLow Urgency = "very-low"
	UrgencyLow     Urgency = "low"
	UrgencyNormal  Urgency = "normal"
	UrgencyHigh    Urgency = "high"
)

// DefaultTTL is the TTL of a message whose Options give none: a queue's
// news is stale after ten minutes (the contract suppresses a turn_called
// text that late).
const DefaultTTL = 10 * time.Minute

// Options are a message's delivery headers.
type Options struct {
	// TTL is how long the push service keeps the message for a device that
	// is offline (RFC 8030 §5.2), in whole seconds; 0 means DefaultTTL.
	TTL time.Duration
	// Urgency, "" for normal.
	Urgency Urgency
	// Topic, when set, replaces a message of the same topic still waiting
	// at the push service (RFC 8030 §5.4): at most 32 base64url characters.
	Topic string
}

// Outcome is what a send's result means for its caller.
type Outcome int

// The outcomes of a send.
const (
	Sent      Outcome = iota // the push service accepted the message (2xx)
	Gone                     // 404/410: the subscription is no more; delete it
	Retry                    // 429, 5xx, 408, or no answer: try again later
	Permanent                // any other answer (400, 401, 403, 413...): sending again will not help
)

func (o Outcome) String() string {
	switch o {
	case Sent:
		return "sent"
	case Gone:
		return "gone"
	case Retry:
		return "retry"
	case Permanent:
		return "permanent"
	}
	return "Outcome(" + strconv.Itoa(int(o)) + ")"
}

// SendError is every error Send returns: what to do about it, and why.
type SendError struct {
	Outcome    Outcome       // Gone, Retry or Permanent
	StatusCode int           // the push service's status, 0 when there was no answer
	RetryAfter time.Duration // the push service's Retry-After, 0 when it gave none
	Detail     string        // the start of the answer's body, or what failed
	err        error
}

func (e *SendError) Error() string {
	var b strings.Builder
	b.WriteString("push ")
	b.WriteString(e.Outcome.String())
	if e.StatusCode != 0 {
		fmt.Fprintf(&b, ": status %d", e.StatusCode)
	}
	if e.RetryAfter > 0 {
		fmt.Fprintf(&b, ", retry after %s", e.RetryAfter)
	}
	if e.Detail != "" {
		b.WriteString(": ")
		b.WriteString(e.Detail)
	}
	return b.String()
}

func (e *SendError) Unwrap() error { return e.err }

// OutcomeOf is Sent for a nil error, the SendError's Outcome for one, and
// Retry for any other error.
func OutcomeOf(err error) Outcome {
	if err == nil {
		return Sent
	}
	var se *SendError
	if errors.As(err, &se) {
		return se.Outcome
	}
	return Retry
}

// Classify says what a push service's answer means (RFC 8030 §§5, 8.4 and
// what the big push services document): 2xx sent; 404 and 410 gone; 429,
// 5xx and 408 retry, after the Retry-After it gives when it gives one; any
// other status permanent.
func Classify(status int, header http.Header, now time.Time) (Outcome, time.Duration) {
	switch {
	case status >= 200 && status <= 299:
		return Sent, 0
	case status == http.StatusNotFound || status == http.StatusGone:
		return Gone, 0
	case status == http.StatusTooManyRequests || status == http.StatusRequestTimeout || (status >= 500 && status <= 599):
		return Retry, RetryAfter(header.Get("Retry-After"), now)
	default:
		return Permanent, 0
	}
}

// MaxRetryAfter caps a Retry-After, so that a push service's typo cannot
// park a message for ever.
const MaxRetryAfter = 24 * time.Hour

// RetryAfter reads a Retry-After value: delay-seconds or an HTTP date
// (RFC 9110 §10.2.3). It returns 0 when there is none, it cannot be read,
// or it is in the past, and at most MaxRetryAfter.
func RetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	var d time.Duration
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n <= 0 {
			return 0
		}
		if n >= int64(MaxRetryAfter/time.Second) {
			return MaxRetryAfter
		}
		d = time.Duration(n) * time.Second
	} else if t, err := http.ParseTime(v); err == nil {
		d = t.Sub(now)
	}
	return min(max(d, 0), MaxRetryAfter)
}

// Sender POSTs encrypted, signed messages to push services. Its zero value
// is not usable: Keys and Subject are required.
type Sender struct {
	Keys    *Keys
	Subject string // the JWT's sub, mailto: or https: (ValidateSubject)
	// Policy says which endpoints may be pushed to; Send checks the
	// subscription against it and, with the default client, every address
	// it connects to.
	Policy Policy
	// Client sends the requests; nil means a client with a 30 s timeout
	// that follows no redirect, uses no proxy and connects only to the
	// addresses Policy allows. A Client given here must guard its own
	// dials: Policy then checks only the endpoint's text.
	Client *http.Client
	// Now is the clock for the token's exp and Retry-After dates; nil means
	// time.Now.
	Now func() time.Time

	once sync.Once
	dflt *http.Client // the default client, made on first use
}

const sendTimeout = 30 * time.Second

// maxDetail bounds how much of an answer's body lands in SendError.Detail.
const maxDetail = 512

// Send encrypts msg for sub and POSTs it to sub's endpoint. It returns nil
// when the push service accepted it, else a *SendError whose Outcome says
// what to do (see OutcomeOf).
func (s *Sender) Send(ctx context.Context, sub Subscription, msg Message, opt Options) error {
	plain, err := msg.Marshal()
	if err != nil {
		return &SendError{Outcome: Permanent, Detail: err.Error(), err: err}
	}
	return s.SendRaw(ctx, sub, plain, opt)
}

// SendRaw is Send with the plaintext given.
func (s *Sender) SendRaw(ctx context.Context, sub Subscription, plaintext []byte, opt Options) error {
	req, err := s.request(ctx, sub, plaintext, opt)
	if err != nil {
		return &SendError{Outcome: Permanent, Detail: err.Error(), err: err}
	}
	resp, err := s.client().Do(req)
	if err != nil {
		// No answer: a timeout, a refused or cut connection, or a dial
		// that Policy refused (which a retry will not fix, but which a
		// resolvable name may also mean for a moment; it ends in the
		// caller's attempts limit).
		return &SendError{Outcome: Retry, Detail: err.Error(), err: err}
	}
	defer resp.Body.Close()
	detail, _ := io.ReadAll(io.LimitReader(resp.Body, maxDetail))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // so the connection is reused
	outcome, after := Classify(resp.StatusCode, resp.Header, s.now())
	if outcome == Sent {
		return nil
	}
	return &SendError{
		Outcome:    outcome,
		StatusCode: resp.StatusCode,
		RetryAfter: after,
		Detail:     strings.TrimSpace(strings.ToValidUTF8(string(detail), "")),
	}
}

// request builds the POST: RFC 8030's TTL, Urgency and Topic, RFC 8291's
// body and Content-Encoding, RFC 8292's Authorization.
func (s *Sender) request(ctx context.Context, sub Subscription, plaintext []byte, opt Options) (*http.Request, error) {
	if s.Keys == nil {
		return nil, ErrNoKey
	}
	if err := s.Policy.Check(sub); err != nil {
		return nil, err
	}
	if err := ValidateSubject(s.Subject); err != nil {
		return nil, err
	}
	ttl := opt.TTL
	if ttl == 0 {
		ttl = DefaultTTL
	}
	if ttl < 0 {
		return nil, fmt.Errorf("push: negative TTL %s", ttl)
	}
	switch opt.Urgency {
	case "", UrgencyVeryLow, UrgencyLow, UrgencyNormal, UrgencyHigh:
	default:
		return nil, fmt.Errorf("push: unknown urgency %q", opt.Urgency)
	}
	if !validTopic(opt.Topic) {
		return nil, fmt.Errorf("push: topic %q: at most 32 base64url characters", opt.Topic)
	}
	body, err := Encrypt(plaintext, sub)
	if err != nil {
		return nil, err
	}
	auth, err := s.Keys.Authorization(sub.Endpoint, s.Subject, s.now().Add(tokenLifetime))
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, sub.Endpoint, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("push: request: %w", err)
	}
	h := req.Header
	h.Set("Authorization", auth)
	h.Set("Content-Encoding", "aes128gcm")
	h.Set("Content-Type", "application/octet-stream")
	h.Set("TTL", strconv.FormatInt(int64(ttl.Round(time.Second)/time.Second), 10))
	if opt.Urgency != "" {
		h.Set("Urgency", string(opt.Urgency))
	}
	if opt.Topic != "" {
		h.Set("Topic", opt.Topic)
	}
	return req, nil
}

func validTopic(t string) bool {
	if len(t) > 32 {
		return false
	}
	for _, c := range t {
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

func (s *Sender) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *Sender) client() *http.Client {
	if s.Client != nil {
		return s.Client
	}
	return s.defaultClient()
}

// Close closes the idle connections of the Sender's default client (at
// shutdown, and in tests that check for leaked goroutines). The Sender
// stays usable.
func (s *Sender) Close() {
	if s.Client == nil {
		s.defaultClient().CloseIdleConnections()
	}
}

// defaultClient is made once per Sender, so that connections to a push
// service are reused across sends.
func (s *Sender) defaultClient() *http.Client {
	s.once.Do(func() {
		policy := s.Policy
		dialer := &net.Dialer{
			Timeout: 10 * time.Second,
			Control: func(_, address string, _ syscall.RawConn) error {
				return policy.dialAllowed(address)
			},
		}
		tr := &http.Transport{
			DialContext:         dialer.DialContext,
			ForceAttemptHTTP2:   true,
			MaxIdleConnsPerHost: 16,
			IdleConnTimeout:     90 * time.Second,
			TLSHandshakeTimeout: 10 * time.Second,
		}
		s.dflt = &http.Client{
			Transport: tr,
			Timeout:   sendTimeout,
			CheckRedirect: func(*http.Request, []*http.Request) error {
				return http.ErrUseLastResponse // a push service does not redirect; a 3xx is permanent
			},
		}
	})
	return s.dflt
}

// TopicFor makes a Topic from any key (a ticket's id, which may be longer
// than a Topic or hold other characters): the first 32 characters of the
// base64url SHA-256 of key. A ticket's messages share it, so that a
// turn_called replaces a near_turn still waiting at the push service for an
// offline phone.
func TopicFor(key string) string {
	sum := sha256.Sum256([]byte(key))
	return b64.EncodeToString(sum[:])[:32]
}
