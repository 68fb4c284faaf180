package queue

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
)

var errOutboxDown = errors.New("outbox down")

// fakeOutbox records the changes handed to it and fails every third one,
// after checking, for PostgreSQL, that the change is visible in the
// transaction it was given (it is the same transaction).
type fakeOutbox struct {
	t     *testing.T
	mu    sync.Mutex
	calls int
	ok    [][]int64 // audit ids of the changes it accepted
	fail  [][]int64 // ... and refused
}

func auditIDs(ch *Changes) []int64 {
	var ids []int64
	for _, a := range ch.Audit {
		ids = append(ids, a.ID)
	}
	return ids
}

func (o *fakeOutbox) decide(ch *Changes) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.calls++
	ids := auditIDs(ch)
	for _, id := range ids {
		if id <= 0 {
			o.t.Errorf("outbox got an audit event without its id: %v", ids)
		}
	}
	for _, n := range ch.Notifications {
		if n.ID <= 0 {
			o.t.Errorf("outbox got a notification without its id")
		}
	}
	if o.calls%3 == 0 {
		o.fail = append(o.fail, ids)
		return errOutboxDown
	}
	o.ok = append(o.ok, ids)
	return nil
}

func (o *fakeOutbox) EnqueueTx(ctx context.Context, tx pgx.Tx, ch *Changes) error {
	var n int
	if err := tx.QueryRow(ctx, `SELECT count(*) FROM events WHERE id = ANY($1)`, auditIDs(ch)).Scan(&n); err != nil {
		return err
	}
	if n != len(ch.Audit) {
		o.t.Errorf("outbox's transaction sees %d of the change's %d audit events: not the change's transaction", n, len(ch.Audit))
	}
	return o.decide(ch)
}

func (o *fakeOutbox) Enqueue(_ context.Context, ch *Changes) error { return o.decide(ch) }

// pipelinedFake is fakeOutbox as a PipelinedOutbox: its read is queued on
// the change's pipeline, and must see the change's audit events there (it
// runs after the writes, in their transaction).
type pipelinedFake struct {
	*fakeOutbox
}

// EnqueueTx is what the store must not call: it queues the reads instead.
func (o *pipelinedFake) EnqueueTx(context.Context, pgx.Tx, *Changes) error {
	o.t.Error("the PostgreSQL store called EnqueueTx of a pipelined outbox instead of queueing its reads")
	return nil
}

func (o *pipelinedFake) QueueReads(b *pgx.Batch, ch *Changes) func(ctx context.Context, tx pgx.Tx) error {
	var latest int64
	b.Queue(`SELECT coalesce(max(id), 0) FROM events`).QueryRow(func(r pgx.Row) error { return r.Scan(&latest) })
	return func(ctx context.Context, tx pgx.Tx) error {
		for _, id := range auditIDs(ch) {
			if id > latest {
				o.t.Errorf("the read queued on the change's pipeline saw events up to %d, not the change's %d", latest, id)
			}
		}
		return o.decide(ch)
	}
}

// An outbox that fails rolls the change back: in either store, a change is
// written with everything its outbox enqueued, or not at all; the same for
// an outbox that reads in the change's pipeline (queue.PipelinedOutbox),
// alone or among others.
func TestOutboxCommitsWithTheChange(t *testing.T) {
	t.Parallel()
	t.Run("plain", func(t *testing.T) {
		t.Parallel()
		outboxCommitsWithTheChange(t, func(t *testing.T) (Outbox, *fakeOutbox) {
			o := &fakeOutbox{t: t}
			return o, o
		})
	})
	t.Run("pipelined", func(t *testing.T) {
		t.Parallel()
		outboxCommitsWithTheChange(t, func(t *testing.T) (Outbox, *fakeOutbox) {
			o := &fakeOutbox{t: t}
			return Outboxes{&pipelinedFake{fakeOutbox: o}}, o
		})
	})
}

func outboxCommitsWithTheChange(t *testing.T, newOutbox func(t *testing.T) (Outbox, *fakeOutbox)) {
	eachStore(t, func(t *testing.T, h *harness) {
		inst := h.institution(Fields{})
		ob, o := newOutbox(t)
		switch st := h.svc.Store().(type) {
		case *MemoryStore:
			st.SetOutbox(ob)
		case *PostgresStore:
			st.SetOutbox(ob)
		default:
			t.Fatalf("store %T", st)
		}
		var joined, refused int
		for i := range 12 {
			_, err := h.svc.Join(h.ctx, inst.ID, JoinRequest{}, Meta{Actor: ActorCitizen})
			switch {
			case err == nil:
				joined++
			case errors.Is(err, errOutboxDown):
				refused++
			default:
				t.Fatalf("join %d: %v", i, err)
			}
		}
		if _, err := h.svc.Advance(h.ctx, inst.ID, AdvanceRequest{Count: 2}, Meta{Actor: "token:1"}); err != nil && !errors.Is(err, errOutboxDown) {
			t.Fatalf("advance: %v", err)
		}
		if joined == 0 || refused == 0 {
			t.Fatalf("%d joined, %d refused: want both", joined, refused)
		}
		if got := h.inst(inst.ID).LastIssued; got != int64(joined) {
			t.Errorf("last_issued %d, want %d: a refused join must not keep its number", got, joined)
		}
		evs, err := h.svc.Store().Events(h.ctx, inst.ID, 0, 500)
		if err != nil {
			t.Fatal(err)
		}
		have := map[int64]bool{}
		for _, e := range evs {
			have[e.ID] = true
		}
		o.mu.Lock()
		defer o.mu.Unlock()
		for _, ids := range o.ok {
			for _, id := range ids {
				if !have[id] {
					t.Errorf("audit event %d was enqueued and accepted, but is not in the store", id)
				}
			}
		}
		// PostgreSQL's sequences never hand a refused id out again: it
		// must be absent. Memory reuses them: both are checked by count.
		if _, pg := h.svc.Store().(*PostgresStore); pg {
			for _, ids := range o.fail {
				for _, id := range ids {
					if have[id] {
						t.Errorf("audit event %d of a refused change is in the store", id)
					}
				}
			}
		}
		var accepted int
		for _, ids := range o.ok {
			accepted += len(ids)
		}
		if created := 1; len(evs) != accepted+created {
			t.Errorf("%d audit events stored, want the %d of accepted changes and the creation", len(evs), accepted)
		}
	})
}
