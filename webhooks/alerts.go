package webhooks

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/queueless/queueless/alerts"
	"github.com/queueless/queueless/queue"
)

// Alert webhooks (API.md v1.1, "Insight, in detail"): each transition the
// alert evaluation applies (a raise, an escalation, a resolve) fires
// alert.raised, alert.escalated or alert.resolved, once, to the webhooks
// that want the event and the institution and that asked for the level
// (alerts.Transition.Notifies: the one rule of which level reaches whom).
// Deliveries are written in the transaction that applied the transition.

// validateLevels checks the levels a webhook asks for (alerts.ParseLevels).
func (s *Spec) validateLevels() error {
	if _, err := alerts.ParseLevels(s.Levels); err != nil {
		var ve *alerts.ValidationError
		if errors.As(err, &ve) {
			return queue.Errorf(queue.CodeInvalid, "%s", ve.Message)
		}
		return err
	}
	if s.Levels == nil {
		s.Levels = []string{}
	}
	return nil
}

// levels returns w's levels as alerts.Levels (checked when it was made).
func (w *Webhook) levels() []alerts.Level {
	out := make([]alerts.Level, len(w.Levels))
	for i, l := range w.Levels {
		out[i] = alerts.Level(l)
	}
	return out
}

// AlertPayload is the JSON body of an alert delivery.
type AlertPayload struct {
	Event string `json:"event"`
	// EventID is the alert's id: an alert's deliveries share it, and
	// X-QueueLess-Delivery tells repeats apart.
	EventID       int64        `json:"event_id"`
	OccurredAt    time.Time    `json:"occurred_at"`
	InstitutionID int64        `json:"institution_id"`
	Actor         string       `json:"actor"`
	Alert         alerts.Alert `json:"alert"`
	// Data: {"from": level before, "to": level after} for an escalation,
	// {"level": level} otherwise.
	Data map[string]string `json:"data"`
}

// alertDelivery is one delivery of one transition to one webhook.
type alertDelivery struct {
	webhook int64
	cand    candidate
}

func alertCandidate(t alerts.Transition) (candidate, error) {
	a := t.Alert
	p := AlertPayload{Event: t.Event(), EventID: a.ID, InstitutionID: a.InstitutionID, Actor: queue.ActorSystem, Alert: a,
		Data: map[string]string{"level": string(a.Level)}}
	switch t.Action {
	case alerts.ActionRaise:
		p.OccurredAt = a.OpenedAt
	case alerts.ActionEscalate:
		p.OccurredAt = *a.EscalatedAt
		p.Data = map[string]string{"from": string(t.From), "to": string(a.Level)}
	case alerts.ActionResolve:
		p.OccurredAt = *a.ResolvedAt
		p.Actor = a.ResolvedBy
	}
	body, err := json.Marshal(p)
	if err != nil {
		return candidate{}, fmt.Errorf("alert webhook payload: %w", err)
	}
	return candidate{event: p.Event, eventID: a.ID, inst: a.InstitutionID, at: p.OccurredAt, payload: body}, nil
}

// alertDeliveries pairs each transition with every webhook that hears of
// it, in transition order and then webhook id.
func alertDeliveries(hooks []Webhook, ts []alerts.Transition) ([]alertDelivery, error) {
	slices.SortFunc(hooks, func(a, b Webhook) int { return int(a.ID - b.ID) })
	var out []alertDelivery
	for _, t := range ts {
		c, err := alertCandidate(t)
		if err != nil {
			return nil, err
		}
		for i := range hooks {
			if hooks[i].wants(c.event, c.inst) && t.Notifies(hooks[i].levels()) {
				out = append(out, alertDelivery{webhook: hooks[i].ID, cand: c})
			}
		}
	}
	return out, nil
}

// EnqueueAlertsTx writes, in tx, the deliveries of the applied transitions
// ts and their jobs (PostgreSQL).
func (s *Service) EnqueueAlertsTx(ctx context.Context, tx pgx.Tx, ts []alerts.Transition) error {
	if len(ts) == 0 {
		return nil
	}
	ids, err := s.store.insertAlerts(ctx, tx, ts)
	if err != nil || len(ids) == 0 {
		return err
	}
	return s.jobs.InsertManyTx(ctx, tx, s.paramsOf(ids))
}

// EnqueueAlerts writes the deliveries of ts and their jobs (memory store);
// the deliveries are taken back if the jobs cannot be written.
func (s *Service) EnqueueAlerts(ctx context.Context, ts []alerts.Transition) error {
	if len(ts) == 0 {
		return nil
	}
	ids, err := s.store.insertAlerts(ctx, nil, ts)
	if err != nil || len(ids) == 0 {
		return err
	}
	if err := s.jobs.InsertMany(context.WithoutCancel(ctx), s.paramsOf(ids)); err != nil {
		s.store.forget(ids)
		return queue.Errorf(queue.CodeUnavailable, "enqueue alert webhook deliveries: %v", err)
	}
	return nil
}

func (m *MemoryStore) insertAlerts(_ context.Context, _ pgx.Tx, ts []alerts.Transition) ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	pairs, err := alertDeliveries(slices.Clone(m.hooks), ts)
	if err != nil {
		return nil, err
	}
	ids := make([]string, 0, len(pairs))
	for _, p := range pairs {
		d := &Delivery{ID: uuid.NewString(), WebhookID: p.webhook, Event: p.cand.event, EventID: p.cand.eventID,
			InstitutionID: p.cand.inst, Payload: p.cand.payload, Status: StatusPending, CreatedAt: p.cand.at}
		m.deliveries[d.ID] = d
		m.order = append(m.order, d.ID)
		ids = append(ids, d.ID)
	}
	return ids, nil
}

const insertAlertDeliveriesSQL = `INSERT INTO webhook_deliveries (id, webhook_id, event, event_id, institution_id,
		payload, status, attempts, created_at, updated_at)
	SELECT gen_random_uuid(), d.webhook_id, d.event, d.event_id, d.inst, d.payload, 'pending', 0, d.at, d.at
	FROM unnest($1::bigint[], $2::text[], $3::bigint[], $4::bigint[], $5::jsonb[], $6::timestamptz[])
		WITH ORDINALITY AS d(webhook_id, event, event_id, inst, payload, at, ord)
	ORDER BY d.ord
	RETURNING id`

func (s *PostgresStore) insertAlerts(ctx context.Context, tx pgx.Tx, ts []alerts.Transition) ([]string, error) {
	rows, _ := tx.Query(ctx, `SELECT `+webhookColumns+` FROM webhooks`)
	hooks, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Webhook, error) { return scanWebhook(r) })
	if err != nil {
		return nil, fmt.Errorf("alert webhooks: read webhooks: %w", err)
	}
	pairs, err := alertDeliveries(hooks, ts)
	if err != nil || len(pairs) == 0 {
		return nil, err
	}
	n := len(pairs)
	hookIDs, events, eventIDs, insts, payloads, ats := make([]int64, n), make([]string, n), make([]int64, n), make([]int64, n), make([]string, n), make([]time.Time, n)
	for i, p := range pairs {
		hookIDs[i], events[i], eventIDs[i], insts[i], payloads[i], ats[i] = p.webhook, p.cand.event, p.cand.eventID, p.cand.inst, string(p.cand.payload), p.cand.at
	}
	rows, _ = tx.Query(ctx, insertAlertDeliveriesSQL, hookIDs, events, eventIDs, insts, payloads, ats)
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("insert alert webhook deliveries: %w", err)
	}
	return out, nil
}
