package notify

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"time"

	"github.com/riverqueue/river"

	"github.com/queueless/queueless/queue"
	"github.com/queueless/queueless/sms"
)

// smsArgs is a text's delivery job: the notification, on the sms channel.
type smsArgs struct {
	NotificationID int64 `json:"notification_id"`
}

// Kind implements river.JobArgs.
func (smsArgs) Kind() string { return "sms_delivery" }

type smsWorker struct{ jobPolicy[smsArgs] }

func (w *smsWorker) Work(ctx context.Context, job *river.Job[smsArgs]) error {
	return w.s.deliver(ctx, job.Args.NotificationID, ChannelSMS, job.Attempt, job.MaxAttempts, w.s.sendText)
}

// sendText sends a notification's text, unless the number opted out or is
// not verified.
func (s *Service) sendText(ctx context.Context, d Delivery, t queue.Ticket, inst queue.Institution) result {
	if t.Phone == nil || s.cfg.Gateway == nil {
		return result{suppress: "no phone number"}
	}
	ph, err := s.store.Phone(ctx, *t.Phone)
	if err != nil {
		return result{err: err}
	}
	if ph.OptedOut {
		return result{suppress: "the number opted out (STOP)"}
	}
	if s.cfg.Verify && !ph.Verified(s.now()) {
		return result{suppress: "phone not verified"}
	}
	body := sms.Text(d.Event, sms.Ticket{Office: inst.Name, Name: name(t), Counter: t.Counter, Link: s.Link(t.ID)})
	if body == "" {
		return result{suppress: "no text for " + d.Event}
	}
	_, err = s.cfg.Gateway.Send(ctx, sms.Message{To: *t.Phone, Body: body, ID: fmt.Sprintf("n%d", d.NotificationID)})
	return result{err: err, permanent: errors.Is(err, sms.ErrRejected)}
}

// phoneArgs is the one job a join with a phone adds to the join's
// transaction: it makes the ticket the one the number's replies act on,
// and sends the number its code when it must be verified.
type phoneArgs struct {
	TicketID string `json:"ticket_id"`
	Phone    string `json:"phone"`
}

// Kind implements river.JobArgs.
func (phoneArgs) Kind() string { return "sms_phone" }

type phoneWorker struct{ jobPolicy[phoneArgs] }

// phonesArgs stands, in a change that issues many tickets with phones (a
// batch of joins in a crowd), for their phoneArgs jobs: one job row in the
// change's transaction instead of one per ticket, whose worker inserts the
// tickets' own jobs. Each River job row costs its insert and the updates
// of river_job's indexes (two GIN among them), all in the join batch's
// transaction, which one institution's joins wait for one at a time.
//
// Its arguments are one string ("list": ticket id, colon, number; commas
// between), not an array of objects: river_job's GIN index on args makes
// an entry of every key and value, 400 for a batch of 200 joins as an
// array, 2 as one string, and those entries are written in the join
// batch's transaction. Jobs written as an array ("phones", before) are
// read all the same.
type phonesArgs struct {
	Phones []phoneArgs `json:"-"`
}

// phonesList is phonesArgs as stored.
type phonesList struct {
	List   string      `json:"list,omitempty"`
	Phones []phoneArgs `json:"phones,omitempty"` // the earlier form
}

// MarshalJSON implements json.Marshaler.
func (a phonesArgs) MarshalJSON() ([]byte, error) {
	var b strings.Builder
	b.Grow(len(a.Phones) * 50)
	for i, p := range a.Phones {
		if strings.ContainsAny(p.TicketID, ":,") || strings.ContainsAny(p.Phone, ":,") {
			return nil, fmt.Errorf("phone job of ticket %q: a ticket id or number with ':' or ','", p.TicketID)
		}
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(p.TicketID)
		b.WriteByte(':')
		b.WriteString(p.Phone)
	}
	return json.Marshal(phonesList{List: b.String()})
}

// UnmarshalJSON implements json.Unmarshaler.
func (a *phonesArgs) UnmarshalJSON(data []byte) error {
	var l phonesList
	if err := json.Unmarshal(data, &l); err != nil {
		return err
	}
	a.Phones = l.Phones
	if l.List == "" {
		return nil
	}
	for item := range strings.SplitSeq(l.List, ",") {
		id, phone, ok := strings.Cut(item, ":")
		if !ok || id == "" || phone == "" {
			return fmt.Errorf("sms_phone_batch: bad entry %q", item)
		}
		a.Phones = append(a.Phones, phoneArgs{TicketID: id, Phone: phone})
	}
	return nil
}

// Kind implements river.JobArgs.
func (phonesArgs) Kind() string { return "sms_phone_batch" }

// phonesAtOnce is how many tickets with phones a change must issue for
// their jobs to go as one phonesArgs job: a single join, or a few, keeps
// its phone job without the extra hop.
const phonesAtOnce = 8

type phonesWorker struct{ jobPolicy[phonesArgs] }

// Work inserts the phones' own jobs. Their jobs are unique by their
// arguments, so a retry after a crash between the insert and this job's
// completion inserts none twice.
func (w *phonesWorker) Work(ctx context.Context, job *river.Job[phonesArgs]) error {
	params := make([]river.InsertManyParams, len(job.Args.Phones))
	for i, a := range job.Args.Phones {
		params[i] = river.InsertManyParams{Args: a, InsertOpts: w.s.insertOpts()}
	}
	return w.s.jobs.InsertMany(ctx, params)
}

// Code rules (API.md v1.1): 6 digits, 5 tries, 10 minutes.
const (
	CodeTries = 5
	CodeTTL   = 10 * time.Minute
)

func codeHash(phone, code string) string {
	h := sha256.Sum256([]byte(phone + ":" + code))
	return hex.EncodeToString(h[:])
}

func newCode() string {
	n, _ := rand.Int(rand.Reader, big.NewInt(1_000_000))
	return fmt.Sprintf("%06d", n.Int64())
}

func (w *phoneWorker) Work(ctx context.Context, job *river.Job[phoneArgs]) error {
	s, a := w.s, job.Args
	now := s.now()
	ph, err := s.store.SetLastTicket(ctx, a.Phone, a.TicketID, now)
	if err != nil {
		return err
	}
	if !s.cfg.Verify || ph.OptedOut || ph.Verified(now) || s.cfg.Gateway == nil {
		return nil
	}
	t, err := s.q.Ticket(ctx, a.TicketID)
	if errors.Is(err, queue.ErrNotFound) || (err == nil && t.Status.Final()) {
		return nil
	}
	if err != nil {
		return err
	}
	inst, err := s.q.Institution(ctx, t.InstitutionID)
	if err != nil {
		return err
	}
	code := newCode()
	if err := s.store.SetCode(ctx, a.Phone, codeHash(a.Phone, code), now.Add(CodeTTL), now); err != nil {
		return err
	}
	sctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	_, err = s.cfg.Gateway.Send(sctx, sms.Message{To: a.Phone, Body: sms.VerifyText(inst.Name, code), ID: "v" + a.TicketID})
	if errors.Is(err, sms.ErrRejected) {
		return river.JobCancel(err)
	}
	return err
}

// replyArgs is the answer to an inbound text.
type replyArgs struct {
	To   string `json:"to"`
	Body string `json:"body"`
	ID   string `json:"id"` // the inbound message's id: one answer each
}

// Kind implements river.JobArgs.
func (replyArgs) Kind() string { return "sms_reply" }

type replyWorker struct{ jobPolicy[replyArgs] }

func (w *replyWorker) Work(ctx context.Context, job *river.Job[replyArgs]) error {
	if w.s.cfg.Gateway == nil {
		return nil
	}
	sctx, cancel := context.WithTimeout(ctx, w.s.cfg.Timeout)
	defer cancel()
	_, err := w.s.cfg.Gateway.Send(sctx, sms.Message{To: job.Args.To, Body: job.Args.Body, ID: "r" + job.Args.ID})
	if errors.Is(err, sms.ErrRejected) {
		return river.JobCancel(err)
	}
	return err
}
