package alerts

import (
	"fmt"
	"time"
)

// Ranges and defaults of the per-institution thresholds
// (../shared/API.md, v1.1 "Insight, in detail").
const (
	MinStallMinutes, MaxStallMinutes           = 1, 1440
	MinWaitSLAMinutes, MaxWaitSLAMinutes       = 1, 1440
	MinEscalationMinutes, MaxEscalationMinutes = 1, 10080

	DefaultStallMinutes   = 10
	DefaultWaitSLAMinutes = 60
)

// DefaultEscalationMinutes are the minutes an alert stays open before it
// rises to p2, p1 and p0.
var DefaultEscalationMinutes = []int{15, 30, 60}

// Thresholds are an institution's alert settings, as the admin writes them
// (fields stall_minutes, wait_sla_minutes, escalation_minutes).
type Thresholds struct {
	StallMinutes      int   `json:"stall_minutes"`
	WaitSLAMinutes    int   `json:"wait_sla_minutes"`
	EscalationMinutes []int `json:"escalation_minutes"`
	// Unit is how long one of these "minutes" lasts: zero means a minute.
	// Only a real-clock test sets it (to a second, say), so that a whole
	// lifecycle runs in seconds through the same Evaluate.
	Unit time.Duration `json:"-"`
}

// unit is the length of one threshold minute.
func (t Thresholds) unit() time.Duration {
	if t.Unit <= 0 {
		return time.Minute
	}
	return t.Unit
}

// DefaultThresholds returns the defaults of the contract.
func DefaultThresholds() Thresholds {
	return Thresholds{
		StallMinutes:      DefaultStallMinutes,
		WaitSLAMinutes:    DefaultWaitSLAMinutes,
		EscalationMinutes: append([]int(nil), DefaultEscalationMinutes...),
	}
}

// ValidationError is a threshold out of its range; Field is the JSON name
// of the setting, and Message a sentence naming it.
type ValidationError struct {
	Field   string
	Message string
}

func (e *ValidationError) Error() string { return e.Message }

// Validate returns a *ValidationError naming the first field out of range.
func (t Thresholds) Validate() error {
	if t.StallMinutes < MinStallMinutes || t.StallMinutes > MaxStallMinutes {
		return &ValidationError{Field: "stall_minutes", Message: fmt.Sprintf(
			"stall_minutes must be a whole number of minutes from %d to %d, not %d", MinStallMinutes, MaxStallMinutes, t.StallMinutes)}
	}
	if t.WaitSLAMinutes < MinWaitSLAMinutes || t.WaitSLAMinutes > MaxWaitSLAMinutes {
		return &ValidationError{Field: "wait_sla_minutes", Message: fmt.Sprintf(
			"wait_sla_minutes must be a whole number of minutes from %d to %d, not %d", MinWaitSLAMinutes, MaxWaitSLAMinutes, t.WaitSLAMinutes)}
	}
	esc := t.EscalationMinutes
	if len(esc) != 3 {
		return &ValidationError{Field: "escalation_minutes", Message: fmt.Sprintf(
			"escalation_minutes must be three increasing numbers of minutes (to p2, p1, p0), not %d values", len(esc))}
	}
	for i, m := range esc {
		if m < MinEscalationMinutes || m > MaxEscalationMinutes {
			return &ValidationError{Field: "escalation_minutes", Message: fmt.Sprintf(
				"escalation_minutes[%d] must be from %d to %d minutes, not %d", i, MinEscalationMinutes, MaxEscalationMinutes, m)}
		}
		if i > 0 && m <= esc[i-1] {
			return &ValidationError{Field: "escalation_minutes", Message: fmt.Sprintf(
				"escalation_minutes must increase: escalation_minutes[%d] is %d, not more than %d before it", i, m, esc[i-1])}
		}
	}
	return nil
}

// threshold is the time a condition of kind must hold before it raises.
func (t Thresholds) threshold(k Kind) int {
	if k == KindQueueStalled {
		return t.StallMinutes
	}
	return t.WaitSLAMinutes
}

// dueLevel is the level an alert open for d has reached.
func (t Thresholds) dueLevel(d time.Duration) Level {
	level := LevelInitiated
	for i, m := range t.EscalationMinutes {
		if i+1 < len(Levels) && d >= time.Duration(m)*t.unit() {
			level = Levels[i+1]
		}
	}
	return level
}
