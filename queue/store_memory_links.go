package queue

import (
	"context"
	"slices"
	"sort"
	"sync"
	"time"
)

// MemoryLinkStore is the embedded mode's LinkStore. One process polls, so
// its lease only has to behave like the PostgreSQL one, not span machines.
type MemoryLinkStore struct {
	mu    sync.Mutex
	links map[int64]*Link
	now   func() time.Time
}

var _ LinkStore = (*MemoryLinkStore)(nil)

// NewMemoryLinkStore returns an empty MemoryLinkStore on the clock now
// (time.Now when nil).
func NewMemoryLinkStore(now func() time.Time) *MemoryLinkStore {
	if now == nil {
		now = time.Now
	}
	return &MemoryLinkStore{links: map[int64]*Link{}, now: now}
}

func cloneLink(l *Link) Link {
	c := *l
	if l.Outside != nil {
		o := *l.Outside
		o.Calls = slices.Clone(o.Calls)
		c.Outside = &o
	}
	return c
}

// PutLink implements LinkStore.
func (m *MemoryLinkStore) PutLink(ctx context.Context, l Link) (Link, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now().UTC().Truncate(time.Microsecond)
	l.CreatedAt, l.UpdatedAt = now, now
	if old, ok := m.links[l.InstitutionID]; ok {
		l.CreatedAt = old.CreatedAt
	}
	l.LinkStatus = LinkStatus{Breaker: BreakerClosed}
	l.LeaseOwner, l.LeaseUntil = "", nil
	c := cloneLink(&l)
	m.links[l.InstitutionID] = &c
	return l, nil
}

// Link implements LinkStore.
func (m *MemoryLinkStore) Link(ctx context.Context, id int64) (Link, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	l, ok := m.links[id]
	if !ok {
		return Link{}, notFoundLink(id)
	}
	return cloneLink(l), nil
}

// Links implements LinkStore.
func (m *MemoryLinkStore) Links(ctx context.Context) ([]Link, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]Link, 0, len(m.links))
	for _, l := range m.links {
		out = append(out, cloneLink(l))
	}
	sort.Slice(out, func(a, b int) bool { return out[a].InstitutionID < out[b].InstitutionID })
	return out, nil
}

// DeleteLink implements LinkStore.
func (m *MemoryLinkStore) DeleteLink(ctx context.Context, id int64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.links[id]; !ok {
		return notFoundLink(id)
	}
	delete(m.links, id)
	return nil
}

// SetLinkStatus implements LinkStore.
func (m *MemoryLinkStore) SetLinkStatus(ctx context.Context, id int64, owner string, st LinkStatus) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	l, ok := m.links[id]
	if !ok {
		return false, notFoundLink(id)
	}
	if owner != "" && !m.holds(l, owner) {
		return false, nil
	}
	c := cloneLink(&Link{LinkStatus: st})
	l.LinkStatus = c.LinkStatus
	return true, nil
}

func (m *MemoryLinkStore) holds(l *Link, owner string) bool {
	return l.LeaseOwner == owner && l.LeaseUntil != nil && l.LeaseUntil.After(m.now())
}

// AcquireLinkLease implements LinkStore.
func (m *MemoryLinkStore) AcquireLinkLease(ctx context.Context, id int64, owner string, ttl time.Duration) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	l, ok := m.links[id]
	if !ok {
		return false, notFoundLink(id)
	}
	now := m.now()
	if l.Mode != LinkPoll || (l.LeaseOwner != owner && l.LeaseUntil != nil && l.LeaseUntil.After(now)) {
		return false, nil
	}
	until := now.Add(ttl).UTC()
	l.LeaseOwner, l.LeaseUntil = owner, &until
	return true, nil
}

// ReleaseLinkLease implements LinkStore.
func (m *MemoryLinkStore) ReleaseLinkLease(ctx context.Context, id int64, owner string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if l, ok := m.links[id]; ok && l.LeaseOwner == owner {
		l.LeaseOwner, l.LeaseUntil = "", nil
	}
	return nil
}
