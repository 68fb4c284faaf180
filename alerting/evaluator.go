package alerting

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/queueless/queueless/alerts"
	"github.com/queueless/queueless/queue"
	"github.com/queueless/queueless/webhooks"
)

// Evaluator evaluates institutions' alerts. In PostgreSQL mode (the
// queue's Update gives a pgx transaction) alerts are read and written with
// alerts.StateTx and alerts.ApplyTx and their webhooks with
// webhooks.EnqueueAlertsTx, all in the transaction that holds the
// institution's lock; in embedded mode with the memory stores, inside the
// queue's critical section.
type Evaluator struct {
	queue  queue.Store
	alerts alerts.Store
	hooks  *webhooks.Service
	now    func() time.Time
	unit   time.Duration
	log    *slog.Logger

	mu      sync.Mutex
	opening map[int64]*openSince // embedded mode: read incrementally
}

// Config builds an Evaluator.
type Config struct {
	Queue  queue.Store
	Alerts alerts.Store
	// Hooks receives the webhooks of each applied transition; nil: none.
	Hooks *webhooks.Service
	// Now is the clock; time.Now when nil. Tests set a controlled one.
	Now func() time.Time
	// Unit is how long one threshold "minute" lasts (alerts.Thresholds.Unit):
	// zero in production; a real-clock test sets a second.
	Unit   time.Duration
	Logger *slog.Logger
}

// New returns an Evaluator.
func New(cfg Config) *Evaluator {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Evaluator{queue: cfg.Queue, alerts: cfg.Alerts, hooks: cfg.Hooks, now: cfg.Now, unit: cfg.Unit,
		log: cfg.Logger, opening: map[int64]*openSince{}}
}

// Store returns the alerts store.
func (e *Evaluator) Store() alerts.Store { return e.alerts }

func (e *Evaluator) clock() time.Time { return e.now().UTC().Truncate(time.Microsecond) }

// EvaluateAll evaluates every institution and returns the transitions
// applied. An institution that fails is logged and does not stop the
// others; the errors are returned joined.
func (e *Evaluator) EvaluateAll(ctx context.Context) ([]alerts.Transition, error) {
	insts, err := e.queue.Institutions(ctx)
	if err != nil {
		return nil, fmt.Errorf("alert evaluation: list institutions: %w", err)
	}
	var all []alerts.Transition
	var errs []error
	for _, inst := range insts {
		done, err := e.Evaluate(ctx, inst.ID)
		if err != nil {
			e.log.Warn("alert evaluation failed", "institution_id", inst.ID, "error", err.Error())
			errs = append(errs, err)
			continue
		}
		for _, t := range done {
			e.log.Info("alert "+string(t.Action), "alert_id", t.Alert.ID, "institution_id", t.Alert.InstitutionID,
				"kind", string(t.Alert.Kind), "level", string(t.Alert.Level))
		}
		all = append(all, done...)
	}
	return all, errors.Join(errs...)
}

// Evaluate evaluates one institution under its lock and returns the
// transitions that took effect (each has fired its webhooks).
func (e *Evaluator) Evaluate(ctx context.Context, id int64) ([]alerts.Transition, error) {
	var memOpened time.Time
	if e.alerts != nil && !e.pgMode() {
		var err error
		if memOpened, err = e.openedMemory(ctx, id); err != nil {
			return nil, err
		}
	}
	var done []alerts.Transition
	_, err := e.queue.Update(ctx, id, func(ctx context.Context, tx queue.Tx) (queue.Changes, error) {
		inst := tx.Institution()
		obs := alerts.Observation{InstitutionID: id, Open: inst.Status == queue.StatusOpen, Waiting: inst.WaitingCount}
		if inst.LastCallAt != nil {
			obs.LastCallAt = *inst.LastCallAt
		}
		if obs.Waiting > 0 {
			oldest, err := tx.Waiting(ctx, 1)
			if err != nil {
				return queue.Changes{}, err
			}
			if len(oldest) > 0 {
				obs.OldestWaitingAt = oldest[0].IssuedAt
			}
		}
		th := inst.Thresholds
		th.Unit = e.unit
		if th.Validate() != nil {
			th = alerts.DefaultThresholds() // not stored by this version: the defaults
			th.Unit = e.unit
		}
		now := e.clock()
		if ptx, ok := queue.PgxTx(tx); ok {
			opened, err := openedTx(ctx, ptx, id)
			if err != nil {
				return queue.Changes{}, err
			}
			obs.OpenSince = opened
			st, err := alerts.StateTx(ctx, ptx, id)
			if err != nil {
				return queue.Changes{}, err
			}
			if done, err = alerts.ApplyTx(ctx, ptx, alerts.Evaluate(now, th, obs, st)); err != nil {
				return queue.Changes{}, err
			}
			if e.hooks != nil {
				return queue.Changes{}, e.hooks.EnqueueAlertsTx(ctx, ptx, done)
			}
			return queue.Changes{}, nil
		}
		obs.OpenSince = memOpened
		st, err := e.alerts.State(ctx, id)
		if err != nil {
			return queue.Changes{}, err
		}
		if done, err = e.alerts.Apply(ctx, alerts.Evaluate(now, th, obs, st)); err != nil {
			return queue.Changes{}, err
		}
		if e.hooks != nil {
			return queue.Changes{}, e.hooks.EnqueueAlerts(ctx, done)
		}
		return queue.Changes{}, nil
	})
	if err != nil {
		return nil, translate(err, fmt.Sprintf("evaluate alerts of institution %d", id))
	}
	return done, nil
}

// pgMode reports whether the queue store is PostgreSQL's (its Update
// hands out a pgx transaction).
func (e *Evaluator) pgMode() bool {
	_, ok := e.queue.(*queue.PostgresStore)
	return ok
}

// translate turns a driver error into the contract's unavailable, and
// the alerts package's errors into not_found and invalid_state; the
// queue's own errors pass through.
func translate(err error, what string) error {
	var qe *queue.Error
	switch {
	case err == nil:
		return nil
	case errors.Is(err, alerts.ErrNotFound):
		return queue.Errorf(queue.CodeNotFound, "alert not found")
	case errors.Is(err, alerts.ErrInvalidState):
		return queue.Errorf(queue.CodeInvalidState, "%s", err.Error())
	case errors.As(err, &qe):
		return err
	}
	return queue.TranslateDBError(err, what)
}

// openedSQL finds when the institution last became open: its creation
// open, or a change of status to open (the audit trail, through the
// partial index events_status_idx of migration 00055).
const openedSQL = `SELECT at FROM events
	WHERE institution_id = $1 AND kind IN ('institution.created', 'institution.updated')
	  AND (data->'status'->>'to' = 'open' OR (kind = 'institution.created' AND data->>'status' = 'open'))
	ORDER BY at DESC LIMIT 1`

func openedTx(ctx context.Context, tx pgx.Tx, id int64) (time.Time, error) {
	var at time.Time
	err := tx.QueryRow(ctx, openedSQL, id).Scan(&at)
	if errors.Is(err, pgx.ErrNoRows) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("when institution %d opened: %w", id, err)
	}
	return at.UTC(), nil
}
