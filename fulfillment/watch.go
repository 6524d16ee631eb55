package fulfillment

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"
)

// RecordChange says that a record was stored: by a step of Sync or Run, an
// order, the event hook, Retry, Delete, ResendPIN or Status. It carries
// what a screen needs to decide whether to refresh; read the record itself
// with [Service.Status] or [Service.List].
type RecordChange struct {
	UserID string
	// Login is the user's login; empty in a Remote change (a store's
	// [ChangeFeed] carries none).
	Login   string
	Status  Status
	Step    Step
	Version int64
	// Remote is set on a change another Service stored (another instance
	// sharing the Store, reported by its [ChangeFeed]): only the writes
	// the feed reports (see [ChangeFeed]) come this way, not a Sync
	// pass's bookkeeping. Version 0 (with no Status or Step) reports a
	// record removed from the store.
	Remote bool
	// Resync, set with Remote and nothing else, means that changes of the
	// other instances may have been missed up to now: the feed of the
	// Store has (re)started listening, or lost changes. A screen that
	// shows records fetches them again. Each subscriber gets one when the
	// feed first listens for it (at once from Subscribe if it already
	// listens), and all of them after each restart of a broken feed.
	Resync bool
}

// The restart of a broken change feed: the wait doubles from
// feedBackoffMin to feedBackoffMax, and starts over after a feed that
// listened for feedBackoffMax.
const (
	feedBackoffMin = time.Second
	feedBackoffMax = time.Minute
)

// echoLimit bounds how many of this Service's own writes are remembered
// until their echo comes back from the change feed (see
// [watchers.expect]).
const echoLimit = 4096

// watchers are the subscribers of a Service's record changes, and the
// change feed of the Store while there are any.
type watchers struct {
	mu   sync.Mutex
	next int
	fns  map[int]subscriber

	// feed is the running feed (nil: none): started with the first
	// subscriber when the Store is a ChangeFeed, stopped with the last.
	feed *feedRun
	// pending are this Service's writes in flight while a feed runs, by
	// user and the version the Put will give the record; echoes the
	// writes stored, whose change the feed has not reported yet, each with
	// the number of its slot in echoOrder (oldest first, at most
	// echoLimit; a slot whose echo was heard stays until it is the oldest,
	// and then forgets only an echo stored in it, not a later one of the
	// same key).
	pending   map[echoKey]*pendingEcho
	echoes    map[echoKey]uint64
	echoOrder []echoSlot
	echoSeq   uint64
}

// echoSlot is a place in watchers.echoOrder.
type echoSlot struct {
	key echoKey
	seq uint64
}

// subscriber is one Subscribe call's function and context.
type subscriber struct {
	ctx context.Context
	fn  func(RecordChange)
}

// feedRun is one run of the change feed, from the first subscriber to
// the last.
type feedRun struct {
	stop context.CancelFunc
	// listening is set once the feed has listened (its first Resync)
	// and cleared when it breaks; guarded by watchers.mu.
	listening bool
}

// echoKey names a write: the record's user and the version it stored.
type echoKey struct {
	userID  string
	version int64
}

// pendingEcho is a write of this Service in flight.
type pendingEcho struct {
	writers int  // Puts in flight that would store this version
	won     bool // one of them stored it
	// heard is the change the feed reported for the key while the Put
	// was in flight: this write's echo if the Put stored it, another
	// instance's write if it did not.
	heard *RecordChange
}

// Subscribe calls fn after every record this Service stores, in the
// goroutine that stored it, until the returned cancel is called (or ctx
// ends). fn must return quickly and must not call the Service: hand the
// change to another goroutine (a non-blocking channel send, say).
//
// When the Store is a [ChangeFeed] (MemoryStore and pgstore), fn also gets
// the changes other Service instances sharing the Store make, with
// [RecordChange.Remote] set, from the goroutine of the feed. A change this
// Service stored is delivered once, when stored (its echo from the feed is
// skipped). While it has subscribers the Service runs the feed in a
// goroutine of its own: started by the first Subscribe, stopped when the
// last subscriber cancels, restarted after it breaks (logged) with a wait
// that doubles from 1 s to 1 min, each wait a ticker from Config.NewTicker.
// Each subscriber gets a change with Resync set once the feed listens for
// it, and every subscriber after each restart: the remote changes before
// it may have been missed. A change stored by another instance with no
// history entry and no new status or step (a Sync pass's claims and
// bookkeeping) is not delivered; this Service's own are, as they always
// were. With any other Store, changes written by other instances are not
// seen.
func (s *Service) Subscribe(ctx context.Context, fn func(RecordChange)) (cancel func()) {
	w := &s.watch
	w.mu.Lock()
	if w.fns == nil {
		w.fns = map[int]subscriber{}
	}
	id := w.next
	w.next++
	w.fns[id] = subscriber{ctx, fn}
	if feed, ok := s.store.(ChangeFeed); ok {
		switch {
		case w.feed == nil:
			feedCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
			run := &feedRun{stop: stop}
			w.feed = run
			go s.runFeed(feedCtx, run, feed)
		case w.feed.listening && ctx.Err() == nil:
			fn(RecordChange{Remote: true, Resync: true})
		}
	}
	w.mu.Unlock()
	var once sync.Once
	remove := func() {
		once.Do(func() {
			w.mu.Lock()
			delete(w.fns, id)
			if len(w.fns) == 0 && w.feed != nil {
				w.feed.stop()
				w.feed = nil
				clear(w.echoes)
				w.echoOrder = nil
			}
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
	w.broadcast(RecordChange{UserID: rec.UserID, Login: rec.Login, Status: rec.Status, Step: rec.Step, Version: rec.Version})
}

// broadcast calls every subscriber with c (w.mu held), but those whose
// context has ended (their removal may not have run yet).
func (w *watchers) broadcast(c RecordChange) {
	for _, sub := range w.fns {
		if sub.ctx.Err() == nil {
			sub.fn(c)
		}
	}
}

// expect notes, before this Service puts rec, the change the feed will
// report if the Put stores it, so that its echo is not delivered as a
// remote change: call settle with the outcome after the Put. It reports
// whether it noted anything (a feed runs).
func (w *watchers) expect(rec Record) (echoKey, bool) {
	k := echoKey{rec.UserID, rec.Version + 1}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.feed == nil {
		return k, false
	}
	if w.pending == nil {
		w.pending = map[echoKey]*pendingEcho{}
	}
	p := w.pending[k]
	if p == nil {
		p = &pendingEcho{}
		w.pending[k] = p
	}
	p.writers++
	return k, true
}

// settle records the outcome of a Put noted by expect: stored (its echo
// is awaited, unless heard already) or not (a change the feed reported
// for k meanwhile was another instance's, delivered now).
func (w *watchers) settle(k echoKey, stored bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	p := w.pending[k]
	if p == nil {
		return
	}
	p.won = p.won || stored
	if p.writers--; p.writers > 0 {
		return
	}
	delete(w.pending, k)
	switch {
	case p.won && p.heard == nil:
		if w.feed == nil {
			return
		}
		if w.echoes == nil {
			w.echoes = map[echoKey]uint64{}
		}
		if len(w.echoOrder) >= echoLimit {
			if oldest := w.echoOrder[0]; w.echoes[oldest.key] == oldest.seq {
				delete(w.echoes, oldest.key)
			}
			w.echoOrder = w.echoOrder[1:]
		}
		w.echoSeq++
		w.echoes[k] = w.echoSeq
		w.echoOrder = append(w.echoOrder, echoSlot{k, w.echoSeq})
	case !p.won && p.heard != nil:
		w.broadcast(*p.heard)
	}
}

// remote delivers a change the feed of run reported, unless run has
// stopped or the change is the echo of this Service's own write.
func (w *watchers) remote(run *feedRun, c RecordChange) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.feed != run {
		return // stopped: the change is for nobody
	}
	c.Remote, c.Login = true, ""
	if c.Resync {
		run.listening = true
		w.broadcast(RecordChange{Remote: true, Resync: true})
		return
	}
	k := echoKey{c.UserID, c.Version}
	if p := w.pending[k]; p != nil {
		p.heard = &c // settle decides whose it was
		return
	}
	if _, ok := w.echoes[k]; ok {
		delete(w.echoes, k) // its slot in echoOrder goes with the oldest
		return
	}
	w.broadcast(c)
}

// broke marks run as not listening after its feed broke.
func (w *watchers) broke(run *feedRun) {
	w.mu.Lock()
	defer w.mu.Unlock()
	run.listening = false
}

// runFeed runs feed until ctx ends (the last subscriber left), restarting
// it after a wait when it breaks.
func (s *Service) runFeed(ctx context.Context, run *feedRun, feed ChangeFeed) {
	wait := feedBackoffMin
	for {
		started := s.now()
		err := feed.WatchChanges(ctx, func(c RecordChange) { s.watch.remote(run, c) })
		if ctx.Err() != nil {
			return
		}
		if err == nil {
			err = errors.New("fulfillment: the store's change feed ended")
		}
		s.watch.broke(run)
		if s.now().Sub(started) >= feedBackoffMax {
			wait = feedBackoffMin // it listened a good while: a new outage
		}
		s.log.LogAttrs(ctx, slog.LevelWarn, "fulfillment: change feed broke; restarting",
			slog.String("error", err.Error()), slog.Duration("wait", wait))
		t := s.newTicker(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C():
		}
		t.Stop()
		wait = min(2*wait, feedBackoffMax)
	}
}
