package queue

import (
	"errors"
	"slices"

	"github.com/jackc/pgx/v5"

	"github.com/queueless/queueless/alerts"
)

// An institution's alert thresholds (stall_minutes, wait_sla_minutes,
// escalation_minutes) are fields of the Institution object, writable by
// admin at create and PATCH. Their ranges and meaning are the alerts
// package's (alerts.Thresholds.Validate); the queue only keeps them.

// ThresholdsPatch changes some alert thresholds; nil fields stay.
type ThresholdsPatch struct {
	StallMinutes      *int
	WaitSLAMinutes    *int
	EscalationMinutes *[]int
}

func (p ThresholdsPatch) empty() bool {
	return p.StallMinutes == nil && p.WaitSLAMinutes == nil && p.EscalationMinutes == nil
}

// with returns th with the patch applied (a new slice: th is not changed).
func (p ThresholdsPatch) with(th alerts.Thresholds) alerts.Thresholds {
	th.EscalationMinutes = slices.Clone(th.EscalationMinutes)
	if p.StallMinutes != nil {
		th.StallMinutes = *p.StallMinutes
	}
	if p.WaitSLAMinutes != nil {
		th.WaitSLAMinutes = *p.WaitSLAMinutes
	}
	if p.EscalationMinutes != nil {
		th.EscalationMinutes = slices.Clone(*p.EscalationMinutes)
	}
	return th
}

// Validate checks the thresholds a patch sets (each is checked on its own,
// so over the defaults is exact). The error is invalid_request naming the
// field.
func (p ThresholdsPatch) Validate() error {
	return thresholdsError(p.with(alerts.DefaultThresholds()).Validate())
}

func thresholdsError(err error) error {
	var ve *alerts.ValidationError
	if errors.As(err, &ve) {
		return Errorf(CodeInvalid, "%s", ve.Message)
	}
	return err
}

// apply sets the patched thresholds on th, recording what changed.
func (p ThresholdsPatch) apply(th *alerts.Thresholds, changed map[string]any) {
	next := p.with(*th)
	if next.StallMinutes != th.StallMinutes {
		changed["stall_minutes"] = map[string]int{"from": th.StallMinutes, "to": next.StallMinutes}
	}
	if next.WaitSLAMinutes != th.WaitSLAMinutes {
		changed["wait_sla_minutes"] = map[string]int{"from": th.WaitSLAMinutes, "to": next.WaitSLAMinutes}
	}
	if !slices.Equal(next.EscalationMinutes, th.EscalationMinutes) {
		changed["escalation_minutes"] = map[string][]int{"from": th.EscalationMinutes, "to": next.EscalationMinutes}
	}
	*th = next
}

// PgxTx returns the PostgreSQL transaction behind an Update's Tx, so that
// another package's writes (alerts and their webhooks, feedback) commit
// with the change and under the institution's lock; false for the memory
// store, whose Update runs inside its critical section instead.
func PgxTx(tx Tx) (pgx.Tx, bool) {
	p, ok := tx.(*pgTx)
	if !ok {
		return nil, false
	}
	return p.tx, true
}

// withDefaults returns the thresholds of a new institution: the defaults,
// with the patch applied.
func (p ThresholdsPatch) withDefaults() alerts.Thresholds { return p.with(alerts.DefaultThresholds()) }

// defaultThresholds gives an institution created with no thresholds at all
// (a caller of the Store itself, as tests are) the defaults, as the
// columns' DEFAULT would.
func defaultThresholds(inst *Institution) {
	if inst.StallMinutes == 0 && inst.WaitSLAMinutes == 0 && inst.EscalationMinutes == nil {
		inst.Thresholds = alerts.DefaultThresholds()
	}
}
