package feedbackstore

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/queueless/queueless/feedback"
	"github.com/queueless/queueless/queue"
)

// Feedback is one ticket's stored feedback, as POST .../feedback returns it:
// the feedback package's own type (one definition of its fields).
type Feedback = feedback.Feedback

// Service gives and reads feedback.
type Service struct {
	queue queue.Store
	pool  *pgxpool.Pool // nil in embedded mode
	now   func() time.Time
	mem   *memory // embedded mode; nil with PostgreSQL
}

// New returns a Service over the queue's store and, with PostgreSQL, its
// pool (nil in embedded mode: feedback is kept in memory); now is the
// clock (time.Now when nil).
func New(store queue.Store, pool *pgxpool.Pool, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	s := &Service{queue: store, pool: pool, now: now}
	if pool == nil {
		s.mem = &memory{byTicket: map[string]Feedback{}}
	}
	return s
}

// Give stores feedback for ticket id: once, only after it was served,
// within 24 hours of that (feedback.Allowed), checked and written under
// the institution's lock. Errors: not_found, invalid_state.
func (s *Service) Give(ctx context.Context, ticketID string, b feedback.Body) (Feedback, error) {
	t, err := s.queue.Ticket(ctx, ticketID)
	if err != nil {
		return Feedback{}, err
	}
	var out Feedback
	_, err = s.queue.Update(ctx, t.InstitutionID, func(ctx context.Context, tx queue.Tx) (queue.Changes, error) {
		tk, err := tx.Ticket(ctx, ticketID)
		if err != nil {
			return queue.Changes{}, err
		}
		now := s.now().UTC().Truncate(time.Microsecond)
		fb := Feedback{TicketID: tk.ID, InstitutionID: tk.InstitutionID, Rating: *b.Rating, Comment: b.Comment, CreatedAt: now}
		if b.Answers != nil {
			fb.Answers = *b.Answers
		}
		rule := feedback.Ticket{Served: tk.Status == queue.TicketServed}
		if tk.CompletedAt != nil {
			rule.ServedAt = *tk.CompletedAt
		}
		if ptx, ok := queue.PgxTx(tx); ok {
			if rule.HasFeedback, err = existsTx(ctx, ptx, tk.ID); err != nil {
				return queue.Changes{}, queue.TranslateDBError(err, "read feedback")
			}
			if err := feedback.Allowed(rule, now); err != nil {
				return queue.Changes{}, invalidState(err)
			}
			if err := insertTx(ctx, ptx, fb); err != nil {
				return queue.Changes{}, err
			}
		} else {
			rule.HasFeedback = s.mem.has(tk.ID)
			if err := feedback.Allowed(rule, now); err != nil {
				return queue.Changes{}, invalidState(err)
			}
			if err := s.mem.insert(fb); err != nil {
				return queue.Changes{}, err
			}
		}
		out = fb
		return queue.Changes{}, nil
	})
	if err != nil {
		return Feedback{}, err
	}
	return out, nil
}

func invalidState(err error) error { return queue.Errorf(queue.CodeInvalidState, "%s", err.Error()) }

// Get returns ticket id's feedback: not_found when none was given.
func (s *Service) Get(ctx context.Context, ticketID string) (Feedback, error) {
	if s.mem != nil {
		if fb, ok := s.mem.get(ticketID); ok {
			return fb, nil
		}
		return Feedback{}, queue.Errorf(queue.CodeNotFound, "no feedback for this ticket")
	}
	fb, err := scan(s.pool.QueryRow(ctx, `SELECT `+feedbackColumns+` FROM feedback WHERE ticket_id = $1`, ticketID))
	if errors.Is(err, pgx.ErrNoRows) {
		return Feedback{}, queue.Errorf(queue.CodeNotFound, "no feedback for this ticket")
	}
	if err != nil {
		return Feedback{}, queue.TranslateDBError(err, "read feedback")
	}
	return fb, nil
}

// List returns the feedback of an institution created in [from, to), oldest
// first (what embedded stats read; PostgreSQL stats read the table in SQL).
func (s *Service) List(ctx context.Context, institutionID int64, from, to time.Time) ([]Feedback, error) {
	if s.mem != nil {
		return s.mem.list(institutionID, from, to), nil
	}
	rows, _ := s.pool.Query(ctx, `SELECT `+feedbackColumns+` FROM feedback
		WHERE institution_id = $1 AND created_at >= $2 AND created_at < $3 ORDER BY created_at, ticket_id`, institutionID, from, to)
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Feedback, error) { return scan(r) })
	if err != nil {
		return nil, queue.TranslateDBError(err, "list feedback")
	}
	if list == nil {
		list = []Feedback{}
	}
	return list, nil
}

// FeedbackBetween is List under the name embedded stats ask for
// (stats.FeedbackLister).
func (s *Service) FeedbackBetween(ctx context.Context, institutionID int64, from, to time.Time) ([]Feedback, error) {
	return s.List(ctx, institutionID, from, to)
}

const feedbackColumns = `ticket_id, institution_id, rating, sqd0, sqd1, sqd2, sqd3, sqd4, sqd5, sqd6, sqd7, sqd8, comment, created_at`

func scan(row pgx.Row) (Feedback, error) {
	var fb Feedback
	a := &fb.Answers
	var rating int16
	var sqd [9]*int16
	err := row.Scan(&fb.TicketID, &fb.InstitutionID, &rating, &sqd[0], &sqd[1], &sqd[2], &sqd[3], &sqd[4], &sqd[5], &sqd[6], &sqd[7], &sqd[8], &fb.Comment, &fb.CreatedAt)
	if err != nil {
		return Feedback{}, err
	}
	fb.Rating = int(rating)
	ptrs := []**int{&a.SQD0, &a.SQD1, &a.SQD2, &a.SQD3, &a.SQD4, &a.SQD5, &a.SQD6, &a.SQD7, &a.SQD8}
	for i, v := range sqd {
		if v != nil {
			n := int(*v)
			*ptrs[i] = &n
		}
	}
	fb.CreatedAt = fb.CreatedAt.UTC()
	return fb, nil
}

func existsTx(ctx context.Context, tx pgx.Tx, ticketID string) (bool, error) {
	var n int
	err := tx.QueryRow(ctx, `SELECT count(*) FROM feedback WHERE ticket_id = $1`, ticketID).Scan(&n)
	return n > 0, err
}

func insertTx(ctx context.Context, tx pgx.Tx, fb Feedback) error {
	l := fb.Answers.List()
	_, err := tx.Exec(ctx, `INSERT INTO feedback (`+feedbackColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`,
		fb.TicketID, fb.InstitutionID, fb.Rating, l[0], l[1], l[2], l[3], l[4], l[5], l[6], l[7], l[8], fb.Comment, fb.CreatedAt)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23505" {
		return invalidState(feedback.ErrAlreadyGiven) // the primary key: the rule's backstop
	}
	if err != nil {
		return queue.TranslateDBError(err, "store feedback")
	}
	return nil
}

// memory is the embedded mode's feedback.
type memory struct {
	mu       sync.Mutex
	byTicket map[string]Feedback
	order    []string
}

func (m *memory) has(id string) bool { _, ok := m.get(id); return ok }

func (m *memory) get(id string) (Feedback, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	fb, ok := m.byTicket[id]
	return fb, ok
}

func (m *memory) insert(fb Feedback) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.byTicket[fb.TicketID]; ok {
		return invalidState(feedback.ErrAlreadyGiven)
	}
	m.byTicket[fb.TicketID] = fb
	m.order = append(m.order, fb.TicketID)
	return nil
}

func (m *memory) list(inst int64, from, to time.Time) []Feedback {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := []Feedback{}
	for _, id := range m.order {
		fb := m.byTicket[id]
		if fb.InstitutionID == inst && !fb.CreatedAt.Before(from) && fb.CreatedAt.Before(to) {
			out = append(out, fb)
		}
	}
	return out
}
