package notify

import (
	"context"
	"sort"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/queueless/queueless/queue"
)

// MaxMemoryDeliveries bounds the embedded delivery log: past it the oldest
// finished deliveries (sent, failed, suppressed) are dropped.
const MaxMemoryDeliveries = 20000

type deliveryKey struct {
	id      int64
	channel string
}

// MemoryStore keeps everything in memory (embedded mode).
type MemoryStore struct {
	mu         sync.Mutex
	deliveries map[deliveryKey]*Delivery
	order      []deliveryKey // insertion order, for pruning
	phones     map[string]*Phone
	subs       map[string][]byte
	key        string
	max        int
}

var _ Store = (*MemoryStore)(nil)

// NewMemoryStore returns an empty store.
func NewMemoryStore() *MemoryStore {
	return &MemoryStore{deliveries: map[deliveryKey]*Delivery{}, phones: map[string]*Phone{},
		subs: map[string][]byte{}, max: MaxMemoryDeliveries}
}

// LoadOrStore implements push.KeyStore.
func (m *MemoryStore) LoadOrStore(_ context.Context, candidate string) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.key == "" {
		m.key = candidate
	}
	return m.key, nil
}

func (m *MemoryStore) insert(_ context.Context, _ pgx.Tx, sms, pushes []Delivery) ([]Delivery, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]Delivery, 0, len(sms)+len(pushes))
	out = append(out, sms...)
	for _, d := range pushes {
		if _, ok := m.subs[d.TicketID]; ok {
			out = append(out, d)
		}
	}
	for i := range out {
		d := out[i]
		k := deliveryKey{d.NotificationID, d.Channel}
		if _, dup := m.deliveries[k]; !dup {
			m.order = append(m.order, k)
		}
		m.deliveries[k] = &d
	}
	m.prune()
	return out, nil
}

// prune drops the oldest finished deliveries beyond the cap; pending ones
// stay, their jobs will record them.
func (m *MemoryStore) prune() {
	if len(m.deliveries) <= m.max {
		return
	}
	keep := m.order[:0]
	excess := len(m.deliveries) - m.max*9/10 // prune in steps, not at every insert
	for _, k := range m.order {
		d, ok := m.deliveries[k]
		if !ok {
			continue
		}
		if excess > 0 && d.Status != StatusPending {
			delete(m.deliveries, k)
			excess--
			continue
		}
		keep = append(keep, k)
	}
	m.order = keep
}

func (m *MemoryStore) forget(ds []Delivery) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, d := range ds {
		delete(m.deliveries, deliveryKey{d.NotificationID, d.Channel})
	}
}

// Delivery implements Store.
func (m *MemoryStore) Delivery(_ context.Context, id int64, channel string) (Delivery, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	d, ok := m.deliveries[deliveryKey{id, channel}]
	if !ok {
		return Delivery{}, queue.Errorf(queue.CodeNotFound, "delivery %d/%s not found", id, channel)
	}
	return *d, nil
}

// Record implements Store.
func (m *MemoryStore) Record(_ context.Context, id int64, channel, status, lastError string, attempt bool, at time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	d, ok := m.deliveries[deliveryKey{id, channel}]
	if !ok {
		return nil // pruned
	}
	d.Status, d.UpdatedAt = status, at
	d.LastError = nil
	if lastError != "" {
		e := lastError
		d.LastError = &e
	}
	if attempt {
		d.Attempts++
	}
	return nil
}

// TicketDeliveries implements Store.
func (m *MemoryStore) TicketDeliveries(_ context.Context, ticketID string) ([]Delivery, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Delivery
	for _, d := range m.deliveries {
		if d.TicketID == ticketID {
			out = append(out, *d)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].NotificationID != out[j].NotificationID {
			return out[i].NotificationID < out[j].NotificationID
		}
		return out[i].Channel < out[j].Channel
	})
	return out, nil
}

// LastTexts implements Store.
func (m *MemoryStore) LastTexts(_ context.Context, ids []string) (map[string]Delivery, error) {
	want := map[string]bool{}
	for _, id := range ids {
		want[id] = true
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	out := map[string]Delivery{}
	for _, d := range m.deliveries {
		if d.Channel != ChannelSMS || !want[d.TicketID] {
			continue
		}
		if cur, ok := out[d.TicketID]; !ok || d.NotificationID > cur.NotificationID {
			out[d.TicketID] = *d
		}
	}
	return out, nil
}

func (m *MemoryStore) phone(number string) *Phone {
	p, ok := m.phones[number]
	if !ok {
		p = &Phone{Number: number}
		m.phones[number] = p
	}
	return p
}

// Phone implements Store.
func (m *MemoryStore) Phone(_ context.Context, number string) (Phone, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if p, ok := m.phones[number]; ok {
		return *p, nil
	}
	return Phone{Number: number}, nil
}

// Phones implements Store.
func (m *MemoryStore) Phones(_ context.Context, numbers []string) (map[string]Phone, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := map[string]Phone{}
	for _, n := range numbers {
		if p, ok := m.phones[n]; ok {
			out[n] = *p
		}
	}
	return out, nil
}

// SetLastTicket implements Store.
func (m *MemoryStore) SetLastTicket(_ context.Context, number, ticketID string, _ time.Time) (Phone, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	p := m.phone(number)
	p.LastTicketID = ticketID
	return *p, nil
}

// SetCode implements Store.
func (m *MemoryStore) SetCode(_ context.Context, number, hash string, expires, _ time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	p := m.phone(number)
	p.CodeHash, p.CodeExpiresAt, p.CodeTries = hash, &expires, 0
	return nil
}

// UseTry implements Store.
func (m *MemoryStore) UseTry(_ context.Context, number string, maxTries int, now time.Time) (string, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	p, ok := m.phones[number]
	if !ok || p.CodeHash == "" || p.CodeExpiresAt == nil || !now.Before(*p.CodeExpiresAt) || p.CodeTries >= maxTries {
		return "", false, nil
	}
	p.CodeTries++
	return p.CodeHash, true, nil
}

// MarkVerified implements Store.
func (m *MemoryStore) MarkVerified(_ context.Context, number string, at time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	p := m.phone(number)
	p.VerifiedAt, p.CodeHash, p.CodeExpiresAt = &at, "", nil
	return nil
}

// SetOptOut implements Store.
func (m *MemoryStore) SetOptOut(_ context.Context, number string, out bool, _ time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.phone(number).OptedOut = out
	return nil
}

// Subscribe implements Store.
func (m *MemoryStore) Subscribe(_ context.Context, ticketID string, sub []byte, _ time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.subs[ticketID] = append([]byte(nil), sub...)
	return nil
}

// Subscription implements Store.
func (m *MemoryStore) Subscription(_ context.Context, ticketID string) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.subs[ticketID]
	if !ok {
		return nil, queue.Errorf(queue.CodeNotFound, "ticket %s has no push subscription", ticketID)
	}
	return s, nil
}

// Unsubscribe implements Store.
func (m *MemoryStore) Unsubscribe(_ context.Context, ticketID string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.subs, ticketID)
	return nil
}
