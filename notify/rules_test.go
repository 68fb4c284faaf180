package notify

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/queueless/queueless/internal/testenv"
	"github.com/queueless/queueless/migrations"
	"github.com/queueless/queueless/push"
	"github.com/queueless/queueless/queue"
	"github.com/queueless/queueless/sms"
)

func TestSuppressed(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		event  string
		late   time.Duration
		status queue.TicketStatus
		want   bool
	}{
		{queue.NotifyTurnCalled, 0, queue.TicketServing, false},
		{queue.NotifyTurnCalled, 10 * time.Minute, queue.TicketServing, false},
		{queue.NotifyTurnCalled, 10*time.Minute + time.Second, queue.TicketServing, true},
		{queue.NotifyNearTurn, time.Hour, queue.TicketNotified, false},
		{queue.NotifyNearTurn, 0, queue.TicketWaiting, false},
		{queue.NotifyNearTurn, 0, queue.TicketServing, true},
		{queue.NotifyNearTurn, 0, queue.TicketCancelled, true},
		{queue.NotifyExpired, 2 * time.Hour, queue.TicketExpired, false},
	} {
		if got, why := Suppressed(c.event, at, at.Add(c.late), c.status); got != c.want || (got && why == "") {
			t.Errorf("Suppressed(%s, %s late, %s) = %v %q, want %v", c.event, c.late, c.status, got, why, c.want)
		}
	}
}

// clock is a clock the test moves.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// The code rules on a clock the test controls: 6 digits, 5 tries, 10
// minutes, 409 after; a verified phone stays verified 90 days.
func TestVerifyPhoneRules(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	q := queue.NewService(queue.NewMemoryStore(), queue.Config{})
	inst, err := q.CreateInstitution(ctx, queue.Fields{Name: "Hall", Kind: "government", Status: "open"}, queue.Meta{Actor: queue.ActorSystem})
	if err != nil {
		t.Fatal(err)
	}
	phone := "09170000001"
	res, err := q.Join(ctx, inst.ID, queue.JoinRequest{Phone: &phone}, queue.Meta{Actor: queue.ActorCitizen})
	if err != nil {
		t.Fatal(err)
	}
	id := res.Ticket.ID
	clk := &clock{now: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)}
	store := NewMemoryStore()
	s := NewService(store, Config{Verify: true, Now: clk.Now})
	s.SetQueue(q)
	code := func(c string) {
		if err := store.SetCode(ctx, phone, codeHash(phone, c), clk.Now().Add(CodeTTL), clk.Now()); err != nil {
			t.Fatal(err)
		}
	}
	codeOf := func(err error) queue.Code {
		var qe *queue.Error
		if errors.As(err, &qe) {
			return qe.Code
		}
		return ""
	}

	code("123456")
	if _, err := s.VerifyPhone(ctx, id, "12345"); codeOf(err) != queue.CodeInvalid {
		t.Errorf("5 digits: %v, want invalid_request", err)
	}
	for i := range CodeTries {
		if _, err := s.VerifyPhone(ctx, id, "654321"); codeOf(err) != queue.CodeInvalid {
			t.Fatalf("wrong code, try %d: %v, want invalid_request", i+1, err)
		}
	}
	if _, err := s.VerifyPhone(ctx, id, "123456"); codeOf(err) != queue.CodeInvalidState {
		t.Fatalf("right code after 5 wrong tries: %v, want invalid_state", err)
	}

	code("222222")
	clk.add(CodeTTL + time.Second)
	if _, err := s.VerifyPhone(ctx, id, "222222"); codeOf(err) != queue.CodeInvalidState {
		t.Fatalf("right code after 10 minutes: %v, want invalid_state", err)
	}

	code("333333")
	clk.add(CodeTTL - time.Second)
	v, err := s.VerifyPhone(ctx, id, "333333")
	if err != nil || !v.Verified || !v.VerifiedUntil.Equal(clk.Now().Add(VerifyFor)) {
		t.Fatalf("right code in time: %+v, %v", v, err)
	}
	clk.add(89 * 24 * time.Hour)
	if ph, _ := store.Phone(ctx, phone); !ph.Verified(clk.Now()) {
		t.Error("not verified 89 days on")
	}
	clk.add(2 * 24 * time.Hour)
	if ph, _ := store.Phone(ctx, phone); ph.Verified(clk.Now()) {
		t.Error("still verified 91 days on")
	}
}

// One real-clock check of the code's lifetime: a fresh code works now.
func TestVerifyPhoneRealClock(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	q := queue.NewService(queue.NewMemoryStore(), queue.Config{})
	inst, _ := q.CreateInstitution(ctx, queue.Fields{Name: "Hall", Kind: "government", Status: "open"}, queue.Meta{Actor: queue.ActorSystem})
	phone := "09170000002"
	res, err := q.Join(ctx, inst.ID, queue.JoinRequest{Phone: &phone}, queue.Meta{Actor: queue.ActorCitizen})
	if err != nil {
		t.Fatal(err)
	}
	store := NewMemoryStore()
	s := NewService(store, Config{Verify: true})
	s.SetQueue(q)
	now := time.Now()
	_ = store.SetCode(ctx, phone, codeHash(phone, "909090"), now.Add(CodeTTL), now)
	if v, err := s.VerifyPhone(ctx, res.Ticket.ID, "909090"); err != nil || !v.Verified {
		t.Fatalf("%+v, %v", v, err)
	}
}

func newPool(t *testing.T, cs string) *pgxpool.Pool {
	t.Helper()
	pool, err := pgxpool.New(context.Background(), cs)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}

func pgSchema(t *testing.T) string {
	t.Helper()
	cs := testenv.NewSchema(t)
	pool := newPool(t, cs)
	db := migrations.OpenDB(pool)
	defer db.Close()
	if err := migrations.Up(context.Background(), db); err != nil {
		t.Fatal(err)
	}
	return cs
}

// Instances that start together agree on one generated VAPID key, kept in
// PostgreSQL; a restart finds it.
func TestVAPIDKeyGeneratedOnce(t *testing.T) {
	t.Parallel()
	cs := pgSchema(t)
	const n = 8
	keys := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		store := NewPostgresStore(newPool(t, cs)) // an instance each
		wg.Add(1)
		go func() {
			defer wg.Done()
			k, err := push.KeySource{Store: store}.Keys(context.Background())
			if err != nil {
				t.Error(err)
				return
			}
			keys[i] = k.PublicKey()
		}()
	}
	wg.Wait()
	for i := range keys {
		if keys[i] != keys[0] || keys[i] == "" {
			t.Fatalf("instances disagree on the key: %v", keys)
		}
	}
	again, err := push.KeySource{Store: NewPostgresStore(newPool(t, cs))}.Keys(context.Background())
	if err != nil || again.PublicKey() != keys[0] {
		t.Fatalf("a restart got %v, %v; want the stored key", again, err)
	}
}

// Concurrent tries of one code use at most its 5 tries, in both stores.
func TestCodeTriesConcurrently(t *testing.T) {
	t.Parallel()
	stores := map[string]Store{"memory": NewMemoryStore(), "postgres": NewPostgresStore(newPool(t, pgSchema(t)))}
	for name, store := range stores {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			now := time.Now().UTC()
			if err := store.SetCode(ctx, "09170000003", "h", now.Add(CodeTTL), now); err != nil {
				t.Fatal(err)
			}
			var mu sync.Mutex
			ok := 0
			var wg sync.WaitGroup
			for range 40 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					_, got, err := store.UseTry(ctx, "09170000003", CodeTries, now)
					if err != nil {
						t.Error(err)
					}
					if got {
						mu.Lock()
						ok++
						mu.Unlock()
					}
				}()
			}
			wg.Wait()
			if ok != CodeTries {
				t.Fatalf("%d concurrent tries got through, want %d", ok, CodeTries)
			}
		})
	}
}

// The embedded delivery log stays bounded; pending deliveries are kept.
func TestMemoryDeliveriesBounded(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	m := NewMemoryStore()
	m.max = 100
	for i := range 1000 {
		d := Delivery{NotificationID: int64(i + 1), Channel: ChannelSMS, TicketID: "t", Event: queue.NotifyNearTurn, Status: StatusPending}
		if _, err := m.insert(ctx, nil, []Delivery{d}, nil); err != nil {
			t.Fatal(err)
		}
		if i%50 != 0 {
			_ = m.Record(ctx, d.NotificationID, ChannelSMS, StatusSent, "", true, time.Now())
		}
	}
	if n := len(m.deliveries); n > m.max {
		t.Fatalf("%d deliveries kept, want at most %d", n, m.max)
	}
	for i := 0; i < 1000; i += 50 {
		if _, err := m.Delivery(ctx, int64(i+1), ChannelSMS); err != nil {
			t.Errorf("pending delivery %d dropped", i+1)
		}
	}
}

// A join with a phone, the flash crowd's case (people ahead, no
// notification), asks one job insert of the join's transaction and no
// query: no delivery row, no push lookup.
func TestJoinWithPhoneCostsOneJob(t *testing.T) {
	t.Parallel()
	s := NewService(NewMemoryStore(), Config{Gateway: gatewayFunc(nil), Push: &push.Sender{}})
	phone := "09170000009"
	p := s.planOf(&queue.Changes{Inserted: []queue.Ticket{{ID: "t1", Phone: &phone, Status: queue.TicketWaiting}}})
	if len(p.phones) != 1 || len(p.sms)+len(p.pushes) != 0 {
		t.Fatalf("join with a phone plans %d jobs and %d+%d deliveries, want 1 job and none", len(p.phones), len(p.sms), len(p.pushes))
	}
	// One that starts near its turn: its text, and still no push lookup
	// (a ticket issued in this change has no subscription).
	p = s.planOf(&queue.Changes{Inserted: []queue.Ticket{{ID: "t2", Phone: &phone, Status: queue.TicketNotified}},
		Notifications: []queue.Notification{{ID: 7, TicketID: "t2", Event: queue.NotifyNearTurn}}})
	if len(p.phones) != 1 || len(p.sms) != 1 || len(p.pushes) != 0 {
		t.Fatalf("join near its turn plans %d jobs, %d texts, %d pushes; want 1, 1, 0", len(p.phones), len(p.sms), len(p.pushes))
	}
	// Without a gateway a phone costs nothing.
	off := NewService(NewMemoryStore(), Config{})
	if p := off.planOf(&queue.Changes{Inserted: []queue.Ticket{{ID: "t3", Phone: &phone}}}); len(p.phones)+len(p.sms)+len(p.pushes) != 0 {
		t.Fatalf("no gateway: %+v, want nothing", p)
	}
}

type gatewayFunc func(context.Context, sms.Message) (string, error)

func (f gatewayFunc) Send(ctx context.Context, m sms.Message) (string, error) { return f(ctx, m) }
