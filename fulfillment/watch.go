package fulfillment

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
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

// resyncEvery is how often at most a Resync that the running feed reports
// (an unreadable notification, changes lost) is delivered: one that comes
// sooner after the last delivered waits for the end of that second, and
// those that come while one waits are delivered with it.
const resyncEvery = time.Second

// echoLimit bounds how many of this Service's own writes are remembered
// until their echo comes back from the change feed (see
// [watchers.expect]), and how many records' last delivered versions are
// remembered (see [watchers.deliver]).
const echoLimit = 4096

// watchers are the subscribers of a Service's record changes, and the
// change feed of the Store while there are any.
type watchers struct {
	mu sync.Mutex
	// subs are the subscribers, in the order they subscribed. The slice
	// is replaced, never changed in place: a delivery keeps the one of
	// the moment its change was decided, and reads it without mu.
	subs []*subscriber
	// queue are the changes decided (under mu, in that order) and not
	// delivered yet; delivering is set while a goroutine delivers them
	// (see flush).
	queue      []delivery
	delivering bool
	// clock is the Service's clock (nil: time.Now), set by New.
	clock func() time.Time
	// lastResync is when a Resync was last delivered; resyncDue is set
	// while one waits for resyncEvery to pass since (see remote), under
	// the number resyncGen.
	lastResync time.Time
	resyncDue  bool
	resyncGen  uint64

	// feed is the running feed (nil: none): started with the first
	// subscriber when the Store is a ChangeFeed, stopped with the last.
	feed *feedRun
	// feedable is set when the Store is a ChangeFeed (by New): a feed
	// may start while a write is in flight.
	feedable bool
	// pending are this Service's writes in flight (when feedable), by
	// user and the version the Put will give the record; echoes the
	// writes stored, whose change the feed has not reported yet (at most
	// echoLimit).
	pending map[echoKey]*pendingEcho
	echoes  recent[echoKey, struct{}]
	// delivered is, while a feed runs, the version of each record last
	// delivered to the subscribers (at most echoLimit records): an older
	// one is not delivered after it (see deliver).
	delivered recent[string, deliveredVersion]
	// epoch counts the feed's listening: it changes at each Resync (the
	// feed starts listening), when the feed breaks and when it stops (see
	// fresh).
	epoch uint64
}

// deliveredVersion is what watchers.delivered keeps of a record.
type deliveredVersion struct {
	// version is the version last delivered.
	version int64
	// await, when not 0, is the version of a write of this Service
	// delivered whose echo the feed has not reported yet: every other
	// change of the record the feed reports until then was stored before
	// that write, and is older than what was delivered.
	await int64
}

// recent remembers a value for each of at most limit keys, those set
// last. Each set takes a slot (oldest first); once limit slots are taken
// the oldest is freed, forgetting its key unless the key was set again
// since (in a later slot). A key deleted keeps its slot until then.
type recent[K comparable, V any] struct {
	m     map[K]recentValue[V]
	order []recentSlot[K]
	seq   uint64
}

// recentValue is a value of recent and the number of its slot.
type recentValue[V any] struct {
	v   V
	seq uint64
}

// recentSlot is a place in recent.order.
type recentSlot[K comparable] struct {
	key K
	seq uint64
}

// get returns the value of k.
func (r *recent[K, V]) get(k K) (V, bool) {
	v, ok := r.m[k]
	return v.v, ok
}

// set sets the value of k in a new slot, freeing the oldest if limit
// slots are taken.
func (r *recent[K, V]) set(k K, v V, limit int) {
	if r.m == nil {
		r.m = map[K]recentValue[V]{}
	}
	if len(r.order) >= limit {
		if oldest := r.order[0]; r.m[oldest.key].seq == oldest.seq {
			delete(r.m, oldest.key)
		}
		r.order = r.order[1:]
	}
	r.seq++
	r.m[k] = recentValue[V]{v, r.seq}
	r.order = append(r.order, recentSlot[K]{k, r.seq})
}

// update changes the value of k, if it has one, in its slot.
func (r *recent[K, V]) update(k K, v V) {
	if old, ok := r.m[k]; ok {
		r.m[k] = recentValue[V]{v, old.seq}
	}
}

// delete forgets k; its slot goes with the oldest.
func (r *recent[K, V]) delete(k K) { delete(r.m, k) }

// len returns how many keys have a value.
func (r *recent[K, V]) len() int { return len(r.m) }

// reset forgets every key and frees every slot.
func (r *recent[K, V]) reset() {
	clear(r.m)
	r.order = nil
}

// subscriber is one Subscribe call's function and context.
type subscriber struct {
	ctx context.Context
	fn  func(RecordChange)
	// gone is set by the cancel Subscribe returned: no delivery calls fn
	// from then on.
	gone atomic.Bool
}

// delivery is a change decided, and the subscribers it goes to.
type delivery struct {
	c  RecordChange
	to []*subscriber
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
	// stale is set when a Resync came after heard: the subscribers have
	// read the records again since, a state as new as heard's or newer,
	// so heard is not delivered if the Put loses.
	stale bool
	// epoch is watchers.epoch when the write was noted.
	epoch uint64
}

// Subscribe calls fn after every record this Service stores until the
// returned cancel is called (or ctx ends). A nil fn panics at once.
//
// Deliveries: the Service decides the changes to deliver in one order,
// and calls the subscribers with each change in that order, in the order
// they subscribed, one call at a time (calls of fn never overlap, with
// each other or with another subscriber's). A change goes to those
// subscribed when it was decided; a subscriber whose context has ended,
// or whose cancel was called, is skipped. fn runs in a goroutine that
// holds no lock of the Service: one that stored a change, the feed's or
// a delayed Resync's (see below), or one that calls Subscribe. A call
// that works on a record (Order, Retry, Check, Delete, ResendPIN, Status,
// and Sync or Run on each record of a pass) holds the record's lock
// meanwhile, and delivers its changes once it has released it; so the
// intent of a step may come only with its outcome, not while its remote
// call runs. RecordEvent (the event hook, a catch-up) holds no lock, and
// delivers its change at once. When no other delivery runs, a call
// delivers its changes before it returns, and Subscribe delivers its
// Resync (below) before it returns. A goroutine that delivers delivers
// every change queued, in order, until none is left: those queued while
// it delivers, and those of a call that has not released its record yet;
// the call that stored a change then returns maybe before it is
// delivered.
//
// fn may call the Service for any record, the one it was told about too:
// a call from fn that works on that record waits until the call that
// stored the change has released it, so a Retry of the key whose error
// fn was told reads the errored record (or a later state) and resumes
// it. fn may call Subscribe and any cancel, its own too. A change that a
// call from fn stores is delivered after fn returns, by the same
// goroutine; a subscriber that Subscribe adds from fn gets the changes
// decided after it; a cancel from fn takes effect at once (a subscriber
// it cancels gets nothing more, not even the change being delivered). A
// slow fn (a Retry from fn makes remote calls) delays every later
// delivery, and holds up the call that delivers (it returns when the
// queue is empty); a fn that blocks blocks them all. A cancel does not
// wait for a call of fn running in another goroutine: fn may still be
// running, or about to be called once more with a change being
// delivered, when cancel returns. A panic of fn goes up the goroutine
// that delivers (which released its record's lock first); the changes
// still queued (and the one being delivered, to the subscribers after the
// one that panicked) are delivered by the next delivery. A Subscribe that
// panics so returns no cancel and leaves no subscriber.
//
// When the Store is a [ChangeFeed] (MemoryStore and pgstore), fn also gets
// the changes other Service instances sharing the Store make, with
// [RecordChange.Remote] set, from the goroutine of the feed. A change this
// Service stored is delivered once, as above (its echo from the feed is
// skipped). While it has subscribers the Service runs the feed in a
// goroutine of its own: started by the first Subscribe, stopped when the
// last subscriber cancels, restarted after it breaks (logged) with a wait
// that doubles from 1 s to 1 min, each wait a ticker from Config.NewTicker.
// Each subscriber gets a change with Resync set once the feed listens for
// it, and every subscriber after each restart: the remote changes before
// it may have been missed. A Resync the running feed reports (a
// notification it cannot read, say: anybody who can connect to the
// database can send one) less than 1 s after the last one delivered, by
// Config.Clock, waits for the end of that second (at most 1 s, should
// the Clock step back; a ticker from Config.NewTicker) and is delivered
// then, once for all those that came meanwhile: a flood of them
// refreshes a page at most once a second, and the last is never lost. A
// change stored by another instance with no history entry and no new
// status or step (a Sync pass's claims and bookkeeping) is not
// delivered; this Service's own are, as they always were. With any other
// Store, changes written by other instances are not seen.
//
// While the feed runs, the changes of one record come in the order of
// their versions: a change at a version not above the last one delivered
// for the record is dropped, since the subscribers have seen a later
// state. Such a change is another instance's that the feed reports after
// this Service delivered its own later write (the feed lags), or one the
// feed reported while a Put of this Service that would store the same
// version was in flight (held until the Put's outcome: it may be the
// Put's echo) and whose Put lost, after the record's next change came. A
// removal (Version 0) and a Resync start a record's versions over, since
// a record removed and made again starts at version 1: a change of the
// removed record that comes after its removal (late, or held) is then
// delivered. A write of this Service is newer than the changes the feed
// reported before it, whatever their versions (the record may have been
// removed and made again before the feed reported the removal): until
// the feed reports its echo, the feed's other changes of the record
// (older) are dropped. A change held for a Put in flight when a Resync
// came (the subscribers read the records again) is not delivered after
// it. The last versions of the records among the 4,096 changes delivered
// last are kept; an older record's is forgotten, and a change of it that
// comes later than that is delivered.
func (s *Service) Subscribe(ctx context.Context, fn func(RecordChange)) (cancel func()) {
	if fn == nil {
		// Here, not in the goroutine that would call it.
		panic("fulfillment: Subscribe with a nil fn")
	}
	w := &s.watch
	sub := &subscriber{ctx: ctx, fn: fn}
	var once sync.Once
	remove := func() {
		once.Do(func() {
			sub.gone.Store(true)
			w.mu.Lock()
			defer w.mu.Unlock()
			// A new array: deliveries read the old one.
			w.subs = slices.DeleteFunc(slices.Clone(w.subs), func(other *subscriber) bool { return other == sub })
			if len(w.subs) == 0 && w.feed != nil {
				w.feed.stop()
				w.feed = nil
				w.echoes.reset()
				w.delivered.reset()
				w.epoch++
				w.resyncDue, w.lastResync = false, time.Time{}
			}
		})
	}
	w.mu.Lock()
	w.subs = append(w.subs[:len(w.subs):len(w.subs)], sub) // a new array: deliveries read the old one
	if feed, ok := s.store.(ChangeFeed); ok {
		switch {
		case w.feed == nil:
			feedCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
			run := &feedRun{stop: stop}
			w.feed = run
			go s.runFeed(feedCtx, run, feed)
		case w.feed.listening:
			w.queue = append(w.queue, delivery{RecordChange{Remote: true, Resync: true}, []*subscriber{sub}})
		}
	}
	returned := false
	defer func() {
		if !returned { // a fn's panic: no cancel returned, no subscriber left
			remove()
		}
	}()
	w.flush()
	returned = true
	stop := context.AfterFunc(ctx, remove)
	return func() { stop(); remove() }
}

// flush unlocks w.mu (held) after delivering the changes queued, in the
// order they were decided, unless another call delivers them already (it
// delivers those queued meanwhile too, before it returns). Whoever queues
// a change and finds no delivery running delivers it, in the same hold
// of w.mu (another goroutine cannot take the change over), unless it
// holds a record lock: then the lock's unlock flushes, the record
// released; a call that queued nothing does not flush (see leave). One
// goroutine at a time calls the subscribers, without w.mu, so a
// subscriber may call the Service: a change it stores is queued, and
// delivered after the one being delivered, by the same goroutine, before
// flush returns.
func (w *watchers) flush() {
	if w.delivering || len(w.queue) == 0 {
		w.mu.Unlock()
		return
	}
	w.delivering = true
	locked := true
	// rest is, while fn runs, the delivery's subscribers after the one
	// called.
	var rest delivery
	defer func() { // a subscriber's panic too: the next flush delivers the rest
		if !locked {
			w.mu.Lock()
			if len(rest.to) > 0 { // the change being delivered, first
				w.queue = append([]delivery{rest}, w.queue...)
			}
		}
		w.delivering = false
		w.mu.Unlock()
	}()
	for len(w.queue) > 0 {
		d := w.queue[0]
		w.queue[0] = delivery{}
		w.queue = w.queue[1:]
		w.mu.Unlock()
		locked = false
		for i, sub := range d.to {
			if !sub.gone.Load() && sub.ctx.Err() == nil {
				rest = delivery{d.c, d.to[i+1:]}
				sub.fn(d.c)
			}
		}
		w.mu.Lock()
		locked = true
	}
	w.queue = nil
}

// leave unlocks w.mu (held) at the end of a call that decides changes;
// queued is len(w.queue) when the call took w.mu, and locked is set for a
// write under a record lock ([Service.lock]). It flushes only when the
// call queued a change and holds no record lock. A write under a record
// lock leaves its change queued for the lock's unlock to deliver, once
// the record is released (a subscriber may then call the Service for the
// same record). A call that queued nothing (the feed reporting the echo
// of this Service's own write, say) leaves the changes queued under a
// lock to its unlock, in the goroutine that stored them (and those a
// subscriber's panic left to the next delivery, to the next call that
// queues one).
func (w *watchers) leave(locked bool, queued int) {
	if locked || len(w.queue) == queued {
		w.mu.Unlock()
		return
	}
	w.flush()
}

// notify tells every subscriber that rec was stored under ctx (a record
// lock's: see leave); saved is set for a write noted by expect (whose
// settle comes after).
func (w *watchers) notify(ctx context.Context, rec Record, saved bool) {
	w.mu.Lock()
	defer w.leave(underLock(ctx), len(w.queue))
	if len(w.subs) == 0 {
		return
	}
	c := RecordChange{UserID: rec.UserID, Login: rec.Login, Status: rec.Status, Step: rec.Step, Version: rec.Version}
	w.deliver(c, saved && w.fresh(echoKey{rec.UserID, rec.Version}))
}

// fresh reports whether this Service's write of k, stored, was noted in
// the feed's current epoch and the feed has not reported it yet. Then
// the feed listened throughout (and will report it), or has not listened
// yet (and reports nothing before its Resync, which resets the delivered
// versions). Every change of the record the feed reported was stored
// before this write (the feed reports them in the order they were
// stored): the write is newer than all of them whatever their versions
// (the record may have been removed and made again, and the feed not
// have reported the removal yet).
func (w *watchers) fresh(k echoKey) bool {
	p := w.pending[k]
	return w.feed != nil && p != nil && p.epoch == w.epoch && p.heard == nil
}

// deliver queues c for every subscriber (w.mu held; flush delivers it),
// but those whose context has ended or who cancel before flush comes to
// them. While a feed runs, a change of a record at a version not above
// the one last delivered is not delivered: a change the feed reported
// while a Put was in flight and that settle delivers after the record's
// next change (held), another instance's change that the feed reports
// after this Service's own later write (the feed lags), or a second
// delivery of a version. A removal (Version 0) and a Resync start the
// versions over: the record may have been removed and made again, its
// versions from 1. A Resync also makes stale the changes held for Puts in
// flight: the subscribers read the records again, and a held change
// delivered after that (its Put lost) could show an older state than they
// read. fresh is set when c is this Service's own write and
// [watchers.fresh]: then it is newer than every change of the record
// delivered from the feed, whatever its version, and until the feed
// reports its echo a change the feed reports of the record (a removal
// too) is older and is not delivered.
func (w *watchers) deliver(c RecordChange, fresh bool) {
	if w.feed != nil && !w.inOrder(c, fresh) {
		return
	}
	if len(w.subs) > 0 {
		w.queue = append(w.queue, delivery{c, w.subs})
	}
}

// inOrder reports whether c comes after the changes delivered (a feed
// runs; see deliver), and notes it as delivered if so.
func (w *watchers) inOrder(c RecordChange, fresh bool) bool {
	if c.Resync {
		w.epoch++
		w.delivered.reset()
		for _, p := range w.pending {
			p.stale = p.heard != nil
		}
		return true
	}
	last, ok := w.delivered.get(c.UserID)
	switch {
	case c.Remote && ok && last.await != 0:
		return false // stored before the write delivered whose echo is awaited
	case c.Version == 0:
		w.delivered.delete(c.UserID)
		return true
	case fresh:
		if ok && last.await != 0 && c.Version <= last.version {
			return false // a later write of this Service's was delivered first
		}
		w.delivered.set(c.UserID, deliveredVersion{c.Version, c.Version}, echoLimit)
		return true
	case ok && c.Version <= last.version:
		return false
	}
	w.delivered.set(c.UserID, deliveredVersion{c.Version, last.await}, echoLimit)
	return true
}

// expect notes, before this Service puts rec, the change the feed will
// report if the Put stores it, so that its echo is not delivered as a
// remote change: call settle with the outcome after the Put. It reports
// whether it noted anything (the Store is a ChangeFeed, whether or not a
// feed runs).
func (w *watchers) expect(rec Record) (echoKey, bool) {
	k := echoKey{rec.UserID, rec.Version + 1}
	w.mu.Lock()
	defer w.mu.Unlock()
	// Noted with no feed running too: a feed that starts while the Put is
	// in flight may listen before the Put stores the record, and report
	// it (its change would otherwise be delivered twice: by the feed, and
	// when the Put returns).
	if !w.feedable {
		return k, false
	}
	if w.pending == nil {
		w.pending = map[echoKey]*pendingEcho{}
	}
	p := w.pending[k]
	if p == nil {
		p = &pendingEcho{epoch: w.epoch}
		w.pending[k] = p
	}
	p.writers++
	return k, true
}

// settle records the outcome of a Put noted by expect, made under ctx
// (a record lock's: see leave): stored (its echo is awaited, unless heard
// already) or not (a change the feed reported for k meanwhile was another
// instance's, delivered now, or at the unlock of the lock ctx holds).
func (w *watchers) settle(ctx context.Context, k echoKey, stored bool) {
	w.mu.Lock()
	defer w.leave(underLock(ctx), len(w.queue))
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
		// A slot whose echo was heard stays until it is the oldest, and
		// then forgets only an echo stored in it, not a later one of the
		// same key (a record removed and made again).
		w.echoes.set(k, struct{}{}, echoLimit)
	case !p.won && p.heard != nil && !p.stale:
		w.deliver(*p.heard, false)
	}
}

// remote delivers a change the feed of run reported, unless run has
// stopped or the change is the echo of this Service's own write. A
// Resync that says the feed listens (it started, or restarted after it
// broke: paced by the restart's wait) is delivered at once. One the
// feed reports while it listens (an unreadable notification: anybody
// who may connect to the database can send them) comes within
// resyncEvery of the last delivered is not: remote returns how long it
// waits (call dueResync with gen then), and one that comes while
// another waits is delivered with it.
func (w *watchers) remote(run *feedRun, c RecordChange) (wait time.Duration, gen uint64) {
	w.mu.Lock()
	defer w.leave(false, len(w.queue))
	if w.feed != run {
		return 0, 0 // stopped: the change is for nobody
	}
	c.Remote, c.Login = true, ""
	if c.Resync {
		now := w.now()
		switch {
		case !run.listening:
			run.listening = true
		case w.resyncDue:
			return 0, 0 // delivered with the one that waits
		case now.Before(w.lastResync.Add(resyncEvery)):
			w.resyncDue = true
			w.resyncGen++
			// At most resyncEvery: a Clock stepped back would wait longer.
			return min(w.lastResync.Add(resyncEvery).Sub(now), resyncEvery), w.resyncGen
		}
		w.resync(now)
		return 0, 0
	}
	if last, ok := w.delivered.get(c.UserID); ok && last.await != 0 && last.await == c.Version {
		// The echo of the write delivered: the feed has caught up with it.
		w.delivered.update(c.UserID, deliveredVersion{last.version, 0})
	}
	k := echoKey{c.UserID, c.Version}
	if p := w.pending[k]; p != nil {
		p.heard, p.stale = &c, false // settle decides whose it was
		return 0, 0
	}
	if _, ok := w.echoes.get(k); ok {
		w.echoes.delete(k)
		return 0, 0
	}
	w.deliver(c, false)
	return 0, 0
}

// dueResync delivers the Resync that waits under gen (see remote), if
// it still waits: a restart of the feed delivered one meanwhile.
func (w *watchers) dueResync(run *feedRun, gen uint64) {
	w.mu.Lock()
	defer w.leave(false, len(w.queue))
	if w.feed == run && w.resyncDue && w.resyncGen == gen {
		w.resync(w.now())
	}
}

// resync delivers a Resync at now (w.mu held); one that waited is
// delivered with it.
func (w *watchers) resync(now time.Time) {
	w.lastResync, w.resyncDue = now, false
	w.deliver(RecordChange{Remote: true, Resync: true}, false)
}

// now reads the Service's clock.
func (w *watchers) now() time.Time {
	if w.clock == nil {
		return time.Now()
	}
	return w.clock()
}

// broke marks run as not listening after its feed broke.
func (w *watchers) broke(run *feedRun) {
	w.mu.Lock()
	defer w.mu.Unlock()
	run.listening = false
	w.epoch++
}

// runFeed runs feed until ctx ends (the last subscriber left), restarting
// it after a wait when it breaks.
func (s *Service) runFeed(ctx context.Context, run *feedRun, feed ChangeFeed) {
	wait := feedBackoffMin
	for {
		started := s.now()
		err := feed.WatchChanges(ctx, func(c RecordChange) {
			if wait, gen := s.watch.remote(run, c); wait > 0 {
				go s.resyncLater(ctx, run, wait, gen)
			}
		})
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
			slog.String("error", err.Error()), slog.String("wait", wait.String()))
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

// resyncLater delivers the Resync that waits under gen after wait (a
// ticker from Config.NewTicker), unless ctx ends first (the feed
// stopped).
func (s *Service) resyncLater(ctx context.Context, run *feedRun, wait time.Duration, gen uint64) {
	t := s.newTicker(wait)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C():
		s.watch.dueResync(run, gen)
	}
}
