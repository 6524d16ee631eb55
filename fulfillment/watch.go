package fulfillment

import (
	"context"
	"sync"
)

// RecordChange says that a record was stored: by a step of Sync or Run, an
// order, the event hook, Retry, Delete, ResendPIN or Status. It carries
// what a screen needs to decide whether to refresh; read the record itself
// with [Service.Status] or [Service.List].
type RecordChange struct {
	UserID  string
	Login   string
	Status  Status
	Step    Step
	Version int64
}

// watchers are the subscribers of a Service's record changes.
type watchers struct {
	mu   sync.Mutex
	next int
	fns  map[int]func(RecordChange)
}

// Subscribe calls fn after every record this Service stores, in the
// goroutine that stored it, until the returned cancel is called (or ctx
// ends). fn must return quickly and must not call the Service: hand the
// change to another goroutine (a non-blocking channel send, say). Changes
// written by another Service instance sharing the Store are not seen.
func (s *Service) Subscribe(ctx context.Context, fn func(RecordChange)) (cancel func()) {
	w := &s.watch
	w.mu.Lock()
	if w.fns == nil {
		w.fns = map[int]func(RecordChange){}
	}
	id := w.next
	w.next++
	w.fns[id] = fn
	w.mu.Unlock()
	var once sync.Once
	remove := func() {
		once.Do(func() {
			w.mu.Lock()
			delete(w.fns, id)
			w.mu.Unlock()
		})
	}
	stop := context.AfterFunc(ctx, remove)
	return func() { stop(); remove() }
}

// notify tells every subscriber that rec was stored.
func (w *watchers) notify(rec Record) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.fns) == 0 {
		return
	}
	c := RecordChange{UserID: rec.UserID, Login: rec.Login, Status: rec.Status, Step: rec.Step, Version: rec.Version}
	for _, fn := range w.fns {
		fn(c)
	}
}
