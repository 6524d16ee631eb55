package fulfillment

import (
	"context"
	"slices"
	"sync"
	"time"
)

// MemoryStore is a [Store] held in memory, for tests, examples and programs
// that need no persistence. It is safe for concurrent use. Create one with
// [NewMemoryStore]; its zero value is not usable.
type MemoryStore struct {
	mu      sync.Mutex           // guards records, due, events and docs
	records map[string]Record    // by user ID
	due     dueIndex             // Record.DueAt of the records Sync acts on
	events  map[string]time.Time // event uuid → when marked
	docs    map[docKey]Document  // DocumentStore's
}

// NewMemoryStore returns an empty store.
func NewMemoryStore() *MemoryStore {
	return &MemoryStore{records: make(map[string]Record), events: make(map[string]time.Time)}
}

// Get implements [Store].
func (m *MemoryStore) Get(ctx context.Context, userID string) (Record, error) {
	if err := ctx.Err(); err != nil {
		return Record{}, err
	}
	if err := CheckID("user ID", userID); err != nil {
		return Record{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.records[userID]
	if !ok {
		return Record{}, notFound(userID)
	}
	return r.clone(), nil
}

// Put implements [Store].
func (m *MemoryStore) Put(ctx context.Context, r Record) (Record, error) {
	if err := ctx.Err(); err != nil {
		return Record{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	var stored *Record
	if s, ok := m.records[r.UserID]; ok {
		stored = &s
	}
	if err := CheckPut(r, stored); err != nil {
		return Record{}, err
	}
	r = r.clone()
	r.Version++
	m.records[r.UserID] = r
	m.due.set(r)
	return r.clone(), nil
}

// List implements [Store].
func (m *MemoryStore) List(ctx context.Context, q Query) ([]Record, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	// Sort the matching user IDs, not the records: a pass pages through
	// every record, and sorting copies of whole records on every page cost
	// more than the pass's own work (103 µs a key at 10,000 keys).
	var ids []string
	for id, r := range m.records {
		if q.match(r) {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids) // byte order, as strings.Compare
	if q.Limit > 0 && len(ids) > q.Limit {
		ids = ids[:q.Limit]
	}
	out := make([]Record, len(ids))
	for i, id := range ids {
		out[i] = m.records[id].clone()
	}
	return out, nil
}

// CountByStatus implements [StatusCounter].
func (m *MemoryStore) CountByStatus(ctx context.Context) (map[Status]int, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	counts := map[Status]int{}
	for _, r := range m.records {
		counts[r.Status]++
	}
	return counts, nil
}

// ListDue implements [DueLister]: a walk of the due index that looks at
// no record that is not due.
func (m *MemoryStore) ListDue(ctx context.Context, q DueQuery) ([]Record, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	var ids []string
	m.due.due(DueKey(q.Now), func(id string) {
		if id > q.After {
			ids = append(ids, id)
		}
	})
	ids = firstIDs(ids, q.Limit)
	out := make([]Record, len(ids))
	for i, id := range ids {
		out[i] = m.records[id].clone()
	}
	return out, nil
}

// CountNotDue implements [DueLister]: the records in the due index less
// those due at now.
func (m *MemoryStore) CountNotDue(ctx context.Context, now time.Time) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	n := m.due.Len()
	m.due.due(DueKey(now), func(string) { n-- })
	return n, nil
}

// MarkEvent implements [Store].
func (m *MemoryStore) MarkEvent(ctx context.Context, eventID string, at time.Time) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	if err := CheckID("event ID", eventID); err != nil {
		return false, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, seen := m.events[eventID]; seen {
		return false, nil
	}
	m.events[eventID] = at
	return true, nil
}

// EventMarked implements [EventChecker].
func (m *MemoryStore) EventMarked(ctx context.Context, eventID string) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	if err := CheckID("event ID", eventID); err != nil {
		return false, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	_, seen := m.events[eventID]
	return seen, nil
}

var _ EventChecker = (*MemoryStore)(nil)
