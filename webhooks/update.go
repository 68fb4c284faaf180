package webhooks

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// Patch changes some of a webhook's filters; nil fields stay. The URL and
// the secret never change: a new receiver is a new webhook.
type Patch struct {
	Events         *[]string
	InstitutionIDs *[]int64
	Levels         *[]string
}

// Update applies p to webhook id and returns it, without its secret.
func (s *Service) Update(ctx context.Context, id int64, p Patch) (Webhook, error) {
	w, err := s.store.Webhook(ctx, id)
	if err != nil {
		return Webhook{}, err
	}
	spec := Spec{URL: w.URL, Events: w.Events, InstitutionIDs: w.InstitutionIDs, Levels: w.Levels}
	if p.Events != nil {
		spec.Events = *p.Events
	}
	if p.InstitutionIDs != nil {
		spec.InstitutionIDs = *p.InstitutionIDs
	}
	if p.Levels != nil {
		spec.Levels = *p.Levels
	}
	if err := spec.Validate(); err != nil {
		return Webhook{}, err
	}
	w.Events, w.InstitutionIDs, w.Levels = spec.Events, spec.InstitutionIDs, spec.Levels
	w, err = s.store.UpdateWebhook(ctx, w)
	w.Secret = ""
	return w, err
}

// UpdateWebhook implements Store.
func (m *MemoryStore) UpdateWebhook(_ context.Context, w Webhook) (Webhook, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	old, err := m.webhook(w.ID)
	if err != nil {
		return Webhook{}, err
	}
	old.Events, old.InstitutionIDs, old.Levels = w.Events, w.InstitutionIDs, w.Levels
	m.hooks[w.ID-1] = old
	return old, nil
}

// UpdateWebhook implements Store.
func (s *PostgresStore) UpdateWebhook(ctx context.Context, w Webhook) (Webhook, error) {
	got, err := scanWebhook(s.pool.QueryRow(ctx, `UPDATE webhooks SET events = $2, institution_ids = $3, levels = $4
		WHERE id = $1 RETURNING `+webhookColumns, w.ID, w.Events, w.InstitutionIDs, w.Levels))
	if errors.Is(err, pgx.ErrNoRows) {
		return Webhook{}, notFound(fmt.Sprintf("webhook %d", w.ID))
	}
	if err != nil {
		return Webhook{}, unavailable("update webhook", err)
	}
	return got, nil
}
