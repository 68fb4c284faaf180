package queue

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/queueless/queueless/internal/testenv"
	"github.com/queueless/queueless/migrations"
)

// newTestPostgresStore returns a PostgresStore on a fresh, migrated schema of
// its own, dropped when the test ends.
func newTestPostgresStore(t testing.TB) *PostgresStore {
	t.Helper()
	return NewPostgresStore(newTestPool(t, testenv.NewSchema(t)))
}

// newTestPostgresStoreOn returns a second PostgresStore on the schema of s,
// with a pool of its own, as another server instance would have.
func newTestPostgresStoreOn(t testing.TB, s *PostgresStore) *PostgresStore {
	t.Helper()
	return NewPostgresStore(newTestPool(t, s.pool.Config().ConnString()))
}

// newTestPool opens a pool on connString, migrates it and closes it when the
// test ends (before the schema is dropped: cleanups run last in, first out).
func newTestPool(t testing.TB, connString string) *pgxpool.Pool {
	t.Helper()
	ctx := context.Background()
	cfg, err := pgxpool.ParseConfig(connString)
	if err != nil {
		t.Fatalf("parse connection string: %v", err)
	}
	cfg.MaxConns = 8
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatalf("open pool: %v", err)
	}
	t.Cleanup(pool.Close)
	db := migrations.OpenDB(pool)
	defer db.Close()
	if err := migrations.Up(ctx, db); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	return pool
}

var pgNow = time.Date(2026, 11, 23, 8, 0, 0, 123456000, time.UTC)

func pgInstitution(t *testing.T, s *PostgresStore) Institution {
	t.Helper()
	inst, err := s.CreateInstitution(context.Background(),
		Institution{Name: "Test Office", Kind: "bank", Status: StatusOpen, Version: 1, RecentCalls: []Call{}, CreatedAt: pgNow, UpdatedAt: pgNow},
		AuditEvent{At: pgNow, Kind: AuditCreated, Actor: "token:1", Data: []byte(`{}`)})
	if err != nil {
		t.Fatalf("create institution: %v", err)
	}
	return inst
}

func pgTicket(instID, number int64, phone *string) Ticket {
	return Ticket{ID: uuid.NewString(), InstitutionID: instID, Number: number, Status: TicketWaiting,
		NearTurnThreshold: 3, Phone: phone, IssuedAt: pgNow, UpdatedAt: pgNow,
		Service: DefaultLineCode, Label: FormatLabel(DefaultLineCode, number), Source: SourcePhone, Place: pgNow}
}

// issue inserts tickets as a join would, bumping last_issued.
func issue(t *testing.T, s *PostgresStore, id int64, tickets ...Ticket) (Changes, error) {
	t.Helper()
	return s.Update(context.Background(), id, func(ctx context.Context, tx Tx) (Changes, error) {
		inst := tx.Institution()
		for _, tk := range tickets {
			inst.LastIssued = max(inst.LastIssued, tk.Number)
			inst.WaitingCount++
		}
		inst.Version++
		return Changes{Institution: &inst, Inserted: tickets}, nil
	})
}

func ptr[T any](v T) *T { return &v }

func TestPostgresRoundTrip(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newTestPostgresStore(t)
	inst := pgInstitution(t, s)

	called := pgNow.Add(time.Minute)
	tk := pgTicket(inst.ID, 1, ptr("09171234567"))
	tk.Status, tk.Counter, tk.CalledAt, tk.Deadline = TicketServing, ptr("3"), &called, ptr(called.Add(3*time.Minute))
	want := inst
	want.Capacity, want.LastIssued, want.NowServing, want.Version = ptr(int64(50)), 1, 1, 2
	want.RecentCalls = []Call{{Number: 1, Counter: ptr("3"), CalledAt: called}}
	want.CallInterval, want.LastCallAt, want.UpdatedAt = 1234567891*time.Nanosecond, &called, called
	if _, err := s.Update(ctx, inst.ID, func(ctx context.Context, tx Tx) (Changes, error) {
		return Changes{Institution: &want, Inserted: []Ticket{tk}}, nil
	}); err != nil {
		t.Fatalf("update: %v", err)
	}

	got, err := s.Institution(ctx, inst.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("institution read back:\n%+v\nwant\n%+v", got, want)
	}
	gotT, err := s.Ticket(ctx, tk.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(gotT, tk) {
		t.Errorf("ticket read back %+v, want %+v", gotT, tk)
	}
	for name, tm := range map[string]time.Time{"issued_at": gotT.IssuedAt, "deadline_at": *gotT.Deadline, "updated_at": got.UpdatedAt, "called_at": got.RecentCalls[0].CalledAt} {
		if tm.Location() != time.UTC || !strings.HasSuffix(tm.String(), "+0000 UTC") {
			t.Errorf("%s = %v, want UTC", name, tm)
		}
	}
	if gotT.IssuedAt != pgNow {
		t.Errorf("issued_at = %v, want %v to the microsecond", gotT.IssuedAt, pgNow)
	}

	for _, id := range []string{"not-a-uuid", uuid.NewString()} {
		if _, err := s.Ticket(ctx, id); !errors.Is(err, ErrNotFound) {
			t.Errorf("Ticket(%q) = %v, want not_found", id, err)
		}
	}
	if _, err := s.Institution(ctx, inst.ID+1000); !errors.Is(err, ErrNotFound) {
		t.Errorf("Institution(missing) = %v, want not_found", err)
	}
	if _, err := s.Update(ctx, inst.ID+1000, func(context.Context, Tx) (Changes, error) { return Changes{}, nil }); !errors.Is(err, ErrNotFound) {
		t.Errorf("Update(missing) = %v, want not_found", err)
	}
}

// A batch of hundreds of joins is one statement per table, and the ids the
// database assigns come back in the order of the changes.
func TestPostgresBatchIDsInOrder(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newTestPostgresStore(t)
	inst := pgInstitution(t, s)

	const n = 500
	var ch Changes
	for i := range n {
		tk := pgTicket(inst.ID, int64(i+1), nil)
		ch.Inserted = append(ch.Inserted, tk)
		ch.Notifications = append(ch.Notifications, Notification{TicketID: tk.ID, Event: NotifyNearTurn, Message: fmt.Sprint(i), CreatedAt: pgNow})
		ch.Audit = append(ch.Audit, AuditEvent{At: pgNow, Kind: AuditJoined, TicketID: &tk.ID, Number: &tk.Number, Actor: ActorCitizen, RequestID: fmt.Sprint(i), Data: []byte(`{"b": 1, "a": [2]}`)})
	}
	next := inst
	next.LastIssued, next.WaitingCount, next.Version = n, n, 2
	ch.Institution = &next
	applied, err := s.Update(ctx, inst.ID, func(context.Context, Tx) (Changes, error) { return ch, nil })
	if err != nil {
		t.Fatalf("update: %v", err)
	}
	for i := 1; i < n; i++ {
		if applied.Notifications[i].ID <= applied.Notifications[i-1].ID || applied.Audit[i].ID <= applied.Audit[i-1].ID {
			t.Fatalf("ids at %d not rising: notifications %d, %d; audit %d, %d", i,
				applied.Notifications[i-1].ID, applied.Notifications[i].ID, applied.Audit[i-1].ID, applied.Audit[i].ID)
		}
	}
	events, err := s.Events(ctx, inst.ID, 0, n+10)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(events), n+1; got != want {
		t.Fatalf("%d events, want %d", got, want)
	}
	for i, e := range events[1:] {
		if e.ID != applied.Audit[i].ID || e.RequestID != fmt.Sprint(i) || *e.Number != int64(i+1) || e.InstitutionID != inst.ID {
			t.Fatalf("event %d = %+v, want id %d, request %d", i, e, applied.Audit[i].ID, i)
		}
	}
	if got, want := string(events[1].Data), `{"a":[2],"b":1}`; got != want {
		t.Errorf("event data = %s, want %s", got, want)
	}
	page, err := s.Events(ctx, inst.ID, events[10].ID, 5)
	if err != nil || len(page) != 5 || page[0].ID != events[11].ID {
		t.Errorf("Events(after %d, 5) = %d events from %v (%v), want 5 from %d", events[10].ID, len(page), page, err, events[11].ID)
	}
	notes, err := s.Notifications(ctx, ch.Inserted[7].ID)
	if err != nil || len(notes) != 1 || notes[0].ID != applied.Notifications[7].ID || notes[0].Message != "7" {
		t.Errorf("Notifications(ticket 8) = %+v, %v, want the one with id %d", notes, err, applied.Notifications[7].ID)
	}
	nums, err := s.WaitingNumbers(ctx, inst.ID)
	if err != nil || len(nums) != n || nums[0] != 1 || nums[n-1] != n {
		t.Errorf("WaitingNumbers = %d numbers (%v), want 1..%d", len(nums), err, n)
	}
	ahead, err := s.WaitingBefore(ctx, inst.ID, 42)
	if err != nil || ahead != 41 {
		t.Errorf("WaitingBefore(42) = %d, %v, want 41", ahead, err)
	}
	list, err := s.Tickets(ctx, inst.ID, []TicketStatus{TicketWaiting}, 100, 3)
	if err != nil || len(list) != 3 || list[0].Number != 101 || list[2].Number != 103 {
		t.Errorf("Tickets(after 100, limit 3) = %v, %v, want 101..103", list, err)
	}
}

// The unique constraints hold even when the service's own checks are
// bypassed, and a failed Update writes nothing.
func TestPostgresUniqueBackstops(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newTestPostgresStore(t)
	inst := pgInstitution(t, s)
	phone := "09171234567"
	first := pgTicket(inst.ID, 1, &phone)
	if _, err := issue(t, s, inst.ID, first); err != nil {
		t.Fatalf("issue ticket 1: %v", err)
	}

	_, err := issue(t, s, inst.ID, pgTicket(inst.ID, 2, nil), pgTicket(inst.ID, 1, nil))
	if code, msg := ErrorCode(err); code != CodeInternal || err == nil {
		t.Errorf("issuing number 1 twice = %v (%s: %s), want an internal error", err, code, msg)
	}
	_, err = issue(t, s, inst.ID, pgTicket(inst.ID, 2, &phone))
	if !errors.Is(err, ErrDuplicateTicket) {
		t.Errorf("a second active ticket for a phone = %v, want duplicate_ticket", err)
	}
	if _, msg := ErrorCode(err); strings.Contains(msg, "SQLSTATE") || strings.Contains(msg, "tickets_") {
		t.Errorf("duplicate_ticket message %q has driver text", msg)
	}

	got, err := s.Institution(ctx, inst.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.LastIssued != 1 || got.Version != 2 {
		t.Errorf("after failed updates last_issued = %d, version = %d, want 1 and 2", got.LastIssued, got.Version)
	}
	if nums, _ := s.WaitingNumbers(ctx, inst.ID); len(nums) != 1 {
		t.Errorf("waiting numbers %v after failed updates, want [1]", nums)
	}

	// Once the first ticket is over, the phone may queue again.
	done := first
	done.Status = TicketCancelled
	if _, err := s.Update(ctx, inst.ID, func(context.Context, Tx) (Changes, error) {
		return Changes{Updated: []Ticket{done}}, nil
	}); err != nil {
		t.Fatalf("cancel: %v", err)
	}
	if _, err := issue(t, s, inst.ID, pgTicket(inst.ID, 2, &phone)); err != nil {
		t.Errorf("a phone whose ticket was cancelled joins again: %v", err)
	}

	// Updating a ticket that is not the institution's is a bug, not a no-op.
	other := pgInstitution(t, s)
	_, err = s.Update(ctx, other.ID, func(context.Context, Tx) (Changes, error) {
		return Changes{Updated: []Ticket{done}}, nil
	})
	if code, _ := ErrorCode(err); code != CodeInternal {
		t.Errorf("updating another institution's ticket = %v, want internal", err)
	}
}

func TestPostgresFailedUpdateWritesNothing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newTestPostgresStore(t)
	inst := pgInstitution(t, s)
	tk := pgTicket(inst.ID, 1, nil)

	refusal := Errorf(CodeQueueFull, "full")
	_, err := s.Update(ctx, inst.ID, func(ctx context.Context, tx Tx) (Changes, error) {
		if _, err := tx.Waiting(ctx, 5); err != nil {
			return Changes{}, err
		}
		next := tx.Institution()
		next.LastIssued, next.Version = 1, 2
		return Changes{Institution: &next, Inserted: []Ticket{tk},
			Audit: []AuditEvent{{At: pgNow, Kind: AuditJoined, Actor: ActorCitizen}}}, refusal
	})
	if err != refusal {
		t.Errorf("Update returned %v, want fn's error unchanged", err)
	}
	got, _ := s.Institution(ctx, inst.ID)
	if got.LastIssued != 0 || got.Version != 1 {
		t.Errorf("institution changed by a failed update: last_issued %d, version %d", got.LastIssued, got.Version)
	}
	if _, err := s.Ticket(ctx, tk.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("ticket of a failed update: %v, want not_found", err)
	}
	if evs, _ := s.Events(ctx, inst.ID, 0, 10); len(evs) != 1 {
		t.Errorf("%d events after a failed update, want only the creation", len(evs))
	}
}

func TestPostgresTxReads(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newTestPostgresStore(t)
	inst := pgInstitution(t, s)
	other := pgInstitution(t, s)
	phone := "09170000000"
	a, b, c := pgTicket(inst.ID, 1, &phone), pgTicket(inst.ID, 2, nil), pgTicket(inst.ID, 3, nil)
	b.Status, b.Deadline = TicketServing, ptr(pgNow.Add(time.Minute))
	// Phones that hold no active ticket here: one served, one elsewhere.
	served, elsewhere := "09170000001", "09170000002"
	d := pgTicket(inst.ID, 4, &served)
	d.Status, d.CompletedAt = TicketServed, ptr(pgNow)
	if _, err := issue(t, s, inst.ID, a, b, c, d); err != nil {
		t.Fatal(err)
	}
	if _, err := issue(t, s, other.ID, pgTicket(other.ID, 1, &elsewhere)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Update(ctx, inst.ID, func(context.Context, Tx) (Changes, error) {
		return Changes{IdempotencyKeys: []IdempotencyKey{{InstitutionID: inst.ID, Key: "k1", TicketID: a.ID, CreatedAt: pgNow}}}, nil
	}); err != nil {
		t.Fatal(err)
	}

	_, err := s.Update(ctx, inst.ID, func(ctx context.Context, tx Tx) (Changes, error) {
		if got := tx.Institution(); got.ID != inst.ID || got.LastIssued != 4 {
			t.Errorf("tx.Institution() = %+v", got)
		}
		if got, err := tx.Ticket(ctx, c.ID); err != nil || got.Number != 3 {
			t.Errorf("tx.Ticket = %+v, %v", got, err)
		}
		if _, err := tx.Ticket(ctx, "nope"); !errors.Is(err, ErrNotFound) {
			t.Errorf("tx.Ticket(malformed) = %v, want not_found", err)
		}
		if w, err := tx.Waiting(ctx, 10); err != nil || len(w) != 2 || w[0].Number != 1 || w[1].Number != 3 {
			t.Errorf("tx.Waiting = %v, %v, want 1 and 3", w, err)
		}
		if w, err := tx.Serving(ctx); err != nil || len(w) != 1 || w[0].ID != b.ID {
			t.Errorf("tx.Serving = %v, %v, want ticket 2", w, err)
		}
		if held, err := tx.ActivePhones(ctx, []string{phone, served, elsewhere, "09179999999"}); err != nil || !reflect.DeepEqual(held, map[string]bool{phone: true}) {
			t.Errorf("ActivePhones(held, served, elsewhere, free) = %v, %v, want only %s", held, err, phone)
		}
		if held, err := tx.ActivePhones(ctx, nil); err != nil || len(held) != 0 {
			t.Errorf("ActivePhones(none) = %v, %v, want none", held, err)
		}
		if got, err := tx.IdempotentTickets(ctx, []string{"k1", "k2"}, pgNow.Add(-time.Hour)); err != nil || !reflect.DeepEqual(got, map[string]string{"k1": a.ID}) {
			t.Errorf("IdempotentTickets(k1, k2) = %v, %v, want k1: %s", got, err, a.ID)
		}
		if got, err := tx.IdempotentTickets(ctx, []string{"k1"}, pgNow.Add(time.Second)); err != nil || len(got) != 0 {
			t.Errorf("IdempotentTickets(k1 before since) = %v, %v, want none", got, err)
		}
		return Changes{}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// A ticket of another institution is not found under this one's lock.
	_, err = s.Update(ctx, other.ID, func(ctx context.Context, tx Tx) (Changes, error) {
		_, err := tx.Ticket(ctx, a.ID)
		return Changes{}, err
	})
	if !errors.Is(err, ErrNotFound) {
		t.Errorf("tx.Ticket of another institution = %v, want not_found", err)
	}

	// A key still in its window cannot be taken over; one past it can.
	rekey := func(at time.Time) error {
		_, err := s.Update(ctx, inst.ID, func(context.Context, Tx) (Changes, error) {
			return Changes{IdempotencyKeys: []IdempotencyKey{{InstitutionID: inst.ID, Key: "k1", TicketID: c.ID, CreatedAt: at}}}, nil
		})
		return err
	}
	if err := rekey(pgNow.Add(time.Hour)); err == nil {
		t.Errorf("reusing a key within its window succeeded")
	}
	if err := rekey(pgNow.Add(IdempotencyWindow + time.Second)); err != nil {
		t.Errorf("reusing a key past its window: %v", err)
	}
	if err := s.PurgeIdempotencyKeys(ctx, pgNow.Add(IdempotencyWindow+2*time.Second)); err != nil {
		t.Fatal(err)
	}
	_, _ = s.Update(ctx, inst.ID, func(ctx context.Context, tx Tx) (Changes, error) {
		if got, err := tx.IdempotentTickets(ctx, []string{"k1"}, time.Time{}); err != nil || len(got) != 0 {
			t.Errorf("after purge IdempotentTickets(k1) = %v, %v, want none", got, err)
		}
		return Changes{}, nil
	})

	due, err := s.DueExpiries(ctx, pgNow.Add(time.Minute))
	if err != nil || len(due) != 1 || due[0] != inst.ID {
		t.Errorf("DueExpiries(at deadline) = %v, %v, want [%d]", due, err, inst.ID)
	}
	if due, err := s.DueExpiries(ctx, pgNow); err != nil || len(due) != 0 {
		t.Errorf("DueExpiries(before deadline) = %v, %v, want none", due, err)
	}
}

// The lookups on hot paths must read small indexes, not the institution's
// whole history: WaitingBefore (every ticket page view) the partial index of
// waiting tickets; a batch of joins the partial unique index of active
// phones and the primary key of idempotency keys, while it holds the
// institution's lock.
func TestPostgresLookupsUseIndexes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newTestPostgresStore(t)
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	// With a few rows a sequential scan is cheapest; forbid it to see which
	// index the planner can use.
	if _, err := conn.Exec(ctx, `SET enable_seqscan = off`); err != nil {
		t.Fatal(err)
	}
	defer conn.Exec(context.WithoutCancel(ctx), `RESET enable_seqscan`)
	for _, tc := range []struct {
		name, sql string
		args      []any
		index     string
	}{
		// Either partial index of waiting tickets will do.
		{"WaitingBefore", waitingBeforeSQL, []any{int64(1), int64(10)}, "tickets_(waiting|queue)_idx"},
		{"LaneRank", laneRankSQL, []any{int64(1), "A", true, pgNow, int64(10)}, "tickets_queue_idx"},
		{"Front", frontSQL, []any{int64(1), []string{"A", "B"}, 12}, "tickets_queue_idx"},
		{"ActivePhones", activePhonesSQL, []any{int64(1), []string{"09170000000", "09170000001"}}, "tickets_active_phone_key"},
		{"IdempotentTickets", idempotentTicketsSQL, []any{int64(1), []string{"k1", "k2"}, pgNow}, "idempotency_keys_pkey"},
		{"keysAhead", keysAheadSQL, []any{int64(1), []string{"k1", "k2"}}, "idempotency_keys_pkey"},
	} {
		rows, _ := conn.Query(ctx, `EXPLAIN `+tc.sql, tc.args...)
		lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatalf("%s: explain: %v", tc.name, err)
		}
		if plan := strings.Join(lines, "\n"); !regexp.MustCompile(tc.index).MatchString(plan) {
			t.Errorf("%s does not use %s:\n%s", tc.name, tc.index, plan)
		}
	}
}

// The lookups of a batch of joins run as prepared statements under the
// institution's lock, and after five runs PostgreSQL may keep a generic plan
// made while the tables were empty, as in a new deployment or a benchmark:
// that plan must still find each phone and key through the index, not filter
// the institution's whole queue against the batch.
func TestPostgresJoinLookupsGenericPlan(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newTestPostgresStore(t)
	// A connection of its own: prepared statements and settings stay off the pool.
	conn, err := pgx.ConnectConfig(ctx, s.pool.Config().ConnConfig.Copy())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, `SET plan_cache_mode = force_generic_plan`); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, types, sql, args string
		cond                   string // the index condition that must name the item
	}{
		{"active_phones", "bigint, text[]", activePhonesSQL, `1, '{09170000000,09170000001}'`, "AND (phone = "},
		{"idempotent_tickets", "bigint, text[], timestamptz", idempotentTicketsSQL, `1, '{k1,k2}', now()`, "AND (key = "},
	} {
		if _, err := conn.Exec(ctx, `PREPARE `+tc.name+` (`+tc.types+`) AS `+tc.sql); err != nil {
			t.Fatalf("%s: prepare: %v", tc.name, err)
		}
		rows, _ := conn.Query(ctx, `EXPLAIN EXECUTE `+tc.name+`(`+tc.args+`)`)
		lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatalf("%s: explain: %v", tc.name, err)
		}
		plan := strings.Join(lines, "\n")
		if !strings.Contains(plan, "Index Cond: ((institution_id = $1) "+tc.cond) {
			t.Errorf("%s: the generic plan does not look each item up in the index:\n%s", tc.name, plan)
		}
	}
}

// Two server instances, each with its own pool, share one database: numbers
// stay gap-free and unique under hundreds of concurrent joins.
func TestPostgresConcurrentJoinsAcrossInstances(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	first := newTestPostgresStore(t)
	stores := []*PostgresStore{first, newTestPostgresStoreOn(t, first)}
	svcs := []*Service{NewService(stores[0], Config{}), NewService(stores[1], Config{})}
	inst, err := svcs[0].CreateInstitution(ctx, Fields{Name: "Busy Office", Kind: "government", Status: StatusOpen}, Meta{})
	if err != nil {
		t.Fatal(err)
	}

	const joins = 300
	var wg sync.WaitGroup
	numbers := make([]int64, joins)
	errs := make([]error, joins)
	for i := range joins {
		wg.Go(func() {
			res, err := svcs[i%2].Join(ctx, inst.ID, JoinRequest{Phone: ptr(fmt.Sprintf("0917%07d", i))}, Meta{Actor: ActorCitizen})
			numbers[i], errs[i] = res.Ticket.Number, err
		})
	}
	wg.Wait()
	seen := make([]bool, joins+1)
	for i, err := range errs {
		if err != nil {
			t.Fatalf("join %d: %v", i, err)
		}
		if n := numbers[i]; n < 1 || n > joins || seen[n] {
			t.Fatalf("join %d got number %d: out of range or issued twice", i, n)
		}
		seen[numbers[i]] = true
	}
	got, err := stores[1].Institution(ctx, inst.ID)
	if err != nil {
		t.Fatal(err)
	}
	// Concurrent joins may share a transaction: at most one version each.
	if got.LastIssued != joins || got.WaitingCount != joins || got.Version < 2 || got.Version > joins+1 {
		t.Errorf("after %d joins last_issued = %d, waiting = %d, version = %d", joins, got.LastIssued, got.WaitingCount, got.Version)
	}
	nums, err := stores[0].WaitingNumbers(ctx, inst.ID)
	if err != nil || len(nums) != joins || nums[0] != 1 || nums[joins-1] != joins {
		t.Errorf("waiting numbers: %d of them (%v), want 1..%d", len(nums), err, joins)
	}
}

// A database that cannot be reached is unavailable, in words for people.
func TestPostgresUnavailable(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable&connect_timeout=2", testenv.FreePort(t))
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	s := NewPostgresStore(pool)

	calls := map[string]func() error{
		"Ping": func() error { return s.Ping(ctx) },
		"Institution": func() error {
			_, err := s.Institution(ctx, 1)
			return err
		},
		"Update": func() error {
			_, err := s.Update(ctx, 1, func(context.Context, Tx) (Changes, error) { return Changes{}, nil })
			return err
		},
		"CreateInstitution": func() error {
			_, err := s.CreateInstitution(ctx, Institution{}, AuditEvent{})
			return err
		},
	}
	for name, call := range calls {
		err := call()
		if !errors.Is(err, ErrUnavailable) {
			t.Errorf("%s = %v, want unavailable", name, err)
			continue
		}
		code, msg := ErrorCode(err)
		if code != CodeUnavailable {
			t.Errorf("%s: code %s, want unavailable", name, code)
		}
		for _, driver := range []string{"dial", "connect", "127.0.0.1", "refused", "SQLSTATE", "pgx", "postgres"} {
			if strings.Contains(strings.ToLower(msg), strings.ToLower(driver)) {
				t.Errorf("%s: message %q has driver text %q", name, msg, driver)
			}
		}
		// The cause stays reachable, for logs.
		if !strings.Contains(err.Error(), "refused") {
			t.Errorf("%s: error %q lost its cause", name, err)
		}
	}

	pool.Close()
	if err := s.Ping(ctx); !errors.Is(err, ErrUnavailable) {
		t.Errorf("Ping on a closed pool = %v, want unavailable", err)
	}
}

// An Update that waits on another's lock past its deadline gives up with
// unavailable, and the lock holder is unaffected.
func TestPostgresLockWaitTimesOut(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newTestPostgresStore(t)
	inst := pgInstitution(t, s)

	locked, release := make(chan struct{}), make(chan struct{})
	holder := make(chan error, 1)
	go func() {
		_, err := s.Update(ctx, inst.ID, func(ctx context.Context, tx Tx) (Changes, error) {
			close(locked)
			<-release
			next := tx.Institution()
			next.Version++
			return Changes{Institution: &next}, nil
		})
		holder <- err
	}()
	<-locked

	short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	_, err := s.Update(short, inst.ID, func(context.Context, Tx) (Changes, error) {
		t.Errorf("fn ran without the lock")
		return Changes{}, nil
	})
	if !errors.Is(err, ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Update waiting past its deadline = %v, want unavailable caused by the deadline", err)
	}
	close(release)
	if err := <-holder; err != nil {
		t.Errorf("lock holder: %v", err)
	}
	if got, _ := s.Institution(ctx, inst.ID); got.Version != 2 {
		t.Errorf("version = %d, want 2", got.Version)
	}
}
