package chaos

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// The webhook events the suite subscribes to, and the audit kinds (events
// table) that fire them (API.md, "Staff insight and integration").
var (
	hookEvents = []string{"ticket.created", "ticket.called"}
	hookKinds  = []string{"ticket.joined", "ticket.called", "ticket.recalled"}
)

// receiver is an institution's system behind the webhook: it checks each
// delivery's signature, answers 200, and remembers, per delivery id, the
// audit event it reports and how many times it was accepted.
type receiver struct {
	srv   *httptest.Server
	delay time.Duration // how long each answer takes: deliveries in flight when an instance dies

	mu        sync.Mutex
	secret    string
	byID      map[string]*delivery // by X-QueueLess-Delivery
	badSig    int
	badBody   int
	firstBody string
}

type delivery struct {
	eventID  int64
	event    string
	accepted int
}

func newReceiver(delay time.Duration) *receiver {
	r := &receiver{byID: map[string]*delivery{}, delay: delay}
	r.srv = httptest.NewServer(http.HandlerFunc(r.handle))
	return r
}

func (r *receiver) handle(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(req.Body)
	if err != nil {
		return
	}
	time.Sleep(r.delay)
	if req.Context().Err() != nil {
		// The sender is gone (its instance killed): it never sees an
		// answer, so this attempt delivered nothing.
		return
	}
	var p struct {
		Event   string `json:"event"`
		EventID int64  `json:"event_id"`
	}
	id := req.Header.Get("X-QueueLess-Delivery")
	r.mu.Lock()
	defer r.mu.Unlock()
	mac := hmac.New(sha256.New, []byte(r.secret))
	mac.Write(body)
	if !hmac.Equal([]byte(req.Header.Get("X-QueueLess-Signature")), []byte("sha256="+hex.EncodeToString(mac.Sum(nil)))) {
		r.badSig++
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	if json.Unmarshal(body, &p) != nil || id == "" || p.EventID == 0 || p.Event != req.Header.Get("X-QueueLess-Event") {
		if r.badBody == 0 {
			r.firstBody = fmt.Sprintf("delivery %q event %q: %s", id, req.Header.Get("X-QueueLess-Event"), body)
		}
		r.badBody++
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	d := r.byID[id]
	if d == nil {
		d = &delivery{eventID: p.EventID, event: p.Event}
		r.byID[id] = d
	}
	d.accepted++
	w.WriteHeader(http.StatusOK)
}

// hookView is what the receiver has seen, per audit event.
type hookView struct {
	ids      map[int64][]string // audit event id -> delivery ids accepted
	repeats  int                // acceptances of a delivery id beyond its first
	badSig   int
	badBody  int
	firstBad string
}

func (r *receiver) view() hookView {
	r.mu.Lock()
	defer r.mu.Unlock()
	v := hookView{ids: map[int64][]string{}, badSig: r.badSig, badBody: r.badBody, firstBad: r.firstBody}
	for id, d := range r.byID {
		v.ids[d.eventID] = append(v.ids[d.eventID], id)
		v.repeats += d.accepted - 1
	}
	return v
}

// addWebhook registers the receiver for the institution's ticket events.
func (s *system) addWebhook(r *receiver) {
	body, _ := json.Marshal(map[string]any{"url": r.srv.URL, "events": hookEvents, "institution_ids": []int64{s.instID}})
	var hook struct {
		Secret string `json:"secret"`
	}
	s.call("POST", "/api/v1/webhooks", string(body), &hook)
	r.mu.Lock()
	r.secret = hook.Secret
	r.mu.Unlock()
}

// committedEvents lists the audit events of the institution that fire the
// subscribed webhooks: the committed changes that each owe one delivery.
func (s *system) committedEvents(ctx context.Context) (map[int64]bool, error) {
	conn, err := pgx.Connect(ctx, s.pgURL)
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.Background())
	rows, err := conn.Query(ctx, `SELECT id FROM events WHERE institution_id = $1 AND kind = ANY($2)`, s.instID, hookKinds)
	if err != nil {
		return nil, err
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, err
	}
	out := make(map[int64]bool, len(ids))
	for _, id := range ids {
		out[id] = true
	}
	return out, nil
}

// hookResult is one fault's row of webhook figures.
type hookResult struct {
	owed    int // deliveries owed so far (committed events)
	newOwed int // of which made during this fault
	repeats int // acceptances of a delivery id again, during this fault
	deliver time.Duration
}

// checkDeliveries waits until every committed change has been delivered,
// then checks: each change has exactly one delivery id, accepted; no
// delivery reports a change that was not committed; every signature was
// good. repeatsOK says whether this fault may make the receiver see a
// delivery id again (an instance killed, or PostgreSQL gone, between the
// receiver's 200 and the record of it: API.md lets receivers drop
// repeats by their id); the number is reported either way.
func (s *system) checkDeliveries(fault string, r *receiver, before hookResult, repeatsBefore int, repeatsOK bool, within time.Duration) hookResult {
	t := s.t
	start := time.Now()
	deadline := start.Add(within)
	var owed map[int64]bool
	var v hookView
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		var err error
		owed, err = s.committedEvents(ctx)
		cancel()
		if err != nil {
			if time.Now().After(deadline) {
				t.Fatalf("%s: read committed events: %v", fault, err)
			}
			time.Sleep(200 * time.Millisecond)
			continue
		}
		v = r.view()
		missing := 0
		for id := range owed {
			if len(v.ids[id]) == 0 {
				missing++
			}
		}
		if missing == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("%s: %d of %d committed changes have no webhook delivery accepted after %v", fault, missing, len(owed), within)
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	res := hookResult{owed: len(owed), newOwed: len(owed) - before.owed, repeats: v.repeats - repeatsBefore, deliver: time.Since(start)}
	twice, unknown := 0, 0
	for id, ds := range v.ids {
		if len(ds) > 1 {
			twice++
		}
		if !owed[id] {
			unknown++
		}
	}
	if twice > 0 {
		t.Errorf("%s: %d changes were delivered under more than one delivery id (sent twice)", fault, twice)
	}
	if unknown > 0 {
		t.Errorf("%s: %d deliveries report a change that is not committed", fault, unknown)
	}
	if v.badSig > 0 || v.badBody > 0 {
		t.Errorf("%s: %d deliveries with a bad signature, %d malformed (first: %s)", fault, v.badSig, v.badBody, v.firstBad)
	}
	if res.repeats > 0 && !repeatsOK {
		t.Errorf("%s: %d deliveries accepted again under the same delivery id; this fault stops nothing between a POST and its record", fault, res.repeats)
	}
	return res
}
