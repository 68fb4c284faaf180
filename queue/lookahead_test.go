package queue

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/queueless/queueless/internal/testenv"
)

// tracedStoreOn returns a PostgresStore on s's schema whose pool counts
// its round trips (BEGIN and COMMIT included).
func tracedStoreOn(t *testing.T, s *PostgresStore) (*PostgresStore, *testenv.RoundTrips) {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(s.pool.Config().ConnString())
	if err != nil {
		t.Fatal(err)
	}
	rt := &testenv.RoundTrips{}
	cfg.ConnConfig.Tracer = rt
	cfg.MaxConns = 2
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return NewPostgresStore(pool), rt
}

// The reads queued with the lock answer exactly as the separate reads do,
// and save their round trips; reads they did not cover still go to the
// database.
func TestPostgresLookAheadReadsAsSeparate(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	setup := newTestPostgresStore(t)
	inst := pgInstitution(t, setup)
	other := pgInstitution(t, setup)
	active, served, elsewhere, free := "09170000000", "09170000001", "09170000002", "09179999999"
	a := pgTicket(inst.ID, 1, &active)
	d := pgTicket(inst.ID, 2, &served)
	d.Status, d.CompletedAt = TicketServed, ptr(pgNow)
	if _, err := issue(t, setup, inst.ID, a, d); err != nil {
		t.Fatal(err)
	}
	if _, err := issue(t, setup, other.ID, pgTicket(other.ID, 1, &elsewhere)); err != nil {
		t.Fatal(err)
	}
	// k1 at pgNow (with microseconds), old well before it, k3 of another institution.
	keys := func(id int64, ks ...IdempotencyKey) {
		if _, err := setup.Update(ctx, id, func(context.Context, Tx) (Changes, error) {
			return Changes{IdempotencyKeys: ks}, nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	keys(inst.ID, IdempotencyKey{InstitutionID: inst.ID, Key: "k1", TicketID: a.ID, CreatedAt: pgNow},
		IdempotencyKey{InstitutionID: inst.ID, Key: "old", TicketID: d.ID, CreatedAt: pgNow.Add(-2 * time.Hour)})
	keys(other.ID, IdempotencyKey{InstitutionID: other.ID, Key: "k3", TicketID: a.ID, CreatedAt: pgNow})

	s, rt := tracedStoreOn(t, setup)
	allPhones := []string{active, served, elsewhere, free}
	allKeys := []string{"k1", "old", "k3", "none"}
	type answer struct {
		held   map[string]bool
		issued []map[string]string
		trips  int64
	}
	sinces := []time.Time{
		pgNow.Add(-time.Hour), pgNow, pgNow.Add(time.Nanosecond), pgNow.Add(999 * time.Nanosecond),
		pgNow.Add(time.Microsecond), pgNow.Add(-3 * time.Hour),
	}
	read := func(ctx context.Context, phones, keys []string) answer {
		t.Helper()
		var got answer
		before := rt.N.Load()
		if _, err := s.Update(ctx, inst.ID, func(ctx context.Context, tx Tx) (Changes, error) {
			var err error
			if got.held, err = tx.ActivePhones(ctx, phones); err != nil {
				return Changes{}, err
			}
			for _, since := range sinces {
				issued, err := tx.IdempotentTickets(ctx, keys, since)
				if err != nil {
					return Changes{}, err
				}
				got.issued = append(got.issued, issued)
			}
			return Changes{}, nil
		}); err != nil {
			t.Fatal(err)
		}
		got.trips = rt.N.Load() - before
		return got
	}
	reqs := func(phones, keys []string) []JoinRequest {
		var out []JoinRequest
		for _, p := range phones {
			out = append(out, JoinRequest{Phone: ptr(p)})
		}
		for _, k := range keys {
			out = append(out, JoinRequest{IdempotencyKey: k})
		}
		return out
	}

	separate := read(ctx, allPhones, allKeys)
	if want := map[string]bool{active: true}; !reflect.DeepEqual(separate.held, want) {
		t.Fatalf("separate ActivePhones = %v, want %v", separate.held, want)
	}
	// BEGIN, lock, phones, one read of keys per since, COMMIT.
	if want := int64(4 + len(sinces)); separate.trips != want {
		t.Errorf("separate reads took %d round trips, want %d", separate.trips, want)
	}
	ahead := read(withLookAhead(ctx, reqs(allPhones, allKeys)), allPhones, allKeys)
	if !reflect.DeepEqual(ahead.held, separate.held) || !reflect.DeepEqual(ahead.issued, separate.issued) {
		t.Errorf("reads with the lock: held %v, issued %v; separate: held %v, issued %v",
			ahead.held, ahead.issued, separate.held, separate.issued)
	}
	if ahead.trips != 3 { // BEGIN, the lock with its reads, COMMIT
		t.Errorf("reads with the lock took %d round trips, want 3", ahead.trips)
	}
	for i, since := range sinces {
		want := map[string]string{}
		if !pgNow.Truncate(time.Microsecond).Before(since.Truncate(time.Microsecond)) {
			want["k1"] = a.ID
		}
		if !pgNow.Add(-2 * time.Hour).Before(since) {
			want["old"] = d.ID
		}
		if !reflect.DeepEqual(ahead.issued[i], want) {
			t.Errorf("IdempotentTickets since %v = %v, want %v", since, ahead.issued[i], want)
		}
	}

	// Asked for more than was read with the lock: the database answers.
	partial := read(withLookAhead(ctx, reqs(allPhones[:1], allKeys[:1])), allPhones, allKeys)
	if !reflect.DeepEqual(partial.held, separate.held) || !reflect.DeepEqual(partial.issued, separate.issued) {
		t.Errorf("reads beyond the look-ahead: held %v, issued %v; separate: held %v, issued %v",
			partial.held, partial.issued, separate.held, separate.issued)
	}
	// A look-ahead of phones only, and one of keys only.
	if got := read(withLookAhead(ctx, reqs(allPhones, nil)), allPhones, nil); !reflect.DeepEqual(got.held, separate.held) {
		t.Errorf("phones only: held %v, want %v", got.held, separate.held)
	}
	if got := read(withLookAhead(ctx, reqs(nil, allKeys)), nil, allKeys); !reflect.DeepEqual(got.issued, separate.issued) {
		t.Errorf("keys only: issued %v, want %v", got.issued, separate.issued)
	}
	// An institution that does not exist is not found, as without.
	if _, err := s.Update(withLookAhead(ctx, reqs(allPhones, allKeys)), 1<<40, func(context.Context, Tx) (Changes, error) {
		return Changes{}, nil
	}); !errors.Is(err, ErrNotFound) {
		t.Errorf("look-ahead on a missing institution: %v, want not_found", err)
	}
}

// The reads queued with the lock run once it is taken: they see what the
// transaction holding it committed, not what was there when they were sent.
func TestPostgresLookAheadWaitsForTheLock(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newTestPostgresStore(t)
	inst := pgInstitution(t, s)
	phone := "09170000042"
	tk := pgTicket(inst.ID, 1, &phone)

	locked, release := make(chan struct{}), make(chan struct{})
	done := make(chan error, 1)
	go func() {
		_, err := s.Update(ctx, inst.ID, func(context.Context, Tx) (Changes, error) {
			close(locked)
			<-release
			return Changes{Inserted: []Ticket{tk}, IdempotencyKeys: []IdempotencyKey{{InstitutionID: inst.ID, Key: "k", TicketID: tk.ID, CreatedAt: pgNow}}}, nil
		})
		done <- err
	}()
	<-locked
	type seen struct {
		held   map[string]bool
		issued map[string]string
	}
	got := make(chan seen, 1)
	go func() {
		var sn seen
		_, err := s.Update(withLookAhead(ctx, []JoinRequest{{Phone: &phone, IdempotencyKey: "k"}}), inst.ID, func(ctx context.Context, tx Tx) (Changes, error) {
			var err error
			if sn.held, err = tx.ActivePhones(ctx, []string{phone}); err != nil {
				return Changes{}, err
			}
			sn.issued, err = tx.IdempotentTickets(ctx, []string{"k"}, pgNow.Add(-time.Hour))
			return Changes{}, err
		})
		if err != nil {
			t.Error(err)
		}
		got <- sn
	}()
	// Let the second change send its pipeline and wait on the lock.
	time.Sleep(300 * time.Millisecond)
	select {
	case <-got:
		t.Fatal("the second change read while the first held the lock")
	default:
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	sn := <-got
	if !sn.held[phone] || sn.issued["k"] != tk.ID {
		t.Errorf("after the first change committed, the second read held %v, issued %v; want the phone held and k -> %s", sn.held, sn.issued, tk.ID)
	}
}
