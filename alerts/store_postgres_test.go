package alerts

import (
	"context"
	"testing"
)

// TestApplyTxInCallersTransaction: StateTx and ApplyTx work inside the
// caller's transaction (the evaluation job's Store.Update), and nothing of
// it stays when that transaction rolls back.
func TestApplyTxInCallersTransaction(t *testing.T) {
	t.Parallel()
	ts := storeMakers[1].make(t, 1)
	s := ts.Store.(*PostgresStore)
	ctx := context.Background()

	tx, err := s.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	done, err := ApplyTx(ctx, tx, []Transition{raise(1, KindWaitSLA, at(60))})
	if err != nil || len(done) != 1 {
		t.Fatalf("ApplyTx: %v, %v", done, err)
	}
	st, err := StateTx(ctx, tx, 1)
	if err != nil || len(st.Open) != 1 {
		t.Fatalf("StateTx in the same transaction: %+v, %v; want the new alert", st, err)
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	if st, err := s.State(ctx, 1); err != nil || len(st.Open) != 0 {
		t.Fatalf("after rollback: %+v, %v; want no alert", st, err)
	}

	tx, err = s.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ApplyTx(ctx, tx, []Transition{raise(1, KindWaitSLA, at(61))}); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if st, err := s.State(ctx, 1); err != nil || len(st.Open) != 1 || !st.Open[0].OpenedAt.Equal(at(61)) {
		t.Fatalf("after commit: %+v, %v; want the alert opened at minute 61", st, err)
	}
}
