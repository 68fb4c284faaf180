package stats

import (
	"context"
	"encoding/json"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/queueless/queueless/feedback"
	"github.com/queueless/queueless/internal/testenv"
	"github.com/queueless/queueless/migrations"
	"github.com/queueless/queueless/queue"
)

// The fixture: an office in New York over 7-10 March 2026 UTC, across the
// start of daylight saving time (Sunday 8 March, 02:00 EST becomes 03:00
// EDT). Every expected figure below is computed by hand in the comments.

var (
	newYork = mustLoad("America/New_York")
	from    = time.Date(2026, 3, 7, 0, 0, 0, 0, time.UTC)
	to      = time.Date(2026, 3, 10, 0, 0, 0, 0, time.UTC)
)

func mustLoad(name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return loc
}

func at(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

type fixtureTicket struct {
	issued    string
	service   string
	status    queue.TicketStatus
	wait, svc int64 // seconds; -1: not called / not completed
	estimate  int64 // -1: none
}

// In number order (the order of issue).
var fixture = []fixtureTicket{
	{"2026-03-06T23:59:59Z", "A", queue.TicketServed, 100, 100, 100},   // #1 before the period
	{"2026-03-07T00:00:00Z", "A", queue.TicketServed, 900, 600, 900},   // #2 19:00 EST (6 March): hour 19; error 0
	{"2026-03-07T14:30:00Z", "A", queue.TicketServed, 600, 300, 500},   // #3 09:30 EST: hour 9; error 100
	{"2026-03-08T06:59:00Z", "B", queue.TicketCancelled, -1, -1, 100},  // #4 01:59 EST: hour 1; never called
	{"2026-03-08T07:00:00Z", "B", queue.TicketServed, 60, 120, -1},     // #5 03:00 EDT (02:00 never was): hour 3; no estimate
	{"2026-03-09T13:45:00Z", "B", queue.TicketExpired, 300, -1, 900},   // #6 09:45 EDT: hour 9; error 600
	{"2026-03-09T14:30:00Z", "A", queue.TicketServed, 1200, 240, 1000}, // #7 10:30 EDT: hour 10 (UTC 14, as #3); error 200
	{"2026-03-09T18:00:00Z", "A", queue.TicketWaiting, -1, -1, 50},     // #8 14:00 EDT: hour 14; still waiting
	{"2026-03-10T00:00:00Z", "A", queue.TicketServed, 30, 30, 30},      // #9 at the period's end: excluded
}

func f64(v float64) *float64 { return &v }

// expected is the hand computation.
func expected() Stats {
	none := Waits{}
	hours := make([]Hour, 24)
	for h := range hours {
		hours[h] = Hour{Hour: h, WaitSeconds: none}
	}
	// Hour 9: #3 (wait 600) and #6 (300): p50 450, p90 300+0.9*300 = 570.
	hours[9] = Hour{Hour: 9, Joined: 2, Served: 1, WaitSeconds: Waits{f64(450), f64(570), f64(600)}}
	hours[10] = Hour{Hour: 10, Joined: 1, Served: 1, WaitSeconds: Waits{f64(1200), f64(1200), f64(1200)}}
	hours[1] = Hour{Hour: 1, Joined: 1}
	hours[3] = Hour{Hour: 3, Joined: 1, Served: 1, WaitSeconds: Waits{f64(60), f64(60), f64(60)}}
	hours[14] = Hour{Hour: 14, Joined: 1}
	hours[19] = Hour{Hour: 19, Joined: 1, Served: 1, WaitSeconds: Waits{f64(900), f64(900), f64(900)}}
	return Stats{
		From: from, To: to, Timezone: "America/New_York",
		// #2..#8: 7 joined; served #2 #3 #5 #7; expired #6; cancelled #4.
		Counts: Counts{Joined: 7, Served: 4, Expired: 1, Cancelled: 1},
		// Waits of the called: 60 300 600 900 1200. p50 = rank 2 = 600;
		// p90 = rank 3.6 = 900 + 0.6*300 = 1080.
		WaitSeconds: Waits{P50: f64(600), P90: f64(1080), Max: f64(1200)},
		// Service times of the served: 120 240 300 600. p50 = rank 1.5 =
		// 270; p90 = rank 2.7 = 300 + 0.7*300 = 510.
		ServiceSeconds: Services{P50: f64(270), P90: f64(510)},
		ByHour:         hours,
		ByService: []ServiceStats{
			// A: #2 #3 #7 #8. Waits 600 900 1200: p50 900, p90 rank 1.8 =
			// 1140. Service 240 300 600: p50 300, p90 540. Errors 0 100
			// 200: median 100.
			{Service: "A", Counts: Counts{Joined: 4, Served: 3},
				WaitSeconds: Waits{f64(900), f64(1140), f64(1200)}, ServiceSeconds: Services{f64(300), f64(540)},
				EstimateError: EstimateError{Count: 3, MedianAbsoluteSeconds: f64(100)}},
			// B: #4 #5 #6. Waits 60 300: p50 180, p90 60+0.9*240 = 276.
			{Service: "B", Counts: Counts{Joined: 3, Served: 1, Expired: 1, Cancelled: 1},
				WaitSeconds: Waits{f64(180), f64(276), f64(300)}, ServiceSeconds: Services{f64(120), f64(120)},
				EstimateError: EstimateError{Count: 1, MedianAbsoluteSeconds: f64(600)}},
		},
		// Feedback given in the period: ratings 5, 3, 5 (mean 13/3);
		// SQD0 5 4 3 (4); SQD1 4 (4); SQD8 2 (2).
		Satisfaction: Satisfaction{Count: 3, MeanRating: f64(4.333), MeanSQD: map[string]*float64{
			"SQD0": f64(4), "SQD1": f64(4), "SQD2": nil, "SQD3": nil, "SQD4": nil,
			"SQD5": nil, "SQD6": nil, "SQD7": nil, "SQD8": f64(2)}},
		// Called with an estimate: #2 0, #3 100, #6 600, #7 200: median of
		// 0 100 200 600 = 150.
		EstimateError: EstimateError{Count: 4, MedianAbsoluteSeconds: f64(150)},
	}
}

func ip(v int) *int { return &v }

// fixtureFeedback is keyed by ticket number.
var fixtureFeedback = []struct {
	number  int64
	created string
	rating  int
	answers feedback.Answers
}{
	{1, "2026-03-06T23:59:59Z", 1, feedback.Answers{SQD0: ip(1)}}, // before the period
	{2, "2026-03-07T01:00:00Z", 5, feedback.Answers{SQD0: ip(3)}},
	{3, "2026-03-07T15:00:00Z", 5, feedback.Answers{SQD0: ip(5), SQD1: ip(4)}},
	{7, "2026-03-09T15:00:00Z", 3, feedback.Answers{SQD0: ip(4), SQD8: ip(2)}},
	{5, "2026-03-10T00:00:00Z", 1, feedback.Answers{SQD0: ip(1)}}, // at the period's end
}

func fixtureTickets() []queue.Ticket {
	var out []queue.Ticket
	for i, f := range fixture {
		issued := at(f.issued)
		t := queue.Ticket{ID: uuid.NewString(), Number: int64(i + 1), Status: f.status, NearTurnThreshold: 3,
			Service: f.service, Label: f.service + "-001", Source: queue.SourcePhone, IssuedAt: issued, UpdatedAt: issued, Place: issued}
		if f.wait >= 0 {
			c := issued.Add(time.Duration(f.wait) * time.Second)
			t.CalledAt, t.UpdatedAt = &c, c
		}
		if f.svc >= 0 {
			d := t.CalledAt.Add(time.Duration(f.svc) * time.Second)
			t.CompletedAt, t.CheckedInAt, t.UpdatedAt = &d, t.CalledAt, d
		}
		if f.status == queue.TicketCancelled {
			d := issued.Add(time.Minute)
			t.CompletedAt = &d
		}
		if f.estimate >= 0 {
			e := f.estimate
			t.EstimateAtJoin = &e
		}
		out = append(out, t)
	}
	return out
}

// loadFixture creates the institution and writes the fixture's tickets.
func loadFixture(t *testing.T, store queue.Store) (int64, []queue.Ticket) {
	t.Helper()
	ctx := context.Background()
	svc := queue.NewService(store, queue.Config{})
	inst, err := svc.CreateInstitution(ctx, queue.Fields{Name: "Stats office", Kind: "government"}, queue.Meta{Actor: "token:admin"})
	if err != nil {
		t.Fatal(err)
	}
	tickets := fixtureTickets()
	if _, err := store.Update(ctx, inst.ID, func(ctx context.Context, tx queue.Tx) (queue.Changes, error) {
		return queue.Changes{Inserted: tickets}, nil
	}); err != nil {
		t.Fatal(err)
	}
	return inst.ID, tickets
}

// memFeedback is the embedded feedback store's seam, for the memory source.
type memFeedback struct {
	mu   sync.Mutex
	list []feedback.Feedback
}

func (m *memFeedback) FeedbackBetween(_ context.Context, id int64, from, to time.Time) ([]feedback.Feedback, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []feedback.Feedback
	for _, f := range m.list {
		if f.InstitutionID == id && !f.CreatedAt.Before(from) && f.CreatedAt.Before(to) {
			out = append(out, f)
		}
	}
	return out, nil
}

func newMemorySource(t *testing.T) (Source, int64) {
	store := queue.NewMemoryStore()
	id, tickets := loadFixture(t, store)
	fb := &memFeedback{}
	for _, f := range fixtureFeedback {
		fb.list = append(fb.list, feedback.Feedback{TicketID: tickets[f.number-1].ID, InstitutionID: id,
			Rating: f.rating, Answers: f.answers, CreatedAt: at(f.created)})
	}
	return NewMemory(store, fb), id
}

// newTestPool opens a pool on a fresh, migrated schema.
func newTestPool(t testing.TB) *pgxpool.Pool {
	t.Helper()
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, testenv.NewSchema(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	db := migrations.OpenDB(pool)
	defer db.Close()
	if err := migrations.Up(ctx, db); err != nil {
		t.Fatal(err)
	}
	return pool
}

func newPostgresSource(t *testing.T) (Source, int64) {
	pool := newTestPool(t)
	id, tickets := loadFixture(t, queue.NewPostgresStore(pool))
	for _, f := range fixtureFeedback {
		a := f.answers.List()
		if _, err := pool.Exec(context.Background(), `INSERT INTO feedback (ticket_id, institution_id, rating,
			sqd0, sqd1, sqd2, sqd3, sqd4, sqd5, sqd6, sqd7, sqd8, created_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
			tickets[f.number-1].ID, id, f.rating, a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8], at(f.created)); err != nil {
			t.Fatal(err)
		}
	}
	return NewPostgres(pool), id
}

func sources(t *testing.T) map[string]func(*testing.T) (Source, int64) {
	return map[string]func(*testing.T) (Source, int64){"memory": newMemorySource, "postgres": newPostgresSource}
}

func TestStatsFixture(t *testing.T) {
	t.Parallel()
	for name, newSource := range sources(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			src, id := newSource(t)
			got, err := src.Stats(context.Background(), id, Period{From: from, To: to}, newYork)
			if err != nil {
				t.Fatal(err)
			}
			want := expected()
			if !reflect.DeepEqual(got, want) {
				g, _ := json.MarshalIndent(got, "", " ")
				w, _ := json.MarshalIndent(want, "", " ")
				t.Fatalf("stats:\n got %s\nwant %s", g, w)
			}
		})
	}
}

// TestStatsByHourUTC: the same tickets by hour of UTC move across hours:
// the timezone is applied, not assumed.
func TestStatsByHourUTC(t *testing.T) {
	t.Parallel()
	for name, newSource := range sources(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			src, id := newSource(t)
			got, err := src.Stats(context.Background(), id, Period{From: from, To: to}, time.UTC)
			if err != nil {
				t.Fatal(err)
			}
			// #2 00h, #3 14h, #4 06h, #5 07h, #6 13h, #7 14h, #8 18h.
			want := map[int]int64{0: 1, 14: 2, 6: 1, 7: 1, 13: 1, 18: 1}
			for _, h := range got.ByHour {
				if h.Joined != want[h.Hour] {
					t.Errorf("UTC hour %d: %d joined, want %d", h.Hour, h.Joined, want[h.Hour])
				}
			}
			if got.Timezone != "UTC" {
				t.Errorf("timezone %q, want UTC", got.Timezone)
			}
		})
	}
}

// TestStatsEmpty: a period with no ticket has zero counts, null
// percentiles and 24 empty hours.
func TestStatsEmpty(t *testing.T) {
	t.Parallel()
	for name, newSource := range sources(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			src, id := newSource(t)
			p := Period{From: at("2025-01-01T00:00:00Z"), To: at("2025-02-01T00:00:00Z")}
			got, err := src.Stats(context.Background(), id, p, newYork)
			if err != nil {
				t.Fatal(err)
			}
			if got.Joined != 0 || got.WaitSeconds.P50 != nil || got.ServiceSeconds.P90 != nil || len(got.ByHour) != 24 ||
				len(got.ByService) != 0 || got.Satisfaction.Count != 0 || got.Satisfaction.MeanRating != nil || got.EstimateError.Count != 0 {
				b, _ := json.Marshal(got)
				t.Fatalf("empty period: %s", b)
			}
		})
	}
}

// TestTicketsExport: both stores list the period's tickets, in number
// order, with the estimate given at join.
func TestTicketsExport(t *testing.T) {
	t.Parallel()
	for name, newSource := range sources(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			src, id := newSource(t)
			var numbers []int64
			var estimates []*int64
			err := src.Tickets(context.Background(), id, Period{From: from, To: to}, func(tk queue.Ticket) error {
				numbers = append(numbers, tk.Number)
				estimates = append(estimates, tk.EstimateAtJoin)
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if want := []int64{2, 3, 4, 5, 6, 7, 8}; !reflect.DeepEqual(numbers, want) {
				t.Fatalf("numbers %v, want %v", numbers, want)
			}
			if estimates[0] == nil || *estimates[0] != 900 || estimates[3] != nil {
				t.Fatalf("estimates at join of #2 and #5: %v %v, want 900 and none", estimates[0], estimates[3])
			}
		})
	}
}
