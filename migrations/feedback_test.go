package migrations

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgconn"
)

// TestFeedbackTable checks the backstops of migration 00021: feedback once
// per ticket, and the ranges of rating, SQD answers and comment.
func TestFeedbackTable(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, db := newTestDB(t)
	if err := Up(ctx, db); err != nil {
		t.Fatal(err)
	}
	var inst int64
	if err := pool.QueryRow(ctx, `INSERT INTO institutions (name, kind) VALUES ('Office', 'government') RETURNING id`).Scan(&inst); err != nil {
		t.Fatal(err)
	}
	ticket := func() string {
		id := uuid.NewString()
		if _, err := pool.Exec(ctx, `UPDATE institutions SET last_issued = last_issued + 1 WHERE id = $1`, inst); err != nil {
			t.Fatal(err)
		}
		if _, err := pool.Exec(ctx, `INSERT INTO tickets (id, institution_id, number, status, near_turn_threshold, issued_at, completed_at, updated_at)
			SELECT $1, $2, last_issued, 'served', 3, now(), now(), now() FROM institutions WHERE id = $2`, id, inst); err != nil {
			t.Fatal(err)
		}
		return id
	}
	insert := func(id string, rating int, sqd3 any, comment string) error {
		_, err := pool.Exec(ctx, `INSERT INTO feedback (ticket_id, institution_id, rating, sqd0, sqd3, comment, created_at)
			VALUES ($1, $2, $3, 5, $4, $5, now())`, id, inst, rating, sqd3, comment)
		return err
	}
	violates := func(err error, code string) bool {
		var pe *pgconn.PgError
		return errors.As(err, &pe) && pe.Code == code
	}

	a := ticket()
	if err := insert(a, 5, nil, "ok"); err != nil {
		t.Fatalf("valid feedback: %v", err)
	}
	if err := insert(a, 4, 3, ""); !violates(err, "23505") {
		t.Fatalf("second feedback for one ticket: %v, want a unique violation", err)
	}
	for name, c := range map[string]struct {
		rating  int
		sqd3    any
		comment string
	}{
		"rating 0": {0, nil, ""}, "rating 6": {6, nil, ""}, "sqd3 0": {3, 0, ""}, "sqd3 6": {3, 6, ""},
		"comment 501": {3, nil, strings.Repeat("ñ", 501)},
	} {
		if err := insert(ticket(), c.rating, c.sqd3, c.comment); !violates(err, "23514") {
			t.Errorf("%s: %v, want a check violation", name, err)
		}
	}
	if err := insert(ticket(), 1, 1, strings.Repeat("ñ", 500)); err != nil {
		t.Fatalf("a 500-character comment: %v", err)
	}
	if err := insert(uuid.NewString(), 3, nil, ""); !violates(err, "23503") {
		t.Fatalf("feedback for no ticket: %v, want a foreign key violation", err)
	}
}
