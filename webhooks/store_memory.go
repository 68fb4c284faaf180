package webhooks

import (
	"context"
	"slices"
	"sync"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/queueless/queueless/queue"
)

// MemoryStore keeps webhooks in memory (embedded mode).
type MemoryStore struct {
	mu         sync.Mutex
	hooks      []Webhook
	deliveries map[string]*Delivery
	order      []string // delivery ids in insertion order
	max        int      // most deliveries kept (prune)
}

// MaxMemoryDeliveries bounds embedded mode's delivery log: past it the
// oldest delivered ones go first, then the oldest failed ones; pending
// deliveries are always kept.
const MaxMemoryDeliveries = 20000

var _ Store = (*MemoryStore)(nil)

// NewMemoryStore returns an empty store.
func NewMemoryStore() *MemoryStore {
	return &MemoryStore{deliveries: map[string]*Delivery{}, max: MaxMemoryDeliveries}
}

// CreateWebhook implements Store.
func (m *MemoryStore) CreateWebhook(_ context.Context, w Webhook) (Webhook, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	w.ID = int64(len(m.hooks) + 1)
	m.hooks = append(m.hooks, w)
	return w, nil
}

// Webhook implements Store.
func (m *MemoryStore) Webhook(_ context.Context, id int64) (Webhook, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.webhook(id)
}

func (m *MemoryStore) webhook(id int64) (Webhook, error) {
	if id < 1 || id > int64(len(m.hooks)) {
		return Webhook{}, queue.Errorf(queue.CodeNotFound, "webhook %d not found", id)
	}
	return m.hooks[id-1], nil
}

// Webhooks implements Store.
func (m *MemoryStore) Webhooks(context.Context) ([]Webhook, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.hooks), nil
}

// Deliveries implements Store.
func (m *MemoryStore) Deliveries(_ context.Context, webhookID int64, status string, limit int) ([]Delivery, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Delivery
	for i := len(m.order) - 1; i >= 0 && len(out) < limit; i-- {
		d := m.deliveries[m.order[i]]
		if d.WebhookID == webhookID && (status == "" || d.Status == status) {
			out = append(out, *d)
		}
	}
	return out, nil
}

// Delivery implements Store.
func (m *MemoryStore) Delivery(_ context.Context, id string) (Delivery, Webhook, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	d, ok := m.deliveries[id]
	if !ok {
		return Delivery{}, Webhook{}, queue.Errorf(queue.CodeNotFound, "delivery %s not found", id)
	}
	w, err := m.webhook(d.WebhookID)
	return *d, w, err
}

// Record implements Store.
func (m *MemoryStore) Record(_ context.Context, id string, o Outcome) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	d, ok := m.deliveries[id]
	if !ok {
		return queue.Errorf(queue.CodeNotFound, "delivery %s not found", id)
	}
	d.Attempts++
	d.Status, d.NextAttemptAt, d.LastError = o.Status, o.Next, nil
	if o.Error != "" {
		e := o.Error
		d.LastError = &e
	}
	return nil
}

// Requeue implements Store. The job is inserted under the store's lock, so
// that two retries of one delivery make one job.
func (m *MemoryStore) Requeue(ctx context.Context, webhookID int64, id string, enqueue func(context.Context, pgx.Tx) error) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	d, ok := m.deliveries[id]
	if !ok || d.WebhookID != webhookID {
		return queue.Errorf(queue.CodeNotFound, "delivery %s of this webhook not found", id)
	}
	if d.Status != StatusFailed {
		return queue.Errorf(queue.CodeInvalidState, "delivery %s is %s: only a failed delivery can be retried", id, d.Status)
	}
	if err := enqueue(ctx, nil); err != nil {
		return err
	}
	d.Status, d.NextAttemptAt = StatusPending, nil
	return nil
}

func (m *MemoryStore) subscribers(context.Context, pgx.Tx) ([]Webhook, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]Webhook, len(m.hooks))
	for i, w := range m.hooks {
		out[i] = Webhook{ID: w.ID, Events: slices.Clone(w.Events), InstitutionIDs: slices.Clone(w.InstitutionIDs)}
	}
	return out, nil
}

func (m *MemoryStore) queueSubscribers(*pgx.Batch) *[]Webhook {
	hooks, _ := m.subscribers(context.Background(), nil)
	return &hooks
}

func (m *MemoryStore) insert(_ context.Context, _ pgx.Tx, cands []candidate) ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var ids []string
	for _, c := range cands {
		for _, w := range m.hooks {
			if !w.wants(c.event, c.inst) {
				continue
			}
			d := &Delivery{ID: uuid.NewString(), WebhookID: w.ID, Event: c.event, EventID: c.eventID,
				InstitutionID: c.inst, Payload: c.payload, Status: StatusPending, CreatedAt: c.at}
			m.deliveries[d.ID] = d
			m.order = append(m.order, d.ID)
			ids = append(ids, d.ID)
		}
	}
	m.prune()
	return ids, nil
}

// prune brings the log down to 90% of max once it passes max: delivered
// deliveries first, oldest first, then failed ones.
func (m *MemoryStore) prune() {
	if len(m.deliveries) <= m.max {
		return
	}
	excess := len(m.deliveries) - m.max*9/10
	for _, status := range []string{StatusDelivered, StatusFailed} {
		for _, id := range m.order {
			if excess == 0 {
				break
			}
			if d, ok := m.deliveries[id]; ok && d.Status == status {
				delete(m.deliveries, id)
				excess--
			}
		}
	}
	m.order = slices.DeleteFunc(m.order, func(id string) bool { _, ok := m.deliveries[id]; return !ok })
}

func (m *MemoryStore) forget(ids []string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, id := range ids {
		delete(m.deliveries, id)
	}
	m.order = slices.DeleteFunc(m.order, func(id string) bool { _, ok := m.deliveries[id]; return !ok })
}
