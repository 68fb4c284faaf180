package institutions

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"time"

	"github.com/queueless/queueless/queue"
)

// SignatureHeader carries a push's signature: "sha256=" and the hex
// HMAC-SHA256 of the body with the link's secret, as QueueLess's own
// webhooks are signed.
const SignatureHeader = "X-QueueLess-Signature"

// Sign returns the SignatureHeader value of body under secret.
func Sign(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// verify checks sig against body in constant time.
func verify(secret string, body []byte, sig string) bool {
	hexSum, ok := strings.CutPrefix(strings.TrimSpace(sig), "sha256=")
	if !ok || secret == "" {
		return false
	}
	got, err := hex.DecodeString(hexSum)
	if err != nil {
		return false
	}
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return hmac.Equal(got, m.Sum(nil))
}

// outsideWire is the outside queue document, read by a poll and posted by
// a push alike (docs/API-EXTENSIONS.md). Fields it does not know are
// ignored: outside systems grow.
type outsideWire struct {
	NowServing *int64        `json:"now_serving"`
	LastIssued *int64        `json:"last_issued"`
	Counters   []outsideCall `json:"counters"`
	UpdatedAt  *time.Time    `json:"updated_at"`
}

type outsideCall struct {
	Counter  *string    `json:"counter"`
	Number   *int64     `json:"number"`
	CalledAt *time.Time `json:"called_at"`
}

// maxOutsideNumber bounds the numbers an outside queue may report.
const maxOutsideNumber = 1 << 50

// DecodeOutsideQueue reads an outside queue document. A body that is not
// one whole JSON object of the right shape (truncated, malformed, a number
// out of range, now_serving above last_issued) is an invalid_request error.
func DecodeOutsideQueue(body []byte) (queue.OutsideQueue, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	var w outsideWire
	if err := dec.Decode(&w); err != nil {
		return queue.OutsideQueue{}, queue.Errorf(queue.CodeInvalid, "the outside queue is not a valid JSON document: %s", shortJSONError(err))
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return queue.OutsideQueue{}, queue.Errorf(queue.CodeInvalid, "the outside queue has data after its JSON object")
	}
	if w.NowServing == nil || w.LastIssued == nil {
		return queue.OutsideQueue{}, queue.Errorf(queue.CodeInvalid, "the outside queue must have now_serving and last_issued")
	}
	q := queue.OutsideQueue{NowServing: *w.NowServing, LastIssued: *w.LastIssued, UpdatedAt: utcPtr(w.UpdatedAt)}
	if q.NowServing < 0 || q.LastIssued < 0 || q.LastIssued > maxOutsideNumber {
		return queue.OutsideQueue{}, queue.Errorf(queue.CodeInvalid, "now_serving and last_issued must be integers from 0 to %d", int64(maxOutsideNumber))
	}
	if q.NowServing > q.LastIssued {
		return queue.OutsideQueue{}, queue.Errorf(queue.CodeInvalid, "now_serving (%d) is above last_issued (%d)", q.NowServing, q.LastIssued)
	}
	if len(w.Counters) > 1000 {
		return queue.OutsideQueue{}, queue.Errorf(queue.CodeInvalid, "the outside queue lists more than 1000 counters")
	}
	q.Calls = []queue.Call{}
	for _, c := range w.Counters {
		if c.Number == nil || *c.Number < 1 || *c.Number > q.NowServing || c.Counter == nil {
			continue // a counter that has called nobody yet, or nonsense: it names nobody's counter
		}
		if err := queue.CheckCounter(*c.Counter); err != nil {
			return queue.OutsideQueue{}, queue.Errorf(queue.CodeInvalid, "the outside queue's counter %d: %s", *c.Number, err.Error())
		}
		call := queue.Call{Number: *c.Number, Counter: c.Counter}
		if c.CalledAt != nil {
			call.CalledAt = c.CalledAt.UTC()
		}
		q.Calls = append(q.Calls, call)
	}
	return q, nil
}

func shortJSONError(err error) string {
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return "it ends too soon"
	}
	return strings.TrimPrefix(err.Error(), "json: ")
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// PushResult is what a push did.
type PushResult struct {
	// Changed is false for a push that told QueueLess nothing new: a repeat,
	// or one older than what it already applied.
	Changed     bool              `json:"changed"`
	Issued      []int64           `json:"issued"`
	Called      []int64           `json:"called"`
	Institution queue.Institution `json:"institution"`
}

// Push applies a signed push to institution id. sig is the SignatureHeader
// value. A missing or wrong signature, or an institution without a push
// link, is unauthorized; the body is read only once its signature holds.
func (s *Syncer) Push(ctx context.Context, id int64, body []byte, sig string, requestID string) (PushResult, error) {
	l, err := s.links.Link(ctx, id)
	if err != nil && !queue.IsNotFound(err) {
		s.metrics.pushes.WithLabelValues("error").Inc()
		return PushResult{}, err
	}
	if err != nil || l.Mode != queue.LinkPush {
		s.metrics.pushes.WithLabelValues("bad_signature").Inc()
		return PushResult{}, queue.Errorf(queue.CodeUnauthorized, "institution %d takes no pushes", id)
	}
	if sig == "" {
		s.metrics.pushes.WithLabelValues("bad_signature").Inc()
		return PushResult{}, queue.Errorf(queue.CodeUnauthorized, "a push must be signed: %s: sha256=<hex HMAC-SHA256 of the body>", SignatureHeader)
	}
	if !verify(l.Secret, body, sig) {
		s.metrics.pushes.WithLabelValues("bad_signature").Inc()
		return PushResult{}, queue.Errorf(queue.CodeUnauthorized, "the %s does not match the body", SignatureHeader)
	}
	q, err := DecodeOutsideQueue(body)
	if err != nil {
		s.metrics.pushes.WithLabelValues("invalid").Inc()
		return PushResult{}, err
	}
	res, err := s.q.SyncCalls(ctx, id, q, queue.Meta{Actor: queue.ActorSync, RequestID: requestID})
	if err != nil {
		if code, _ := queue.ErrorCode(err); code == queue.CodeInvalid {
			s.metrics.pushes.WithLabelValues("invalid").Inc()
		} else {
			s.metrics.pushes.WithLabelValues("error").Inc()
		}
		return PushResult{}, err
	}
	s.count(res)
	result := "unchanged"
	if res.Changed {
		result = "applied"
	}
	s.metrics.pushes.WithLabelValues(result).Inc()
	// The status shows the newest outside queue seen, not the last to
	// arrive: a reordered push must not make the link look behind.
	now := s.cfg.Now().UTC()
	st := l.LinkStatus
	if st.Outside == nil || q.NowServing > st.Outside.NowServing || q.LastIssued > st.Outside.LastIssued {
		st.Outside = &q
	}
	st.LastSuccessAt, st.LastAttemptAt, st.LastError, st.ConsecutiveFailures, st.Stale = &now, &now, "", 0, false
	if _, err := s.links.SetLinkStatus(ctx, id, "", st); err != nil {
		s.log.WarnContext(ctx, "record push status", "institution_id", id, "error", err.Error())
	}
	out := PushResult{Changed: res.Changed, Issued: numbers(res.Issued), Called: numbers(res.Called), Institution: res.Institution}
	return out, nil
}

func (s *Syncer) count(res queue.SyncResult) {
	if n := len(res.Issued); n > 0 {
		s.metrics.applied.WithLabelValues("issued").Add(float64(n))
	}
	if n := len(res.Called); n > 0 {
		s.metrics.applied.WithLabelValues("called").Add(float64(n))
	}
}

func numbers(ts []queue.Ticket) []int64 {
	out := make([]int64, len(ts))
	for i, t := range ts {
		out[i] = t.Number
	}
	return out
}
