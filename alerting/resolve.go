package alerting

import (
	"context"
	"fmt"

	"github.com/queueless/queueless/alerts"
	"github.com/queueless/queueless/queue"
)

// Alert returns one alert: not_found when there is none.
func (e *Evaluator) Alert(ctx context.Context, id int64) (alerts.Alert, error) {
	a, err := e.alerts.Alert(ctx, id)
	return a, translate(err, fmt.Sprintf("read alert %d", id))
}

// List returns the alerts f selects, newest first.
func (e *Evaluator) List(ctx context.Context, f alerts.Filter) ([]alerts.Alert, error) {
	list, err := e.alerts.List(ctx, f)
	if err != nil {
		return nil, translate(err, "list alerts")
	}
	if list == nil {
		list = []alerts.Alert{}
	}
	return list, nil
}

// Resolve resolves alert id on behalf of staff actor, under its
// institution's lock, and writes its alert.resolved webhooks in the same
// transaction. allow is asked first whether actor may act on the alert's
// institution. Errors: not_found, invalid_state (already resolved).
func (e *Evaluator) Resolve(ctx context.Context, id int64, actor string, allow func(institutionID int64) error) (alerts.Alert, error) {
	a, err := e.Alert(ctx, id)
	if err != nil {
		return alerts.Alert{}, err
	}
	if err := allow(a.InstitutionID); err != nil {
		return alerts.Alert{}, err
	}
	var t alerts.Transition
	_, err = e.queue.Update(ctx, a.InstitutionID, func(ctx context.Context, tx queue.Tx) (queue.Changes, error) {
		now := e.clock()
		var err error
		if ptx, ok := queue.PgxTx(tx); ok {
			if t, err = alerts.ResolveTx(ctx, ptx, id, now, actor); err != nil {
				return queue.Changes{}, err
			}
			if e.hooks != nil {
				return queue.Changes{}, e.hooks.EnqueueAlertsTx(ctx, ptx, []alerts.Transition{t})
			}
			return queue.Changes{}, nil
		}
		if t, err = e.alerts.Resolve(ctx, id, now, actor); err != nil {
			return queue.Changes{}, err
		}
		if e.hooks != nil {
			return queue.Changes{}, e.hooks.EnqueueAlerts(ctx, []alerts.Transition{t})
		}
		return queue.Changes{}, nil
	})
	if err != nil {
		return alerts.Alert{}, translate(err, fmt.Sprintf("resolve alert %d", id))
	}
	return t.Alert, nil
}
