package queue

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/puddle/v2"
)

// PostgresStore is the Store of a deployment: PostgreSQL, with the
// institution's row lock serialising every change to one queue, however many
// server instances share the database. The schema is in ../migrations.
type PostgresStore struct {
	pool   *pgxpool.Pool
	outbox Outbox // nil: no deliveries (outbox.go)
}

var _ Store = (*PostgresStore)(nil)

// NewPostgresStore returns a PostgresStore over pool, whose schema must be
// migrated.
func NewPostgresStore(pool *pgxpool.Pool) *PostgresStore {
	return &PostgresStore{pool: pool}
}

// inTx runs fn in a transaction and commits when it returns nil. Errors of
// fn are returned as they are: fn translates its own.
func (s *PostgresStore) inTx(ctx context.Context, what string, fn func(tx pgx.Tx) error) error {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return translate(err, what+": begin")
	}
	// After a commit this is a no-op. WithoutCancel: a cancelled request must
	// still give its connection back clean.
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	if err := fn(tx); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) {
			return translate(err, what+": commit") // the server answered: rolled back
		}
		// Sent, and no answer: it may have been saved.
		return &dbError{err: Errorf(CodeUnavailable, "the database did not confirm the change; it may or may not have been saved"),
			cause: fmt.Errorf("%s: commit: %w: %w", what, ErrOutcomeUnknown, err)}
	}
	return nil
}

const instColumns = `id, name, kind, address, status, capacity, now_serving, last_issued,
	waiting_count, recent_calls, call_interval_ns, last_call_at, version, created_at, updated_at,
	services, counters, priority_run, settings, day_state,
	stall_minutes, wait_sla_minutes, escalation_minutes`

const ticketColumns = `id, institution_id, number, status, phone, near_turn_threshold, counter,
	issued_at, called_at, checked_in_at, completed_at, deadline_at, updated_at,
	service, label, priority, place, source, requeues, defers, moved`

// lockInstitutionSQL takes the institution's row lock: every change of an
// institution's queue (numbers above all) happens under it, one at a time.
const lockInstitutionSQL = `SELECT ` + instColumns + ` FROM institutions WHERE id = $1 FOR UPDATE`

// Update implements Store.
func (s *PostgresStore) Update(ctx context.Context, id int64, fn func(ctx context.Context, tx Tx) (Changes, error)) (Changes, error) {
	var out Changes
	what := fmt.Sprintf("update institution %d", id)
	err := s.inTx(ctx, what, func(tx pgx.Tx) error {
		locked, err := lockInstitution(ctx, tx, id) // with ctx's lookAhead (lookahead.go)
		if errors.Is(err, pgx.ErrNoRows) {
			return notFoundInst(id)
		}
		if err != nil {
			return translate(err, what+": lock")
		}
		ch, err := fn(ctx, locked)
		if err != nil {
			return err
		}
		enqueue, err := applyChanges(ctx, tx, id, &ch, s.outbox)
		if err != nil {
			return translate(err, what+": apply changes")
		}
		if enqueue != nil {
			if err := enqueue(ctx, tx); err != nil {
				return translate(err, what+": enqueue deliveries")
			}
		}
		out = ch
		return nil
	})
	if err != nil {
		return Changes{}, err
	}
	return out, nil
}

const updateInstitutionSQL = `UPDATE institutions SET name = $2, kind = $3, address = $4, status = $5,
	capacity = $6, now_serving = $7, last_issued = $8, waiting_count = $9, recent_calls = $10,
	call_interval_ns = $11, last_call_at = $12, version = $13, updated_at = $14,
	services = $15, counters = $16, priority_run = $17, settings = $18, day_state = $19,
	stall_minutes = $20, wait_sla_minutes = $21, escalation_minutes = $22
	WHERE id = $1`

// updateDayStateSQL writes the day job's state alone: no new version.
const updateDayStateSQL = `UPDATE institutions SET day_state = $2 WHERE id = $1`

// Tickets are written with unnest: one statement per kind of change,
// however many tickets a batch of joins or an advance touches.
const insertTicketsSQL = `INSERT INTO tickets (` + ticketColumns + `, estimate_at_join_seconds)
	SELECT t.id, $1, NULLIF(t.number, 0), t.status, t.phone, t.near_turn_threshold, t.counter,
		t.issued_at, t.called_at, t.checked_in_at, t.completed_at, t.deadline_at, t.updated_at,
		t.service, t.label, t.priority, t.place, t.source, t.requeues, t.defers, t.moved,
		t.estimate_at_join_seconds
	FROM unnest($2::uuid[], $3::bigint[], $4::text[], $5::text[], $6::integer[], $7::text[],
		$8::timestamptz[], $9::timestamptz[], $10::timestamptz[], $11::timestamptz[],
		$12::timestamptz[], $13::timestamptz[],
		$14::text[], $15::text[], $16::text[], $17::timestamptz[], $18::text[],
		$19::smallint[], $20::smallint[], $21::text[], $22::integer[])
		AS t(id, number, status, phone, near_turn_threshold, counter,
			issued_at, called_at, checked_in_at, completed_at, deadline_at, updated_at,
			service, label, priority, place, source, requeues, defers, moved,
			estimate_at_join_seconds)`

const updateTicketsSQL = `UPDATE tickets AS t SET status = u.status, phone = u.phone,
		near_turn_threshold = u.near_turn_threshold, counter = u.counter, called_at = u.called_at,
		checked_in_at = u.checked_in_at, completed_at = u.completed_at, deadline_at = u.deadline_at,
		updated_at = u.updated_at, service = u.service, label = u.label, priority = u.priority, place = u.place,
		requeues = u.requeues, defers = u.defers, moved = u.moved, number = NULLIF(u.number, 0)
	FROM unnest($2::uuid[], $3::text[], $4::text[], $5::integer[], $6::text[],
		$7::timestamptz[], $8::timestamptz[], $9::timestamptz[], $10::timestamptz[], $11::timestamptz[],
		$12::text[], $13::text[], $14::text[], $15::timestamptz[],
		$16::smallint[], $17::smallint[], $18::text[], $19::bigint[])
		AS u(id, status, phone, near_turn_threshold, counter,
			called_at, checked_in_at, completed_at, deadline_at, updated_at,
			service, label, priority, place, requeues, defers, moved, number)
	WHERE t.id = u.id AND t.institution_id = $1`

// Rows are inserted in ORDER BY ord, so the ids the sequence hands out rise
// in the order of the slice: the sorted RETURNING ids map back one to one.
const insertNotificationsSQL = `INSERT INTO notifications (ticket_id, event, message, created_at)
	SELECT n.ticket_id, n.event, n.message, n.created_at
	FROM unnest($1::uuid[], $2::text[], $3::text[], $4::timestamptz[])
		WITH ORDINALITY AS n(ticket_id, event, message, created_at, ord)
	ORDER BY n.ord
	RETURNING id`

const insertEventsSQL = `INSERT INTO events (institution_id, at, kind, ticket_id, number, actor, request_id, data)
	SELECT $1, e.at, e.kind, e.ticket_id, e.number, e.actor, e.request_id, e.data
	FROM unnest($2::timestamptz[], $3::text[], $4::uuid[], $5::bigint[], $6::text[], $7::text[], $8::jsonb[])
		WITH ORDINALITY AS e(at, kind, ticket_id, number, actor, request_id, data, ord)
	ORDER BY e.ord
	RETURNING id`

// The service looked every key up under the institution's lock, so a
// conflict can only be a key past its window, which the new join takes over.
const insertKeysSQL = `INSERT INTO idempotency_keys (institution_id, key, ticket_id, created_at)
	SELECT $1, k.key, k.ticket_id, k.created_at
	FROM unnest($2::text[], $3::uuid[], $4::timestamptz[]) AS k(key, ticket_id, created_at)
	ON CONFLICT (institution_id, key) DO UPDATE
		SET ticket_id = excluded.ticket_id, created_at = excluded.created_at
		WHERE idempotency_keys.created_at < excluded.created_at - $5::interval`

// applyChanges writes ch in one pipeline, with the reads outbox queues on
// it (outbox.go), and returns what to call to enqueue the change's
// deliveries (nil: nothing to enqueue). The ids the writes assign are
// filled in when the pipeline has run, so the deliveries are built after.
func applyChanges(ctx context.Context, tx pgx.Tx, id int64, ch *Changes, outbox Outbox) (func(ctx context.Context, tx pgx.Tx) error, error) {
	if ch.empty() {
		return nil, nil
	}
	b := &pgx.Batch{}
	if inst := ch.Institution; inst != nil {
		calls := inst.RecentCalls
		if calls == nil {
			calls = []Call{}
		}
		lines, counters := lineColumns(inst)
		b.Queue(updateInstitutionSQL, id, inst.Name, string(inst.Kind), inst.Address, string(inst.Status),
			inst.Capacity, inst.NowServing, inst.LastIssued, inst.WaitingCount, calls,
			int64(inst.CallInterval), inst.LastCallAt, inst.Version, inst.UpdatedAt,
			lines, counters, inst.PriorityRun, inst.Settings, inst.Day,
			inst.StallMinutes, inst.WaitSLAMinutes, inst.EscalationMinutes)
	} else if ch.DayState != nil {
		b.Queue(updateDayStateSQL, id, *ch.DayState)
	}
	if len(ch.Inserted) > 0 {
		for i := range ch.Inserted {
			ch.Inserted[i].InstitutionID = id
		}
		c := ticketColumnsOf(ch.Inserted)
		b.Queue(insertTicketsSQL, id, c.ids, c.numbers, c.statuses, c.phones, c.thresholds, c.counters,
			c.issued, c.called, c.checkedIn, c.completed, c.deadlines, c.updated,
			c.services, c.labels, c.priorities, c.places, c.sources, c.requeues, c.defers, c.moved,
			joinEstimates(ch.Inserted))
	}
	if len(ch.Updated) > 0 {
		// UPDATE ... FROM applies one row per ticket: keep the last state of
		// a ticket listed twice, as applying them in order would.
		last := map[string]int{}
		for i, t := range ch.Updated {
			last[t.ID] = i
		}
		var list []Ticket
		for i, t := range ch.Updated {
			if last[t.ID] == i {
				list = append(list, t)
			}
		}
		c := ticketColumnsOf(list)
		b.Queue(updateTicketsSQL, id, c.ids, c.statuses, c.phones, c.thresholds, c.counters,
			c.called, c.checkedIn, c.completed, c.deadlines, c.updated,
			c.services, c.labels, c.priorities, c.places, c.requeues, c.defers, c.moved, c.numbers).Exec(func(ct pgconn.CommandTag) error {
			if n := ct.RowsAffected(); n != int64(len(list)) {
				return Errorf(CodeInternal, "%d of %d updated tickets are not tickets of institution %d", int64(len(list))-n, len(list), id)
			}
			return nil
		})
	}
	if len(ch.Notifications) > 0 {
		n := len(ch.Notifications)
		ticketIDs, events, messages, created := make([]string, n), make([]string, n), make([]string, n), make([]time.Time, n)
		for i, x := range ch.Notifications {
			ticketIDs[i], events[i], messages[i], created[i] = x.TicketID, x.Event, x.Message, x.CreatedAt
		}
		b.Queue(insertNotificationsSQL, ticketIDs, events, messages, created).Query(func(rows pgx.Rows) error {
			return fillIDs(rows, n, func(i int, id int64) { ch.Notifications[i].ID = id })
		})
	}
	if len(ch.Audit) > 0 {
		for i := range ch.Audit {
			ch.Audit[i].InstitutionID = id
		}
		queueAudit(b, id, ch.Audit)
	}
	if len(ch.IdempotencyKeys) > 0 {
		n := len(ch.IdempotencyKeys)
		keys, ticketIDs, created := make([]string, n), make([]string, n), make([]time.Time, n)
		for i, k := range ch.IdempotencyKeys {
			keys[i], ticketIDs[i], created[i] = k.Key, k.TicketID, k.CreatedAt
		}
		b.Queue(insertKeysSQL, id, keys, ticketIDs, created, IdempotencyWindow).Exec(func(ct pgconn.CommandTag) error {
			if ct.RowsAffected() != int64(n) {
				return Errorf(CodeInternal, "an idempotency key of institution %d is still in its window", id)
			}
			return nil
		})
	}
	var enqueue func(ctx context.Context, tx pgx.Tx) error
	if outbox != nil {
		enqueue = queueOutbox(outbox, b, ch)
	}
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return nil, err
	}
	return enqueue, nil
}

// queueAudit queues the insert of evs for institution id, filling in their
// ids when the batch runs.
func queueAudit(b *pgx.Batch, id int64, evs []AuditEvent) {
	n := len(evs)
	at, kinds, ticketIDs, numbers := make([]time.Time, n), make([]string, n), make([]*string, n), make([]*int64, n)
	actors, requestIDs, data := make([]string, n), make([]string, n), make([]json.RawMessage, n)
	for i, e := range evs {
		at[i], kinds[i], ticketIDs[i], numbers[i] = e.At, e.Kind, e.TicketID, e.Number
		actors[i], requestIDs[i], data[i] = e.Actor, e.RequestID, e.Data
		if len(data[i]) == 0 {
			data[i] = json.RawMessage("{}")
		}
	}
	b.Queue(insertEventsSQL, id, at, kinds, ticketIDs, numbers, actors, requestIDs, data).Query(func(rows pgx.Rows) error {
		return fillIDs(rows, n, func(i int, id int64) { evs[i].ID = id })
	})
}

// fillIDs reads n ids from RETURNING id and hands them out in rising order.
func fillIDs(rows pgx.Rows, n int, set func(i int, id int64)) error {
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return err
	}
	if len(ids) != n {
		return Errorf(CodeInternal, "inserted %d rows, expected %d", len(ids), n)
	}
	slices.Sort(ids)
	for i, id := range ids {
		set(i, id)
	}
	return nil
}

// ticketArrays are tickets turned into one array per column, for unnest.
type ticketArrays struct {
	ids, statuses                           []string
	services, labels, sources               []string
	priorities                              []*string
	places                                  []time.Time
	requeues, defers                        []int16
	moved                                   []*string
	numbers                                 []int64
	phones, counters                        []*string
	thresholds                              []int32
	issued, updated                         []time.Time
	called, checkedIn, completed, deadlines []*time.Time
}

func ticketColumnsOf(ts []Ticket) ticketArrays {
	n := len(ts)
	c := ticketArrays{
		ids: make([]string, n), statuses: make([]string, n), numbers: make([]int64, n),
		phones: make([]*string, n), counters: make([]*string, n), thresholds: make([]int32, n),
		issued: make([]time.Time, n), updated: make([]time.Time, n),
		called: make([]*time.Time, n), checkedIn: make([]*time.Time, n),
		completed: make([]*time.Time, n), deadlines: make([]*time.Time, n),
		services: make([]string, n), labels: make([]string, n), sources: make([]string, n),
		priorities: make([]*string, n), places: make([]time.Time, n),
		requeues: make([]int16, n), defers: make([]int16, n), moved: make([]*string, n),
	}
	for i, t := range ts {
		c.ids[i], c.statuses[i], c.numbers[i] = t.ID, string(t.Status), t.Number
		c.phones[i], c.counters[i], c.thresholds[i] = t.Phone, t.Counter, int32(t.NearTurnThreshold)
		c.issued[i], c.updated[i] = t.IssuedAt, t.UpdatedAt
		c.called[i], c.checkedIn[i], c.completed[i], c.deadlines[i] = t.CalledAt, t.CheckedInAt, t.CompletedAt, t.Deadline
		c.services[i], c.labels[i], c.sources[i], c.places[i] = t.Service, t.Label, t.Source, placeOf(&t)
		c.requeues[i], c.defers[i] = int16(t.Requeues), int16(t.Defers)
		if t.Moved != "" {
			m := t.Moved
			c.moved[i] = &m
		}
		if c.services[i] == "" {
			c.services[i] = DefaultLineCode
		}
		if c.sources[i] == "" {
			c.sources[i] = SourcePhone
		}
		if t.Priority != nil {
			p := string(*t.Priority)
			c.priorities[i] = &p
		}
	}
	return c
}

const insertInstitutionSQL = `INSERT INTO institutions (name, kind, address, status, capacity,
		now_serving, last_issued, waiting_count, recent_calls, call_interval_ns, last_call_at,
		version, created_at, updated_at, services, counters, priority_run, settings, day_state,
		stall_minutes, wait_sla_minutes, escalation_minutes)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22)
	RETURNING id`

// CreateInstitution implements Store.
func (s *PostgresStore) CreateInstitution(ctx context.Context, inst Institution, ev AuditEvent) (Institution, error) {
	const what = "create institution"
	defaultThresholds(&inst)
	err := s.inTx(ctx, what, func(tx pgx.Tx) error {
		calls := inst.RecentCalls
		if calls == nil {
			calls = []Call{}
		}
		lines, counters := lineColumns(&inst)
		err := tx.QueryRow(ctx, insertInstitutionSQL, inst.Name, string(inst.Kind), inst.Address, string(inst.Status),
			inst.Capacity, inst.NowServing, inst.LastIssued, inst.WaitingCount, calls, int64(inst.CallInterval),
			inst.LastCallAt, inst.Version, inst.CreatedAt, inst.UpdatedAt, lines, counters, inst.PriorityRun, inst.Settings, inst.Day,
			inst.StallMinutes, inst.WaitSLAMinutes, inst.EscalationMinutes).Scan(&inst.ID)
		if err != nil {
			return translate(err, what)
		}
		ev.InstitutionID = inst.ID
		evs := []AuditEvent{ev}
		b := &pgx.Batch{}
		queueAudit(b, inst.ID, evs)
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			return translate(err, what+": audit")
		}
		return nil
	})
	if err != nil {
		return Institution{}, err
	}
	return inst, nil
}

// Institutions implements Store.
func (s *PostgresStore) Institutions(ctx context.Context) ([]Institution, error) {
	rows, _ := s.pool.Query(ctx, `SELECT `+instColumns+` FROM institutions ORDER BY id`)
	list, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Institution, error) { return scanInstitution(row) })
	if err != nil {
		return nil, translate(err, "list institutions")
	}
	return list, nil
}

// Institution implements Store.
func (s *PostgresStore) Institution(ctx context.Context, id int64) (Institution, error) {
	inst, err := scanInstitution(s.pool.QueryRow(ctx, `SELECT `+instColumns+` FROM institutions WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return Institution{}, notFoundInst(id)
	}
	if err != nil {
		return Institution{}, translate(err, fmt.Sprintf("read institution %d", id))
	}
	return inst, nil
}

// Ticket implements Store.
func (s *PostgresStore) Ticket(ctx context.Context, id string) (Ticket, error) {
	return readTicket(ctx, s.pool, `SELECT `+ticketColumns+` FROM tickets WHERE id = $1`, id)
}

// querier is what reads need of a pool or a transaction.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// readTicket runs query, whose first argument is the ticket id, for one ticket.
func readTicket(ctx context.Context, q querier, query, id string, args ...any) (Ticket, error) {
	// Ids come from URLs: one that is not a UUID names no ticket, and must
	// not reach the database as a malformed uuid.
	if _, err := uuid.Parse(id); err != nil {
		return Ticket{}, notFoundTicket()
	}
	rows, _ := q.Query(ctx, query, append([]any{id}, args...)...)
	t, err := pgx.CollectExactlyOneRow(rows, scanTicket)
	if errors.Is(err, pgx.ErrNoRows) {
		return Ticket{}, notFoundTicket()
	}
	if err != nil {
		return Ticket{}, translate(err, "read ticket "+id)
	}
	return t, nil
}

// waitingBeforeSQL repeats the predicate of tickets_waiting_idx, so the count
// is an index-only scan of the queue, not of the institution's history.
const waitingBeforeSQL = `SELECT count(*) FROM tickets
	WHERE institution_id = $1 AND status IN ('waiting', 'notified') AND number < $2`

// WaitingBefore implements Store.
func (s *PostgresStore) WaitingBefore(ctx context.Context, institutionID, number int64) (int64, error) {
	var n int64
	if err := s.pool.QueryRow(ctx, waitingBeforeSQL, institutionID, number).Scan(&n); err != nil {
		return 0, translate(err, fmt.Sprintf("count waiting tickets of institution %d", institutionID))
	}
	return n, nil
}

// Tickets implements Store.
func (s *PostgresStore) Tickets(ctx context.Context, institutionID int64, statuses []TicketStatus, after int64, limit int) ([]Ticket, error) {
	sts := make([]string, len(statuses))
	for i, st := range statuses {
		sts[i] = string(st)
	}
	rows, _ := s.pool.Query(ctx, `SELECT `+ticketColumns+` FROM tickets
		WHERE institution_id = $1 AND status = ANY($2) AND number > $3
		ORDER BY number LIMIT $4`, institutionID, sts, after, max(limit, 0))
	return collectTickets(rows, fmt.Sprintf("list tickets of institution %d", institutionID))
}

// WaitingNumbers implements Store.
func (s *PostgresStore) WaitingNumbers(ctx context.Context, institutionID int64) ([]int64, error) {
	rows, _ := s.pool.Query(ctx, `SELECT number FROM tickets
		WHERE institution_id = $1 AND status IN ('waiting', 'notified') ORDER BY number`, institutionID)
	list, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, translate(err, fmt.Sprintf("list waiting numbers of institution %d", institutionID))
	}
	return list, nil
}

// Notifications implements Store.
func (s *PostgresStore) Notifications(ctx context.Context, ticketID string) ([]Notification, error) {
	if _, err := uuid.Parse(ticketID); err != nil {
		return []Notification{}, nil
	}
	rows, _ := s.pool.Query(ctx, `SELECT id, ticket_id, event, message, created_at FROM notifications
		WHERE ticket_id = $1 ORDER BY id`, ticketID)
	list, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Notification, error) {
		var n Notification
		err := row.Scan(&n.ID, &n.TicketID, &n.Event, &n.Message, &n.CreatedAt)
		n.CreatedAt = n.CreatedAt.UTC()
		return n, err
	})
	if err != nil {
		return nil, translate(err, "list notifications of ticket "+ticketID)
	}
	return list, nil
}

// Events implements Store.
func (s *PostgresStore) Events(ctx context.Context, institutionID, after int64, limit int) ([]AuditEvent, error) {
	rows, _ := s.pool.Query(ctx, `SELECT id, institution_id, at, kind, ticket_id, number, actor, request_id, data
		FROM events WHERE institution_id = $1 AND id > $2 ORDER BY id LIMIT $3`, institutionID, after, max(limit, 0))
	return collectEvents(rows, fmt.Sprintf("list events of institution %d", institutionID))
}

// CallEvents implements Store.
func (s *PostgresStore) CallEvents(ctx context.Context, institutionID int64, from, to time.Time, after int64, limit int) ([]AuditEvent, error) {
	rows, _ := s.pool.Query(ctx, `SELECT id, institution_id, at, kind, ticket_id, number, actor, request_id, data
		FROM events WHERE institution_id = $1 AND kind IN ('ticket.called', 'ticket.recalled')
			AND at >= $2 AND at < $3 AND id > $4
		ORDER BY id LIMIT $5`, institutionID, from, to, after, max(limit, 0))
	return collectEvents(rows, fmt.Sprintf("list calls of institution %d", institutionID))
}

func collectEvents(rows pgx.Rows, what string) ([]AuditEvent, error) {
	list, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (AuditEvent, error) {
		var e AuditEvent
		var data []byte
		if err := row.Scan(&e.ID, &e.InstitutionID, &e.At, &e.Kind, &e.TicketID, &e.Number, &e.Actor, &e.RequestID, &data); err != nil {
			return e, err
		}
		e.At = e.At.UTC()
		// jsonb prints with spaces; give back the compact form Go writes.
		var buf bytes.Buffer
		if err := json.Compact(&buf, data); err != nil {
			return e, err
		}
		e.Data = buf.Bytes()
		return e, nil
	})
	if err != nil {
		return nil, translate(err, what)
	}
	return list, nil
}

// DueExpiries implements Store. It reads tickets_due_idx, which holds only
// serving tickets that have not checked in.
func (s *PostgresStore) DueExpiries(ctx context.Context, now time.Time) ([]int64, error) {
	rows, _ := s.pool.Query(ctx, `SELECT DISTINCT institution_id FROM tickets
		WHERE status = 'serving' AND checked_in_at IS NULL AND deadline_at <= $1
		ORDER BY institution_id`, now)
	list, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, translate(err, "list institutions with expired tickets")
	}
	return list, nil
}

// PurgeIdempotencyKeys implements Store.
func (s *PostgresStore) PurgeIdempotencyKeys(ctx context.Context, cutoff time.Time) error {
	if _, err := s.pool.Exec(ctx, `DELETE FROM idempotency_keys WHERE created_at < $1`, cutoff); err != nil {
		return translate(err, "purge idempotency keys")
	}
	return nil
}

// WaitingPlaces implements Store.
func (s *PostgresStore) WaitingPlaces(ctx context.Context, institutionID int64) ([]Waiter, error) {
	rows, _ := s.pool.Query(ctx, `SELECT id, number, service, place, priority IS NOT NULL FROM tickets
		WHERE institution_id = $1 AND status IN ('waiting', 'notified') ORDER BY number`, institutionID)
	list, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Waiter, error) {
		var w Waiter
		err := row.Scan(&w.ID, &w.Number, &w.Service, &w.Place, &w.Priority)
		w.Place = w.Place.UTC()
		return w, err
	})
	if err != nil {
		return nil, translate(err, fmt.Sprintf("list waiting tickets of institution %d", institutionID))
	}
	return list, nil
}

// laneRankSQL counts, in tickets_queue_idx, the tickets ahead of one in its
// lane ($3 set) or its line ($3 null).
const laneRankSQL = `SELECT count(*) FROM tickets
	WHERE institution_id = $1 AND status IN ('waiting', 'notified') AND service = $2
		AND ($3::boolean IS NULL OR (priority IS NOT NULL) = $3)
		AND (place, number) < ($4, $5)`

// LaneRank implements Store.
func (s *PostgresStore) LaneRank(ctx context.Context, t Ticket, lane bool) (int64, error) {
	return laneRank(ctx, s.pool, t, lane)
}

func (t *pgTx) LaneRank(ctx context.Context, tk Ticket, lane bool) (int64, error) {
	return laneRank(ctx, t.tx, tk, lane)
}

func laneRank(ctx context.Context, q interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}, t Ticket, lane bool) (int64, error) {
	var pri *bool
	if lane {
		p := t.Priority != nil
		pri = &p
	}
	var n int64
	if err := q.QueryRow(ctx, laneRankSQL, t.InstitutionID, t.Service, pri, placeOf(&t), t.Number).Scan(&n); err != nil {
		return 0, translate(err, fmt.Sprintf("rank ticket %d of institution %d", t.Number, t.InstitutionID))
	}
	return n, nil
}

// lineColumns are the JSON columns of an institution's lines and counters.
func lineColumns(inst *Institution) ([]LineRecord, []Counter) {
	counters := inst.Counters
	if counters == nil {
		counters = []Counter{}
	}
	return LineRecords(inst.Services), counters
}

// Ping implements Store.
func (s *PostgresStore) Ping(ctx context.Context) error {
	return translate(s.pool.Ping(ctx), "ping")
}

// pgTx reads inside Update's transaction.
type pgTx struct {
	tx    pgx.Tx
	inst  Institution
	ahead *aheadReads // read with the lock; nil: nothing was
}

func (t *pgTx) Institution() Institution { return cloneInst(&t.inst) }

func (t *pgTx) Ticket(ctx context.Context, id string) (Ticket, error) {
	return readTicket(ctx, t.tx, `SELECT `+ticketColumns+` FROM tickets WHERE id = $1 AND institution_id = $2`, id, t.inst.ID)
}

func (t *pgTx) Waiting(ctx context.Context, limit int) ([]Ticket, error) {
	rows, _ := t.tx.Query(ctx, `SELECT `+ticketColumns+` FROM tickets
		WHERE institution_id = $1 AND status IN ('waiting', 'notified')
		ORDER BY number LIMIT $2`, t.inst.ID, max(limit, 0))
	return collectTickets(rows, fmt.Sprintf("list waiting tickets of institution %d", t.inst.ID))
}

func (t *pgTx) Held(ctx context.Context) ([]Ticket, error) {
	rows, _ := t.tx.Query(ctx, `SELECT `+ticketColumns+` FROM tickets
		WHERE institution_id = $1 AND status = 'held' ORDER BY issued_at, id`, t.inst.ID)
	return collectTickets(rows, fmt.Sprintf("list held tickets of institution %d", t.inst.ID))
}

func (t *pgTx) Serving(ctx context.Context) ([]Ticket, error) {
	rows, _ := t.tx.Query(ctx, `SELECT `+ticketColumns+` FROM tickets
		WHERE institution_id = $1 AND status = 'serving' ORDER BY number`, t.inst.ID)
	return collectTickets(rows, fmt.Sprintf("list serving tickets of institution %d", t.inst.ID))
}

// lookUpMode runs a look-up under the institution's lock as an unnamed
// statement, which PostgreSQL plans for each run with its parameters and
// the table's current size. A statement pgx prepares (its default) may get
// a generic plan after five runs, costed with the table's statistics of that
// moment and kept until the next ANALYZE. A new deployment's first crowd
// grows tickets and idempotency_keys from a few rows to tens of thousands in
// seconds, faster than autovacuum analyzes them, and a generic plan made
// while they were small scans the institution's rows (or the whole table)
// instead of probing the index: the idempotency look-up took 5 ms at 10,000
// keys in the open-loop sweep (auto_explain; docs/BENCHMARKS.md), the phone
// look-up 30 ms at 8,000 waiting tickets. Writing the SQL differently does
// not help once the statistics say the table has one page. Only these
// look-ups pay for planning each run: planning every statement (the pool's
// plan_cache_mode=force_custom_plan) cost the crowd 12% of its joins/s, and
// 30% with phones, in a run side by side. TestLookUpsFollowTableGrowth.
const lookUpMode = pgx.QueryExecModeExec

// frontSQL reads the front of each lane of the lines $2 in
// tickets_queue_idx: one index scan per lane, LIMIT $3 each.
const frontSQL = `SELECT f.* FROM unnest($2::text[]) AS s(code)
	CROSS JOIN (VALUES (false), (true)) AS k(pri),
	LATERAL (SELECT ` + ticketColumns + ` FROM tickets
		WHERE institution_id = $1 AND status IN ('waiting', 'notified')
			AND service = s.code AND (priority IS NOT NULL) = k.pri
		ORDER BY place, number LIMIT $3) AS f`

func (t *pgTx) Front(ctx context.Context, codes []string, perLane int) ([]Ticket, error) {
	if codes == nil {
		for _, l := range t.inst.Services {
			codes = append(codes, l.Code)
		}
	}
	rows, _ := t.tx.Query(ctx, frontSQL, lookUpMode, t.inst.ID, codes, max(perLane, 0))
	return collectTickets(rows, fmt.Sprintf("read the front of the queue of institution %d", t.inst.ID))
}

// activePhonesSQL probes tickets_active_phone_key once per phone (run with
// lookUpMode: written as phone = ANY($2), a generic plan made while the
// table was small filtered every active ticket of the institution against
// the whole array, 30 ms for 8,000 waiting tickets under the lock). LIMIT 1
// keeps the planner from turning the lateral subquery into a join; the
// unique index holds at most one row per phone anyway.
const activePhonesSQL = `SELECT p.phone FROM unnest($2::text[]) AS p(phone),
	LATERAL (SELECT 1 FROM tickets
		WHERE institution_id = $1 AND phone = p.phone AND status IN ('held', 'waiting', 'notified', 'serving')
		LIMIT 1) AS t`

func (t *pgTx) ActivePhones(ctx context.Context, phones []string) (map[string]bool, error) {
	if held, ok := t.ahead.activePhones(phones); ok {
		return held, nil
	}
	rows, _ := t.tx.Query(ctx, activePhonesSQL, lookUpMode, t.inst.ID, phones)
	held := map[string]bool{}
	var phone string
	_, err := pgx.ForEachRow(rows, []any{&phone}, func() error {
		held[phone] = true
		return nil
	})
	if err != nil {
		return nil, translate(err, fmt.Sprintf("look up %d phones in institution %d", len(phones), t.inst.ID))
	}
	return held, nil
}

// idempotentTicketsSQL probes the primary key (institution_id, key) with the
// whole array (run with lookUpMode: see there).
const idempotentTicketsSQL = `SELECT key, ticket_id FROM idempotency_keys
	WHERE institution_id = $1 AND key = ANY($2::text[]) AND created_at >= $3`

func (t *pgTx) IdempotentTickets(ctx context.Context, keys []string, since time.Time) (map[string]string, error) {
	if issued, ok := t.ahead.idempotentTickets(keys, since); ok {
		return issued, nil
	}
	rows, _ := t.tx.Query(ctx, idempotentTicketsSQL, lookUpMode, t.inst.ID, keys, since)
	issued := map[string]string{}
	var key, id string
	_, err := pgx.ForEachRow(rows, []any{&key, &id}, func() error {
		issued[key] = id
		return nil
	})
	if err != nil {
		return nil, translate(err, fmt.Sprintf("look up %d idempotency keys in institution %d", len(keys), t.inst.ID))
	}
	return issued, nil
}

func scanInstitution(row pgx.Row) (Institution, error) {
	var inst Institution
	var kind, status string
	var intervalNS int64
	var lines []LineRecord
	err := row.Scan(&inst.ID, &inst.Name, &kind, &inst.Address, &status, &inst.Capacity, &inst.NowServing,
		&inst.LastIssued, &inst.WaitingCount, &inst.RecentCalls, &intervalNS, &inst.LastCallAt, &inst.Version,
		&inst.CreatedAt, &inst.UpdatedAt, &lines, &inst.Counters, &inst.PriorityRun, &inst.Settings, &inst.Day,
		&inst.StallMinutes, &inst.WaitSLAMinutes, &inst.EscalationMinutes)
	if err != nil {
		return Institution{}, err
	}
	// Empty lists read back as nil, as they went in; the service fills in
	// the default line of an institution stored without any.
	if len(lines) > 0 {
		inst.Services = LinesOf(lines)
	}
	if len(inst.Counters) == 0 {
		inst.Counters = nil
	}
	inst.Kind, inst.Status, inst.CallInterval = Kind(kind), Status(status), time.Duration(intervalNS)
	inst.CreatedAt, inst.UpdatedAt, inst.LastCallAt = inst.CreatedAt.UTC(), inst.UpdatedAt.UTC(), utc(inst.LastCallAt)
	for i := range inst.RecentCalls {
		inst.RecentCalls[i].CalledAt = inst.RecentCalls[i].CalledAt.UTC()
	}
	return inst, nil
}

func scanTicket(row pgx.CollectableRow) (Ticket, error) {
	var t Ticket
	var status string
	var priority, moved *string
	var requeues, defers int16
	var number *int64 // NULL while held
	err := row.Scan(&t.ID, &t.InstitutionID, &number, &status, &t.Phone, &t.NearTurnThreshold, &t.Counter,
		&t.IssuedAt, &t.CalledAt, &t.CheckedInAt, &t.CompletedAt, &t.Deadline, &t.UpdatedAt,
		&t.Service, &t.Label, &priority, &t.Place, &t.Source, &requeues, &defers, &moved)
	if err != nil {
		return Ticket{}, err
	}
	t.Status = TicketStatus(status)
	if number != nil {
		t.Number = *number
	}
	t.Place = t.Place.UTC()
	t.Requeues, t.Defers = int(requeues), int(defers)
	if moved != nil {
		t.Moved = *moved
	}
	if priority != nil {
		p := Priority(*priority)
		t.Priority = &p
	}
	t.IssuedAt, t.UpdatedAt = t.IssuedAt.UTC(), t.UpdatedAt.UTC()
	t.CalledAt, t.CheckedInAt, t.CompletedAt, t.Deadline = utc(t.CalledAt), utc(t.CheckedInAt), utc(t.CompletedAt), utc(t.Deadline)
	return t, nil
}

func collectTickets(rows pgx.Rows, what string) ([]Ticket, error) {
	list, err := pgx.CollectRows(rows, scanTicket)
	if err != nil {
		return nil, translate(err, what)
	}
	return list, nil
}

// utc returns t in UTC: pgx scans timestamptz in the local time zone.
func utc(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// Constraints whose violation has a meaning of its own (../migrations).
const (
	constraintActivePhone = "tickets_active_phone_key"
	constraintNumber      = "tickets_institution_number_key"
)

// TranslateDBError is translate for the other PostgreSQL stores of the
// project (tokens, webhooks), so that every store reports an unreachable
// database the same way.
func TranslateDBError(err error, what string) error { return translate(err, what) }

// translate turns a driver error into what callers of the Store may see: a
// domain *Error (unavailable, duplicate_ticket, internal) whose message is
// written for people, with the driver error kept behind it for logs; or,
// for anything unexpected, err wrapped with what. Domain errors pass through.
func translate(err error, what string) error {
	if err == nil {
		return nil
	}
	var domain *Error
	if errors.As(err, &domain) {
		return err
	}
	cause := fmt.Errorf("%s: %w", what, err)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23505" { // unique_violation
		switch pgErr.ConstraintName {
		case constraintActivePhone:
			return &dbError{err: Errorf(CodeDuplicateTicket, "this phone already holds an active ticket here"), cause: cause}
		case constraintNumber:
			// The institution lock makes this impossible: it is a bug.
			return &dbError{err: Errorf(CodeInternal, "a ticket number was about to be issued twice"), cause: cause}
		}
	}
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return &dbError{err: Errorf(CodeNotFound, "not found"), cause: cause}
	case errors.Is(err, context.Canceled):
		return &dbError{err: Errorf(CodeUnavailable, "the request was cancelled before the database answered"), cause: cause}
	case errors.Is(err, context.DeadlineExceeded) || pgconn.Timeout(err):
		return &dbError{err: Errorf(CodeUnavailable, "the database did not answer in time; please try again"), cause: cause}
	case unavailable(err):
		return &dbError{err: Errorf(CodeUnavailable, "the database is unavailable; please try again shortly"), cause: cause}
	}
	return cause
}

// unavailable reports whether err means the database cannot be reached or
// cannot serve right now, as opposed to a bug in a query.
func unavailable(err error) bool {
	var connectErr *pgconn.ConnectError
	if errors.As(err, &connectErr) {
		return true
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		class := pgErr.Code[:min(2, len(pgErr.Code))]
		switch {
		case class == "08", // connection exception
			class == "53", // insufficient resources: too many connections, disk full, out of memory
			class == "58", // system error, I/O error
			class == "57": // operator intervention: shutdown, statement_timeout, cancel
			return true
		}
		switch pgErr.Code {
		case "40001", "40P01", // serialization failure, deadlock: retry
			"55P03", // lock_timeout
			"25006": // read-only transaction: a failover left us on a replica
			return true
		}
		return false
	}
	var netErr net.Error
	return errors.As(err, &netErr) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) ||
		errors.Is(err, pgconn.ErrConnClosed) || errors.Is(err, puddle.ErrClosedPool) ||
		pgconn.SafeToRetry(err)
}

// dbError is a domain error caused by a driver error. errors.As finds the
// domain error, whose message (what ErrorCode returns, what clients see) is
// free of driver text; Error() appends the cause, for logs.
type dbError struct {
	err   *Error
	cause error
}

func (e *dbError) Error() string { return e.err.Error() + ": " + e.cause.Error() }

func (e *dbError) Unwrap() []error { return []error{e.err, e.cause} }
