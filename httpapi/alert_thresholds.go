package httpapi

import "github.com/queueless/queueless/queue"

// alertThresholdsBody is the part of an institution's create and PATCH
// body that sets its alert thresholds (API.md v1.1, "Insight, in detail").
type alertThresholdsBody struct {
	StallMinutes      optional[int]   `json:"stall_minutes"`
	WaitSLAMinutes    optional[int]   `json:"wait_sla_minutes"`
	EscalationMinutes optional[[]int] `json:"escalation_minutes"`
}

func (b alertThresholdsBody) patch() (queue.ThresholdsPatch, error) {
	var p queue.ThresholdsPatch
	var err error
	if p.StallMinutes, err = requireValue(b.StallMinutes, "stall_minutes"); err != nil {
		return p, err
	}
	if p.WaitSLAMinutes, err = requireValue(b.WaitSLAMinutes, "wait_sla_minutes"); err != nil {
		return p, err
	}
	if p.EscalationMinutes, err = requireValue(b.EscalationMinutes, "escalation_minutes"); err != nil {
		return p, err
	}
	return p, nil
}
