package queue

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"
)

// TestJoinNeverToldRetryThenCommitted: a join whose caller is told it did
// not happen must not be committed afterwards. The institution's row lock
// is held by another transaction past the caller's deadline, then let go:
// the batch transaction must not go on waiting under a deadline of its own
// and commit a ticket nobody is waiting for. If it cannot know, the caller
// is told the outcome is unknown, with the Idempotency-Key advice.
func TestJoinNeverToldRetryThenCommitted(t *testing.T) {
	t.Parallel()
	st := newTestPostgresStore(t)
	svc := NewService(st, Config{})
	ctx := context.Background()
	inst, err := svc.CreateInstitution(ctx, Fields{Name: "Locked", Kind: "bank", Status: StatusOpen}, Meta{})
	if err != nil {
		t.Fatal(err)
	}
	blocker, err := st.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer blocker.Rollback(ctx)
	if _, err := blocker.Exec(ctx, `SELECT 1 FROM institutions WHERE id = $1 FOR UPDATE`, inst.ID); err != nil {
		t.Fatal(err)
	}
	jctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	_, joinErr := svc.Join(jctx, inst.ID, JoinRequest{}, Meta{Actor: ActorCitizen})
	if joinErr == nil {
		t.Fatal("a join succeeded under a row lock held past its deadline")
	}
	time.Sleep(200 * time.Millisecond)
	if err := blocker.Commit(ctx); err != nil { // the lock goes
		t.Fatal(err)
	}
	time.Sleep(time.Second) // time for a batch still waiting to commit
	var tickets int
	if err := st.pool.QueryRow(ctx, `SELECT count(*) FROM tickets WHERE institution_id = $1`, inst.ID).Scan(&tickets); err != nil {
		t.Fatal(err)
	}
	code, msg := ErrorCode(joinErr)
	if tickets > 0 && !errors.Is(joinErr, ErrOutcomeUnknown) {
		t.Fatalf("the caller was told %s %q, and then its ticket was committed", code, msg)
	}
	if code != CodeUnavailable {
		t.Fatalf("error %s %q, want unavailable", code, msg)
	}
	t.Logf("told %q; %d tickets committed", msg, tickets)
}

// TestBatchDeadlineIsItsCallers: a batch transaction ends by the earliest
// deadline of the callers it serves, leaving out a caller too close to
// its own (told to retry: it was never tried).
func TestBatchDeadlineIsItsCallers(t *testing.T) {
	t.Parallel()
	now := time.Now()
	at := func(d time.Duration) context.Context {
		ctx, cancel := context.WithDeadline(context.Background(), now.Add(d))
		t.Cleanup(cancel)
		return ctx
	}
	calls := []*joinCall{
		{ctx: at(5 * time.Second)},
		{ctx: at(2 * time.Second)},
		{ctx: at(minJoinTime / 2)}, // too close: left out
		{ctx: context.Background()},
	}
	live, deadline := batchDeadline(calls, now, 10*time.Second)
	if len(live) != 3 || live[0] != calls[0] || live[1] != calls[1] || live[2] != calls[3] {
		t.Fatalf("live callers %v", live)
	}
	if got, want := deadline, now.Add(2*time.Second); !got.Equal(want) {
		t.Fatalf("batch deadline %s after now, want %s", got.Sub(now), want.Sub(now))
	}
	if _, d := batchDeadline(calls[3:], now, 10*time.Second); !d.Equal(now.Add(10 * time.Second)) {
		t.Fatalf("without caller deadlines: %s, want the batch timeout", d.Sub(now))
	}
}

// unconfirmedStore is a store whose every change is sent and never
// confirmed, as when the connection breaks during COMMIT.
type unconfirmedStore struct{ Store }

func (unconfirmedStore) Update(context.Context, int64, func(context.Context, Tx) (Changes, error)) (Changes, error) {
	return Changes{}, &dbError{err: Errorf(CodeUnavailable, "the database did not confirm the change"),
		cause: fmt.Errorf("commit: %w: %w", ErrOutcomeUnknown, io.ErrUnexpectedEOF)}
}

// TestJoinOutcomeUnknown: a join whose commit went unconfirmed tells its
// caller so, in words that say to retry with the same Idempotency-Key.
func TestJoinOutcomeUnknown(t *testing.T) {
	t.Parallel()
	mem := NewMemoryStore()
	svc := NewService(unconfirmedStore{mem}, Config{})
	inst, err := NewService(mem, Config{}).CreateInstitution(context.Background(), Fields{Name: "X", Kind: "bank", Status: StatusOpen}, Meta{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = svc.Join(context.Background(), inst.ID, JoinRequest{IdempotencyKey: "k"}, Meta{})
	code, msg := ErrorCode(err)
	if code != CodeUnavailable || !strings.Contains(msg, "same Idempotency-Key") || !errors.Is(err, ErrOutcomeUnknown) {
		t.Fatalf("unconfirmed join: %s %q (%v), want unavailable saying to retry with the same Idempotency-Key", code, msg, err)
	}
}
