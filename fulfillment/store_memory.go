package fulfillment

import (
	"context"
	"slices"
	"sync"
	"time"
)

// MemoryStore is a [Store] held in memory, for tests, examples and programs
// that need no persistence. It is safe for concurrent use. Its zero value
// is an empty store, as [NewMemoryStore] returns.
type MemoryStore struct {
	mu      sync.Mutex           // guards records, due, events, docs and feeds
	records map[string]Record    // by user ID
	due     dueIndex             // Record.DueAt of the records Sync acts on
	events  map[string]time.Time // event uuid → when marked
	docs    map[docKey]Document  // DocumentStore's
	feeds   map[*memoryFeed]struct{}
}

// memoryFeed is one [MemoryStore.WatchChanges] call's queue.
type memoryFeed struct {
	ch chan RecordChange
	// missed has a value when a change did not fit in ch: the watcher
	// then gets a change with Resync set.
	missed chan struct{}
}

// memoryFeedBuffer is how many changes wait for a watcher of a
// MemoryStore before it is told it missed some.
const memoryFeedBuffer = 1024

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
	report := feedReports(stored, r)
	r = r.clone()
	r.Version++
	if m.records == nil { // the zero MemoryStore
		m.records = make(map[string]Record)
	}
	m.records[r.UserID] = r
	m.due.set(r)
	if report {
		m.publish(RecordChange{UserID: r.UserID, Status: r.Status, Step: r.Step, Version: r.Version})
	}
	return r.clone(), nil
}

// publish queues c for every watcher without waiting (m.mu held): a
// watcher whose queue is full misses it and gets a Resync instead.
func (m *MemoryStore) publish(c RecordChange) {
	for f := range m.feeds {
		select {
		case f.ch <- c:
		default:
			select {
			case f.missed <- struct{}{}:
			default: // a Resync is already due
			}
		}
	}
}

// WatchChanges implements [ChangeFeed]: the changes every caller of this
// MemoryStore stores (two Services on one store see each other's), from
// a queue of its own, so that Put never waits for fn. It never breaks:
// a watcher that falls more than a thousand changes behind gets a Resync
// for those it missed.
func (m *MemoryStore) WatchChanges(ctx context.Context, fn func(RecordChange)) error {
	if err := ctx.Err(); err != nil {
		return nil
	}
	f := &memoryFeed{ch: make(chan RecordChange, memoryFeedBuffer), missed: make(chan struct{}, 1)}
	m.mu.Lock()
	if m.feeds == nil {
		m.feeds = map[*memoryFeed]struct{}{}
	}
	m.feeds[f] = struct{}{}
	m.mu.Unlock()
	defer func() {
		m.mu.Lock()
		delete(m.feeds, f)
		m.mu.Unlock()
	}()
	fn(RecordChange{Resync: true})
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-f.missed:
			fn(RecordChange{Resync: true})
		case c := <-f.ch:
			fn(c)
		}
	}
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
	if m.events == nil { // the zero MemoryStore
		m.events = make(map[string]time.Time)
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

var (
	_ EventChecker = (*MemoryStore)(nil)
	_ ChangeFeed   = (*MemoryStore)(nil)
)
