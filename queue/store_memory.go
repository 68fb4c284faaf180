package queue

import (
	"context"
	"slices"
	"sort"
	"sync"
	"time"
)

// MemoryStore is the embedded mode's Store: everything in maps behind one
// lock. Update holds the lock for the whole callback, which is the memory
// equivalent of the institution row lock (coarser, and enough for one process).
type MemoryStore struct {
	mu       sync.RWMutex
	insts    map[int64]*Institution
	nextInst int64
	tickets  map[string]*Ticket
	byInst   map[int64][]*Ticket // in number order
	// held are the tickets joined in a pre-queue window, without a number
	// until the draw; drawn, they move to byInst.
	held      map[int64][]*Ticket
	notifs    map[string][]Notification
	nextNotif int64
	audit     map[int64][]AuditEvent
	nextAudit int64
	idem      map[idemKey]IdempotencyKey
	outbox    Outbox // nil: no deliveries (outbox.go)
}

type idemKey struct {
	inst int64
	key  string
}

var _ Store = (*MemoryStore)(nil)

// NewMemoryStore returns an empty MemoryStore.
func NewMemoryStore() *MemoryStore {
	return &MemoryStore{
		insts: map[int64]*Institution{}, tickets: map[string]*Ticket{}, byInst: map[int64][]*Ticket{}, held: map[int64][]*Ticket{},
		notifs: map[string][]Notification{}, audit: map[int64][]AuditEvent{}, idem: map[idemKey]IdempotencyKey{},
	}
}

func cloneInst(i *Institution) Institution {
	c := *i
	c.RecentCalls = slices.Clone(i.RecentCalls)
	c.Services = slices.Clone(i.Services)
	c.Counters = slices.Clone(i.Counters)
	c.EscalationMinutes = slices.Clone(i.EscalationMinutes)
	for k := range c.Counters {
		c.Counters[k].Services = slices.Clone(c.Counters[k].Services)
	}
	return c
}

func notFoundInst(id int64) error { return Errorf(CodeNotFound, "institution %d not found", id) }

func notFoundTicket() error { return Errorf(CodeNotFound, "ticket not found") }

// Update implements Store.
func (m *MemoryStore) Update(ctx context.Context, id int64, fn func(ctx context.Context, tx Tx) (Changes, error)) (Changes, error) {
	if err := ctx.Err(); err != nil {
		return Changes{}, Errorf(CodeUnavailable, "the request was cancelled or timed out")
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	inst, ok := m.insts[id]
	if !ok {
		return Changes{}, notFoundInst(id)
	}
	ch, err := fn(ctx, &memTx{m: m, inst: cloneInst(inst)})
	if err != nil {
		return Changes{}, err
	}
	// Check everything before writing anything: all or nothing.
	var last int64
	if l := m.byInst[id]; len(l) > 0 {
		last = l[len(l)-1].Number
	}
	var phones []string
	for _, t := range ch.Inserted {
		if t.Status == TicketHeld {
			if t.Phone != nil {
				phones = append(phones, *t.Phone)
			}
			continue
		}
		// Numbers are issued in order: anything else is the unique
		// (institution, number) constraint failing.
		if t.Number <= last {
			return Changes{}, Errorf(CodeInternal, "ticket number %d issued twice", t.Number)
		}
		last = t.Number
		if t.Phone != nil {
			phones = append(phones, *t.Phone)
		}
	}
	// The memory equivalent of the unique index tickets_active_phone_key.
	if held, _ := (&memTx{m: m, inst: *inst}).ActivePhones(ctx, phones); len(held) > 0 {
		return Changes{}, Errorf(CodeDuplicateTicket, "this phone already holds an active ticket here")
	}
	// Ids first, so that the outbox sees them; handed back if it fails.
	notifBase, auditBase := m.nextNotif, m.nextAudit
	for i := range ch.Notifications {
		ch.Notifications[i].ID = notifBase + int64(i) + 1
	}
	for i := range ch.Audit {
		ch.Audit[i].ID = auditBase + int64(i) + 1
		ch.Audit[i].InstitutionID = id
	}
	for i := range ch.Inserted {
		ch.Inserted[i].InstitutionID = id
	}
	if m.outbox != nil && !ch.empty() {
		if err := m.outbox.Enqueue(ctx, &ch); err != nil {
			return Changes{}, err
		}
	}
	if ch.Institution != nil {
		c := cloneInst(ch.Institution)
		m.insts[id] = &c
	} else if ch.DayState != nil {
		m.insts[id].Day = ch.DayState.clone()
	}
	for _, t := range ch.Inserted {
		t := t
		t.Place = placeOf(&t)
		m.tickets[t.ID] = &t
		if t.Status == TicketHeld {
			m.held[id] = append(m.held[id], &t)
			continue
		}
		m.byInst[id] = append(m.byInst[id], &t)
	}
	var drawn []*Ticket
	for _, t := range ch.Updated {
		if p, ok := m.tickets[t.ID]; ok {
			t.Place = placeOf(&t)
			if p.Status == TicketHeld && t.Number != 0 {
				drawn = append(drawn, p)
			}
			*p = t
		}
	}
	if len(drawn) > 0 {
		// Drawn tickets got the next numbers: they join byInst in number order.
		slices.SortFunc(drawn, func(a, b *Ticket) int { return int(a.Number - b.Number) })
		m.byInst[id] = append(m.byInst[id], drawn...)
		m.held[id] = slices.DeleteFunc(m.held[id], func(t *Ticket) bool { return t.Number != 0 })
	}
	for _, n := range ch.Notifications {
		m.notifs[n.TicketID] = append(m.notifs[n.TicketID], n)
	}
	m.nextNotif += int64(len(ch.Notifications))
	m.audit[id] = append(m.audit[id], ch.Audit...)
	m.nextAudit += int64(len(ch.Audit))
	for _, k := range ch.IdempotencyKeys {
		m.idem[idemKey{k.InstitutionID, k.Key}] = k
	}
	return ch, nil
}

// CreateInstitution implements Store.
func (m *MemoryStore) CreateInstitution(ctx context.Context, inst Institution, ev AuditEvent) (Institution, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.nextInst++
	inst.ID = m.nextInst
	c := cloneInst(&inst)
	m.insts[inst.ID] = &c
	m.nextAudit++
	ev.ID, ev.InstitutionID = m.nextAudit, inst.ID
	m.audit[inst.ID] = append(m.audit[inst.ID], ev)
	return inst, nil
}

// Institutions implements Store.
func (m *MemoryStore) Institutions(ctx context.Context) ([]Institution, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	out := make([]Institution, 0, len(m.insts))
	for _, i := range m.insts {
		out = append(out, cloneInst(i))
	}
	sort.Slice(out, func(a, b int) bool { return out[a].ID < out[b].ID })
	return out, nil
}

// Institution implements Store.
func (m *MemoryStore) Institution(ctx context.Context, id int64) (Institution, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	i, ok := m.insts[id]
	if !ok {
		return Institution{}, notFoundInst(id)
	}
	return cloneInst(i), nil
}

// Ticket implements Store.
func (m *MemoryStore) Ticket(ctx context.Context, id string) (Ticket, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	t, ok := m.tickets[id]
	if !ok {
		return Ticket{}, notFoundTicket()
	}
	return *t, nil
}

// WaitingBefore implements Store.
func (m *MemoryStore) WaitingBefore(ctx context.Context, institutionID, number int64) (int64, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	var n int64
	for _, t := range m.byInst[institutionID] {
		if t.Number >= number {
			break
		}
		if t.Status.Waiting() {
			n++
		}
	}
	return n, nil
}

// Tickets implements Store.
func (m *MemoryStore) Tickets(ctx context.Context, institutionID int64, statuses []TicketStatus, after int64, limit int) ([]Ticket, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	list := m.byInst[institutionID]
	i := sort.Search(len(list), func(i int) bool { return list[i].Number > after })
	out := []Ticket{}
	for ; i < len(list) && len(out) < limit; i++ {
		if slices.Contains(statuses, list[i].Status) {
			out = append(out, *list[i])
		}
	}
	return out, nil
}

// WaitingNumbers implements Store.
func (m *MemoryStore) WaitingNumbers(ctx context.Context, institutionID int64) ([]int64, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	out := []int64{}
	for _, t := range m.byInst[institutionID] {
		if t.Status.Waiting() {
			out = append(out, t.Number)
		}
	}
	return out, nil
}

// Notifications implements Store.
func (m *MemoryStore) Notifications(ctx context.Context, ticketID string) ([]Notification, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return append([]Notification{}, m.notifs[ticketID]...), nil
}

// Events implements Store.
func (m *MemoryStore) Events(ctx context.Context, institutionID, after int64, limit int) ([]AuditEvent, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	list := m.audit[institutionID]
	i := sort.Search(len(list), func(i int) bool { return list[i].ID > after })
	end := min(len(list), i+limit)
	return append([]AuditEvent{}, list[i:end]...), nil
}

// CallEvents implements Store.
func (m *MemoryStore) CallEvents(ctx context.Context, institutionID int64, from, to time.Time, after int64, limit int) ([]AuditEvent, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	list := m.audit[institutionID]
	out := []AuditEvent{}
	for i := sort.Search(len(list), func(i int) bool { return list[i].ID > after }); i < len(list) && len(out) < limit; i++ {
		e := list[i]
		if (e.Kind == AuditCalled || e.Kind == AuditRecalled) && !e.At.Before(from) && e.At.Before(to) {
			out = append(out, e)
		}
	}
	return out, nil
}

// DueExpiries implements Store.
func (m *MemoryStore) DueExpiries(ctx context.Context, now time.Time) ([]int64, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	var out []int64
	for id, list := range m.byInst {
		for _, t := range list {
			if t.Status == TicketServing && t.CheckedInAt == nil && t.Deadline != nil && !t.Deadline.After(now) {
				out = append(out, id)
				break
			}
		}
	}
	slices.Sort(out)
	return out, nil
}

// PurgeIdempotencyKeys implements Store.
func (m *MemoryStore) PurgeIdempotencyKeys(ctx context.Context, cutoff time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for k, v := range m.idem {
		if v.CreatedAt.Before(cutoff) {
			delete(m.idem, k)
		}
	}
	return nil
}

// Ping implements Store.
func (m *MemoryStore) Ping(ctx context.Context) error { return nil }

// memTx reads under the store's lock, held by Update.
type memTx struct {
	m    *MemoryStore
	inst Institution
}

func (tx *memTx) Institution() Institution { return cloneInst(&tx.inst) }

func (tx *memTx) Ticket(ctx context.Context, id string) (Ticket, error) {
	t, ok := tx.m.tickets[id]
	if !ok || t.InstitutionID != tx.inst.ID {
		return Ticket{}, notFoundTicket()
	}
	return *t, nil
}

func (tx *memTx) Waiting(ctx context.Context, limit int) ([]Ticket, error) {
	var out []Ticket
	for _, t := range tx.m.byInst[tx.inst.ID] {
		if len(out) == limit {
			break
		}
		if t.Status.Waiting() {
			out = append(out, *t)
		}
	}
	return out, nil
}

func (tx *memTx) Serving(ctx context.Context) ([]Ticket, error) {
	var out []Ticket
	for _, t := range tx.m.byInst[tx.inst.ID] {
		if t.Status == TicketServing {
			out = append(out, *t)
		}
	}
	return out, nil
}

func (tx *memTx) ActivePhones(ctx context.Context, phones []string) (map[string]bool, error) {
	held := map[string]bool{}
	if len(phones) == 0 {
		return held, nil
	}
	asked := make(map[string]bool, len(phones))
	for _, p := range phones {
		asked[p] = true
	}
	// One pass over the institution's tickets for the whole batch, not one
	// per phone.
	for _, list := range [][]*Ticket{tx.m.byInst[tx.inst.ID], tx.m.held[tx.inst.ID]} {
		for _, t := range list {
			if t.Phone != nil && asked[*t.Phone] && !t.Status.Final() {
				held[*t.Phone] = true
			}
		}
	}
	return held, nil
}

func (tx *memTx) Held(ctx context.Context) ([]Ticket, error) {
	var out []Ticket
	for _, t := range tx.m.held[tx.inst.ID] {
		if t.Status == TicketHeld {
			out = append(out, *t)
		}
	}
	return out, nil
}

func (tx *memTx) IdempotentTickets(ctx context.Context, keys []string, since time.Time) (map[string]string, error) {
	issued := map[string]string{}
	for _, key := range keys {
		if k, ok := tx.m.idem[idemKey{tx.inst.ID, key}]; ok && !k.CreatedAt.Before(since) {
			issued[key] = k.TicketID
		}
	}
	return issued, nil
}

// WaitingPlaces implements Store.
func (m *MemoryStore) WaitingPlaces(ctx context.Context, institutionID int64) ([]Waiter, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	out := []Waiter{}
	for _, t := range m.byInst[institutionID] {
		if t.Status.Waiting() {
			out = append(out, Waiter{ID: t.ID, Number: t.Number, Service: t.Service, Place: placeOf(t), Priority: t.Priority != nil})
		}
	}
	return out, nil
}

// LaneRank implements Store.
func (m *MemoryStore) LaneRank(ctx context.Context, t Ticket, lane bool) (int64, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.laneRank(t, lane), nil
}

func (tx *memTx) LaneRank(ctx context.Context, t Ticket, lane bool) (int64, error) {
	return tx.m.laneRank(t, lane), nil
}

func (m *MemoryStore) laneRank(t Ticket, lane bool) int64 {
	var n int64
	place := placeOf(&t)
	for _, x := range m.byInst[t.InstitutionID] {
		if x.Status.Waiting() && x.Service == t.Service && (!lane || (x.Priority != nil) == (t.Priority != nil)) &&
			Before(placeOf(x), x.Number, place, t.Number) {
			n++
		}
	}
	return n
}

func (tx *memTx) Front(ctx context.Context, codes []string, perLane int) ([]Ticket, error) {
	type laneKey struct {
		code string
		pri  bool
	}
	lanes := map[laneKey][]Ticket{}
	for _, t := range tx.m.byInst[tx.inst.ID] {
		if !t.Status.Waiting() || (codes != nil && !slices.Contains(codes, t.Service)) {
			continue
		}
		k := laneKey{t.Service, t.Priority != nil}
		lanes[k] = append(lanes[k], *t)
	}
	var out []Ticket
	for _, lane := range lanes {
		slices.SortFunc(lane, func(a, b Ticket) int {
			if Before(placeOf(&a), a.Number, placeOf(&b), b.Number) {
				return -1
			}
			return 1
		})
		out = append(out, lane[:min(perLane, len(lane))]...)
	}
	return out, nil
}
