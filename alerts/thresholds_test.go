package alerts

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestThresholdsValidate(t *testing.T) {
	t.Parallel()
	ok := func(f func(*Thresholds)) Thresholds { th := DefaultThresholds(); f(&th); return th }
	tests := []struct {
		name  string
		th    Thresholds
		field string // "" when valid
	}{
		{"defaults", DefaultThresholds(), ""},
		{"smallest", Thresholds{StallMinutes: 1, WaitSLAMinutes: 1, EscalationMinutes: []int{1, 2, 3}}, ""},
		{"largest", Thresholds{StallMinutes: 1440, WaitSLAMinutes: 1440, EscalationMinutes: []int{10078, 10079, 10080}}, ""},
		{"stall 0", ok(func(th *Thresholds) { th.StallMinutes = 0 }), "stall_minutes"},
		{"stall 1441", ok(func(th *Thresholds) { th.StallMinutes = 1441 }), "stall_minutes"},
		{"stall negative", ok(func(th *Thresholds) { th.StallMinutes = -5 }), "stall_minutes"},
		{"sla 0", ok(func(th *Thresholds) { th.WaitSLAMinutes = 0 }), "wait_sla_minutes"},
		{"sla 1441", ok(func(th *Thresholds) { th.WaitSLAMinutes = 1441 }), "wait_sla_minutes"},
		{"escalation missing", ok(func(th *Thresholds) { th.EscalationMinutes = nil }), "escalation_minutes"},
		{"escalation two values", ok(func(th *Thresholds) { th.EscalationMinutes = []int{15, 30} }), "escalation_minutes"},
		{"escalation four values", ok(func(th *Thresholds) { th.EscalationMinutes = []int{1, 2, 3, 4} }), "escalation_minutes"},
		{"escalation 0", ok(func(th *Thresholds) { th.EscalationMinutes = []int{0, 30, 60} }), "escalation_minutes"},
		{"escalation 10081", ok(func(th *Thresholds) { th.EscalationMinutes = []int{15, 30, 10081} }), "escalation_minutes"},
		{"escalation equal", ok(func(th *Thresholds) { th.EscalationMinutes = []int{15, 15, 60} }), "escalation_minutes"},
		{"escalation decreasing", ok(func(th *Thresholds) { th.EscalationMinutes = []int{15, 60, 30} }), "escalation_minutes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.th.Validate()
			if tt.field == "" {
				if err != nil {
					t.Fatalf("Validate(%+v) = %v, want nil", tt.th, err)
				}
				return
			}
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("Validate(%+v) = %v, want a *ValidationError", tt.th, err)
			}
			if ve.Field != tt.field || !strings.Contains(ve.Message, tt.field) {
				t.Fatalf("Validate(%+v): field %q, message %q; want field %q named in the message", tt.th, ve.Field, ve.Message, tt.field)
			}
		})
	}
}

func TestDefaultThresholds(t *testing.T) {
	t.Parallel()
	th := DefaultThresholds()
	if th.StallMinutes != 10 || th.WaitSLAMinutes != 60 || len(th.EscalationMinutes) != 3 ||
		th.EscalationMinutes[0] != 15 || th.EscalationMinutes[1] != 30 || th.EscalationMinutes[2] != 60 {
		t.Fatalf("DefaultThresholds() = %+v, want 10, 60, [15 30 60] (the contract's defaults)", th)
	}
	th.EscalationMinutes[0] = 1
	if DefaultEscalationMinutes[0] != 15 {
		t.Fatal("DefaultThresholds shares its slice with DefaultEscalationMinutes")
	}
	for _, c := range []struct {
		open time.Duration
		want Level
	}{{0, LevelInitiated}, {15*time.Minute - time.Second, LevelInitiated}, {15 * time.Minute, LevelP2},
		{30*time.Minute - time.Nanosecond, LevelP2}, {30 * time.Minute, LevelP1}, {60 * time.Minute, LevelP0}, {1000 * time.Hour, LevelP0}} {
		if got := DefaultThresholds().dueLevel(c.open); got != c.want {
			t.Errorf("dueLevel(%v) = %s, want %s", c.open, got, c.want)
		}
	}
}
