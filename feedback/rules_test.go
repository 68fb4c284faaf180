package feedback

import (
	"errors"
	"testing"
	"time"
)

func TestAllowed(t *testing.T) {
	t.Parallel()
	served := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		name   string
		ticket Ticket
		now    time.Time
		want   error
	}{
		{"just served", Ticket{Served: true, ServedAt: served}, served, nil},
		{"an hour later", Ticket{Served: true, ServedAt: served}, served.Add(time.Hour), nil},
		{"exactly 24 h later", Ticket{Served: true, ServedAt: served}, served.Add(24 * time.Hour), nil},
		{"24 h and a second later", Ticket{Served: true, ServedAt: served}, served.Add(24*time.Hour + time.Second), ErrTooLate},
		{"a week later", Ticket{Served: true, ServedAt: served}, served.Add(7 * 24 * time.Hour), ErrTooLate},
		{"clock behind the serve", Ticket{Served: true, ServedAt: served}, served.Add(-time.Minute), nil},
		{"not served (waiting, serving, expired, cancelled)", Ticket{}, served, ErrNotServed},
		{"already given", Ticket{Served: true, ServedAt: served, HasFeedback: true}, served.Add(time.Minute), ErrAlreadyGiven},
		{"already given and too late", Ticket{Served: true, ServedAt: served, HasFeedback: true}, served.Add(48 * time.Hour), ErrAlreadyGiven},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := Allowed(tt.ticket, tt.now)
			if tt.want == nil && err != nil || tt.want != nil && !errors.Is(err, tt.want) {
				t.Fatalf("Allowed(%+v, %v) = %v, want %v", tt.ticket, tt.now, err, tt.want)
			}
		})
	}
}

// TestAllowedRealClock: the rule with the real clock, once.
func TestAllowedRealClock(t *testing.T) {
	t.Parallel()
	if err := Allowed(Ticket{Served: true, ServedAt: time.Now().Add(-23 * time.Hour)}, time.Now()); err != nil {
		t.Fatalf("served 23 h ago: %v", err)
	}
	if err := Allowed(Ticket{Served: true, ServedAt: time.Now().Add(-25 * time.Hour)}, time.Now()); !errors.Is(err, ErrTooLate) {
		t.Fatalf("served 25 h ago: %v, want ErrTooLate", err)
	}
}
