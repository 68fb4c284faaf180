package queue

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
)

// lookAhead names, before a change takes the institution's lock, the reads
// it will make under it that need only the request: a batch of joins' phones
// (the duplicate-phone rule) and idempotency keys. PostgresStore.Update
// queues them right after the locked read of the institution, in the same
// pipeline, so that they cost no round trip of their own while the lock is
// held. Queued after the FOR UPDATE, each runs once the lock is taken and
// reads what the previous holder committed: what the separate reads saw,
// since nothing is written in between (Tx has no writes; only lock holders
// issue tickets and record keys). The memory store ignores it.
type lookAhead struct {
	phones, keys []string // distinct, sorted
}

type lookAheadKey struct{}

// withLookAhead tells the store, through ctx, what reqs will look up.
func withLookAhead(ctx context.Context, reqs []JoinRequest) context.Context {
	var la lookAhead
	for _, req := range reqs {
		if req.IdempotencyKey != "" {
			la.keys = append(la.keys, req.IdempotencyKey)
		}
		if req.Phone != nil {
			la.phones = append(la.phones, *req.Phone)
		}
	}
	if len(la.keys)+len(la.phones) == 0 {
		return ctx
	}
	la.keys, la.phones = distinct(la.keys), distinct(la.phones)
	return context.WithValue(ctx, lookAheadKey{}, &la)
}

func lookAheadOf(ctx context.Context) *lookAhead {
	la, _ := ctx.Value(lookAheadKey{}).(*lookAhead)
	return la
}

// keysAheadSQL is idempotentTicketsSQL without the window, which the caller
// of IdempotentTickets gives once under the lock: created_at is compared in
// Go, as PostgreSQL would have compared it.
const keysAheadSQL = `SELECT key, ticket_id, created_at FROM idempotency_keys
	WHERE institution_id = $1 AND key = ANY($2::text[])`

// aheadReads is what the reads queued after the lock returned.
type aheadReads struct {
	phones map[string]bool // asked -> holds an active ticket
	keys   map[string]bool // asked
	issued map[string]keyRow
}

type keyRow struct {
	ticketID string
	at       time.Time
}

// lockInstitution takes the institution's row lock and reads it, with the
// reads of ctx's lookAhead queued after it in one pipeline.
func lockInstitution(ctx context.Context, tx pgx.Tx, id int64) (*pgTx, error) {
	la := lookAheadOf(ctx)
	if la == nil {
		inst, err := scanInstitution(tx.QueryRow(ctx, lockInstitutionSQL, id))
		return &pgTx{tx: tx, inst: inst}, err
	}
	t := &pgTx{tx: tx, ahead: &aheadReads{}}
	b := &pgx.Batch{}
	b.Queue(lockInstitutionSQL, id).QueryRow(func(row pgx.Row) error {
		var err error
		t.inst, err = scanInstitution(row)
		return err
	})
	// The reads are planned for this run, as lookUpMode plans them when
	// they run alone: in a batch pgx prepares every statement.
	b.Queue(customPlansSQL)
	if len(la.phones) > 0 {
		a := t.ahead
		a.phones = make(map[string]bool, len(la.phones))
		b.Queue(activePhonesSQL, id, la.phones).Query(func(rows pgx.Rows) error {
			var phone string
			_, err := pgx.ForEachRow(rows, []any{&phone}, func() error {
				a.phones[phone] = true
				return nil
			})
			if err != nil {
				return err
			}
			for _, p := range la.phones {
				a.phones[p] = a.phones[p] // asked, held or not
			}
			return nil
		})
	}
	if len(la.keys) > 0 {
		a := t.ahead
		a.keys, a.issued = make(map[string]bool, len(la.keys)), map[string]keyRow{}
		for _, k := range la.keys {
			a.keys[k] = true
		}
		b.Queue(keysAheadSQL, id, la.keys).Query(func(rows pgx.Rows) error {
			var key, ticketID string
			var at time.Time
			_, err := pgx.ForEachRow(rows, []any{&key, &ticketID, &at}, func() error {
				a.issued[key] = keyRow{ticketID: ticketID, at: at}
				return nil
			})
			return err
		})
	}
	b.Queue(cachedPlansSQL)
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return nil, err
	}
	return t, nil
}

// customPlansSQL and cachedPlansSQL bracket the reads queued after the
// lock: PostgreSQL chooses a statement's plan when it binds it, in the
// pipeline's order, so the reads between them are planned for their run
// and the rest of the transaction goes back to the session's setting.
const (
	customPlansSQL = `SET LOCAL plan_cache_mode = force_custom_plan`
	cachedPlansSQL = `SET LOCAL plan_cache_mode TO DEFAULT`
)

// activePhones answers ActivePhones from the reads queued after the lock,
// when they asked about every one of phones.
func (a *aheadReads) activePhones(phones []string) (map[string]bool, bool) {
	if a == nil || a.phones == nil {
		return nil, false
	}
	held := map[string]bool{}
	for _, p := range phones {
		h, asked := a.phones[p]
		if !asked {
			return nil, false
		}
		if h {
			held[p] = true
		}
	}
	return held, true
}

// idempotentTickets answers IdempotentTickets likewise. PostgreSQL stores
// microseconds and pgx truncates a time to them: since is compared so.
func (a *aheadReads) idempotentTickets(keys []string, since time.Time) (map[string]string, bool) {
	if a == nil || a.keys == nil {
		return nil, false
	}
	since = since.Truncate(time.Microsecond)
	issued := map[string]string{}
	for _, k := range keys {
		if !a.keys[k] {
			return nil, false
		}
		if r, ok := a.issued[k]; ok && !r.at.Before(since) {
			issued[k] = r.ticketID
		}
	}
	return issued, true
}
