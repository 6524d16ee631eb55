package fulfillment_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/preenroll/preenroll/fulfillment"
	"github.com/preenroll/preenroll/fulfillment/fulfillmenttest"
	"github.com/preenroll/preenroll/internal/syncio"
)

// changeLog is a subscriber's changes, in the order they came.
type changeLog struct {
	t  *testing.T
	ch chan fulfillment.RecordChange
}

// subscribe subscribes to svc's changes until the end of the test.
func subscribe(t *testing.T, svc *fulfillment.Service) *changeLog {
	l := &changeLog{t: t, ch: make(chan fulfillment.RecordChange, 1024)}
	cancel := svc.Subscribe(t.Context(), func(c fulfillment.RecordChange) {
		select {
		case l.ch <- c:
		default:
			t.Errorf("the test's subscriber fell behind at %+v", c)
		}
	})
	t.Cleanup(cancel)
	return l
}

// next returns the next change.
func (l *changeLog) next() fulfillment.RecordChange {
	l.t.Helper()
	wait, cancel := context.WithTimeout(l.t.Context(), 30*time.Second) // bounds a feed that broke
	defer cancel()
	select {
	case c := <-l.ch:
		return c
	case <-wait.Done():
		l.t.Fatal("no change within 30 s")
	}
	return fulfillment.RecordChange{}
}

// resync waits for the next change and fails unless it is a Resync.
func (l *changeLog) resync() {
	l.t.Helper()
	if c := l.next(); c != (fulfillment.RecordChange{Remote: true, Resync: true}) {
		l.t.Fatalf("change %+v, want a Resync (Remote and Resync set, nothing else)", c)
	}
}

// until returns the changes up to and including the first that last
// accepts.
func (l *changeLog) until(last func(fulfillment.RecordChange) bool) []fulfillment.RecordChange {
	l.t.Helper()
	var out []fulfillment.RecordChange
	for {
		c := l.next()
		out = append(out, c)
		if last(c) {
			return out
		}
	}
}

// empty fails if a change waits.
func (l *changeLog) empty() {
	l.t.Helper()
	select {
	case c := <-l.ch:
		l.t.Errorf("unexpected change %+v", c)
	default:
	}
}

// step is what the tests compare of a change.
type step struct {
	User   string
	Login  string
	Step   fulfillment.Step
	Remote bool
}

// steps returns the step of each change of user (all users: ""),
// checking that their versions grow.
func steps(t *testing.T, cs []fulfillment.RecordChange, user string) []step {
	t.Helper()
	var out []step
	last := map[string]int64{}
	for _, c := range cs {
		if user != "" && c.UserID != user {
			continue
		}
		if c.Version <= last[c.UserID] {
			t.Errorf("change %+v: version not above %d", c, last[c.UserID])
		}
		last[c.UserID] = c.Version
		out = append(out, step{c.UserID, c.Login, c.Step, c.Remote})
	}
	return out
}

// historySteps returns the steps of rec's history entries from the
// first'th, as remote changes would report them.
func historySteps(rec fulfillment.Record, first int) []step {
	var out []step
	for _, c := range rec.History[first:] {
		out = append(out, step{User: rec.UserID, Step: c.Step, Remote: true})
	}
	return out
}

// TestSubscribeSeesOtherInstances: two Services on one store (a
// MemoryStore: one process, two instances). A subscriber of A gets, once
// the feed listens, every write of B that adds a history entry (an order,
// the steps of a Sync pass), once each, in order, with Remote set and no
// login, and none of B's claims and bookkeeping; A's own changes once
// each, with their login, not again as remote echoes.
func TestSubscribeSeesOtherInstances(t *testing.T) {
	ctx := t.Context()
	store := fulfillment.NewMemoryStore()
	w := fulfillmenttest.New(t, fulfillmenttest.WithStore(store), fulfillmenttest.WithoutEventHook(), fulfillmenttest.WithUsers(
		fulfillmenttest.Employee("ada"), fulfillmenttest.Employee("bo"), fulfillmenttest.Employee("cy"), fulfillmenttest.Employee("di")))
	a := w.Service
	cfg := w.Config
	cfg.Rand = nil // a source of its own
	b, err := fulfillment.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	log := subscribe(t, a)
	log.resync() // the feed listens: B's writes from now on reach A
	ada, bo, cy, di := w.User("ada@example.com").ID, w.User("bo@example.com").ID, w.User("cy@example.com").ID, w.User("di@example.com").ID

	// B orders for ada and runs a pass: A sees each step B recorded.
	if _, err := b.Order(ctx, ada); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Order(ctx, bo); err != nil { // the last of B's writes: a marker
		t.Fatal(err)
	}
	got := log.until(func(c fulfillment.RecordChange) bool { return c.UserID == bo && c.Step == fulfillment.StepInitiated })
	rec, err := store.Get(ctx, ada)
	if err != nil {
		t.Fatal(err)
	}
	if len(rec.History) < 4 {
		t.Fatalf("ada's record after B's pass has %d history entries, want the order and a pass's steps", len(rec.History))
	}
	if rec.Version <= int64(len(rec.History)) {
		t.Errorf("ada's record at version %d with %d history entries: the pass wrote no claim or bookkeeping, which the test needs", rec.Version, len(rec.History))
	}
	want := append(historySteps(rec, 0),
		step{bo, "", fulfillment.StepInitiating, true}, step{bo, "", fulfillment.StepInitiated, true})
	if diff := cmp.Diff(want, steps(t, got, "")); diff != "" {
		t.Errorf("A's changes of B's order and pass (-want +got):\n%s", diff)
	}
	for _, c := range got {
		if c.Status == "" || c.Version == 0 {
			t.Errorf("change %+v: no status or version", c)
		}
	}

	// A orders for cy itself: its changes come once, local, with the
	// login; their echoes from the feed do not come (B's order for di,
	// after them, is the marker).
	if _, err := a.Order(ctx, cy); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Order(ctx, di); err != nil {
		t.Fatal(err)
	}
	got = log.until(func(c fulfillment.RecordChange) bool { return c.UserID == di && c.Step == fulfillment.StepInitiated })
	want = []step{
		{cy, "cy@example.com", fulfillment.StepInitiating, false}, {cy, "cy@example.com", fulfillment.StepInitiated, false},
		{di, "", fulfillment.StepInitiating, true}, {di, "", fulfillment.StepInitiated, true},
	}
	if diff := cmp.Diff(want, steps(t, got, "")); diff != "" {
		t.Errorf("A's changes of its own order and then B's (-want +got):\n%s", diff)
	}
	log.empty()
}

// breakingStore is a MemoryStore whose change feed breaks on demand.
type breakingStore struct {
	*fulfillment.MemoryStore
	breaks chan error    // a value breaks the feed that listens
	ended  chan struct{} // a value each time a WatchChanges returns
}

func (s *breakingStore) WatchChanges(ctx context.Context, fn func(fulfillment.RecordChange)) error {
	defer func() { s.ended <- struct{}{} }()
	inner, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- s.MemoryStore.WatchChanges(inner, fn) }()
	select {
	case err := <-s.breaks:
		cancel()
		<-done
		return err
	case err := <-done:
		return err
	}
}

// fakeTicker is a ticker the test ticks.
type fakeTicker struct {
	d time.Duration
	c chan time.Time
}

func (f *fakeTicker) C() <-chan time.Time { return f.c }
func (f *fakeTicker) Stop()               {}

// TestChangeFeedRestarts: a feed that breaks is restarted after a wait
// (a ticker from Config.NewTicker, 1 s, then 2 s), logged as a duration an
// operator reads ("1s", as serve's other waits, not nanoseconds), and each
// restart tells the subscribers with a Resync that they may have missed changes; the
// restarted feed delivers the other instance's changes. The feed stops
// with the last subscriber and starts again with the next one.
func TestChangeFeedRestarts(t *testing.T) {
	ctx := t.Context()
	store := &breakingStore{MemoryStore: fulfillment.NewMemoryStore(), breaks: make(chan error), ended: make(chan struct{}, 8)}
	tickers := make(chan *fakeTicker, 8)
	var logs syncio.Buffer
	w := fulfillmenttest.New(t, fulfillmenttest.WithStore(store), fulfillmenttest.WithoutEventHook(),
		fulfillmenttest.WithUsers(fulfillmenttest.Employee("ada")),
		fulfillmenttest.WithConfig(func(c *fulfillment.Config) {
			c.Logger = slog.New(slog.NewJSONHandler(&logs, nil))
			c.NewTicker = func(d time.Duration) fulfillment.Ticker {
				tk := &fakeTicker{d: d, c: make(chan time.Time, 1)}
				tickers <- tk
				return tk
			}
		}))
	cfg := w.Config
	cfg.Rand = nil
	b, err := fulfillment.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	subCtx, unsubscribe := context.WithCancel(ctx)
	log := &changeLog{t: t, ch: make(chan fulfillment.RecordChange, 64)}
	w.Service.Subscribe(subCtx, func(c fulfillment.RecordChange) { log.ch <- c })
	log.resync()

	for _, wait := range []time.Duration{time.Second, 2 * time.Second} {
		store.breaks <- errors.New("connection lost")
		<-store.ended
		var tk *fakeTicker
		select {
		case tk = <-tickers:
		case <-time.After(30 * time.Second): // bounds a Service that does not restart
			t.Fatal("no restart scheduled after the feed broke")
		}
		if tk.d != wait {
			t.Errorf("restart after %v, want %v", tk.d, wait)
		}
		log.empty() // nothing until the restart
		tk.c <- w.Now()
		log.resync()
	}
	var waits []any
	for line := range strings.SplitSeq(strings.TrimSpace(logs.String()), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if rec["msg"] == "fulfillment: change feed broke; restarting" {
			waits = append(waits, rec["wait"])
		}
	}
	if diff := cmp.Diff([]any{"1s", "2s"}, waits); diff != "" {
		t.Errorf("logged waits of the restarts (-want +got):\n%s", diff)
	}

	if _, err := b.Order(ctx, w.User("ada@example.com").ID); err != nil {
		t.Fatal(err)
	}
	got := log.until(func(c fulfillment.RecordChange) bool { return c.Step == fulfillment.StepInitiated })
	if diff := cmp.Diff([]step{{got[0].UserID, "", fulfillment.StepInitiating, true}, {got[0].UserID, "", fulfillment.StepInitiated, true}}, steps(t, got, "")); diff != "" {
		t.Errorf("the other instance's order after the restarts (-want +got):\n%s", diff)
	}

	unsubscribe()
	select {
	case <-store.ended:
	case <-time.After(30 * time.Second): // bounds a feed that does not stop
		t.Fatal("the feed still listens after the last subscriber left")
	}
	log2 := subscribe(t, w.Service)
	log2.resync()
	log.empty()
	select {
	case tk := <-tickers:
		t.Errorf("a restart (%v) scheduled with no feed broken", tk.d)
	default:
	}
}

// TestSubscribeLaterGetsResyncAtOnce: a subscriber that comes while the
// feed already listens, and no delivery runs, gets its Resync from
// Subscribe itself.
func TestSubscribeLaterGetsResyncAtOnce(t *testing.T) {
	w, listened, _ := feedWorld(t)
	first := subscribe(t, w.Service)
	first.resync()
	bounded(t, listened, "the feed listens") // its delivery of the Resync has ended
	var got []fulfillment.RecordChange
	cancel := w.Service.Subscribe(t.Context(), func(c fulfillment.RecordChange) { got = append(got, c) })
	defer cancel()
	if diff := cmp.Diff([]fulfillment.RecordChange{{Remote: true, Resync: true}}, got); diff != "" {
		t.Errorf("a second subscriber's changes when Subscribe returns (-want +got):\n%s", diff)
	}
	first.empty()
}

// listenedStore returns a MemoryStore whose listened is closed once the
// Service has handled its feed's first Resync (the feed listens): the
// feed's goroutine then delivers nothing until the store's next change,
// and a change of the test's goroutine is delivered before the call that
// stored it returns.
func listenedStore() (store *hookStore, listened <-chan struct{}) {
	ch := make(chan struct{})
	var once sync.Once
	return &hookStore{MemoryStore: fulfillment.NewMemoryStore(), heard: func(c fulfillment.RecordChange) {
		if c.Resync {
			once.Do(func() { close(ch) })
		}
	}}, ch
}

// hookStore is a MemoryStore that calls its hooks, those set: before
// before each Put, after after each Put that stored a record, and heard
// after its feed's fn took each change.
type hookStore struct {
	*fulfillment.MemoryStore
	before, after func(fulfillment.Record)
	heard         func(fulfillment.RecordChange)
}

func (s *hookStore) Put(ctx context.Context, r fulfillment.Record) (fulfillment.Record, error) {
	if s.before != nil {
		s.before(r)
	}
	out, err := s.MemoryStore.Put(ctx, r)
	if err == nil && s.after != nil {
		s.after(out)
	}
	return out, err
}

func (s *hookStore) WatchChanges(ctx context.Context, fn func(fulfillment.RecordChange)) error {
	return s.MemoryStore.WatchChanges(ctx, func(c fulfillment.RecordChange) {
		fn(c)
		if s.heard != nil {
			s.heard(c)
		}
	})
}

// TestSubscribeHeldChangeNotAfterLater: A orders for ada while B does,
// and B's write of the version A's Put would make is stored first. The
// feed reports it while A's Put is in flight, so A holds it until the
// Put's outcome (it may be A's own echo); B's next change comes
// meanwhile and is delivered. A's Put loses: the held change, older than
// the one delivered, is not delivered after it (the console would show
// ada's order back at its intent).
func TestSubscribeHeldChangeNotAfterLater(t *testing.T) {
	ctx := t.Context()
	mem := fulfillment.NewMemoryStore()
	inFlight, release := make(chan struct{}), make(chan struct{})
	var first atomic.Bool
	store := &hookStore{MemoryStore: mem, before: func(r fulfillment.Record) {
		if r.Version == 0 && first.CompareAndSwap(false, true) {
			close(inFlight)
			<-release
		}
	}}
	w := fulfillmenttest.New(t, fulfillmenttest.WithStore(store), fulfillmenttest.WithoutEventHook(),
		fulfillmenttest.WithUsers(fulfillmenttest.Employee("ada")))
	cfg := w.Config
	cfg.Store, cfg.Rand = mem, nil
	b, err := fulfillment.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	log := subscribe(t, w.Service)
	log.resync()
	ada := w.User("ada@example.com").ID

	ordered := make(chan error, 1)
	go func() { _, err := w.Service.Order(ctx, ada); ordered <- err }()
	<-inFlight
	if _, err := b.Order(ctx, ada); err != nil {
		t.Fatal(err)
	}
	got := log.until(func(c fulfillment.RecordChange) bool { return c.Step == fulfillment.StepInitiated })
	if diff := cmp.Diff([]step{{ada, "", fulfillment.StepInitiated, true}}, steps(t, got, "")); diff != "" {
		t.Errorf("A's changes while its Put is in flight (-want +got):\n%s", diff)
	}
	close(release)
	if err := <-ordered; !errors.Is(err, fulfillment.ErrOrderInFlight) {
		t.Errorf("A's Order = %v, want an error wrapping ErrOrderInFlight", err)
	}
	log.empty() // the held change is delivered, if at all, before Order returns
}

// TestSubscribeDuringPutDeliversOnce: a Put in flight when the first
// subscriber comes (no feed ran when the Service noted the write) stores
// its record after the feed listens, and the feed reports it before the
// Put returns: the change is delivered once, as this Service's own (with
// the login), not again (or instead) as a remote one.
func TestSubscribeDuringPutDeliversOnce(t *testing.T) {
	ctx := t.Context()
	inFlight, release, handled := make(chan struct{}), make(chan struct{}), make(chan struct{})
	var first, reported atomic.Bool
	store := &hookStore{MemoryStore: fulfillment.NewMemoryStore(),
		before: func(r fulfillment.Record) {
			if r.Version == 0 && first.CompareAndSwap(false, true) {
				close(inFlight)
				<-release
			}
		},
		after: func(r fulfillment.Record) {
			if r.Version == 1 {
				select { // the feed has handled the change before Put returns
				case <-handled:
				case <-time.After(30 * time.Second): // bounds a feed that does not report it
					t.Error("the feed did not report the Put")
				}
			}
		},
		heard: func(c fulfillment.RecordChange) {
			if c.Version == 1 && reported.CompareAndSwap(false, true) {
				close(handled)
			}
		}}
	w := fulfillmenttest.New(t, fulfillmenttest.WithStore(store), fulfillmenttest.WithoutEventHook(),
		fulfillmenttest.WithUsers(fulfillmenttest.Employee("ada")))
	ada := w.User("ada@example.com").ID

	ordered := make(chan error, 1)
	go func() { _, err := w.Service.Order(ctx, ada); ordered <- err }()
	<-inFlight
	log := subscribe(t, w.Service)
	log.resync() // the feed listens: the Put, stored now, is reported
	close(release)
	if err := <-ordered; err != nil {
		t.Fatal(err)
	}
	got := log.until(func(c fulfillment.RecordChange) bool { return c.Step == fulfillment.StepInitiated })
	want := []step{{ada, "ada@example.com", fulfillment.StepInitiating, false}, {ada, "ada@example.com", fulfillment.StepInitiated, false}}
	if diff := cmp.Diff(want, steps(t, got, "")); diff != "" {
		t.Errorf("the changes of an order whose first Put was in flight when the feed started (-want +got):\n%s", diff)
	}
	log.empty()
}

// bounded waits for ch, and fails the test after 30 s (a delivery that
// deadlocked, say).
func bounded(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(30 * time.Second): // bounds a deadlock, never reached when it works
		t.Fatalf("%s: still waiting after 30 s", what)
	}
}

// await runs call in a goroutine of its own and returns its error, and
// fails the test if call has not returned after 30 s: it deadlocked (a
// subscriber waiting for itself, say), and the test must not hang with it.
func await(t *testing.T, what string, call func() error) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- call() }()
	select {
	case err := <-done:
		return err
	case <-time.After(30 * time.Second): // bounds a deadlock, never reached when it works
		t.Fatalf("%s: no return after 30 s (deadlocked?)", what)
		return nil
	}
}

// feedWorld starts a World on a listenedStore, without the event hook,
// with an employee ([fulfillmenttest.Employee]) of each name. It returns
// the World, the store's listened, and the employees' Okta IDs, in the
// order of names.
func feedWorld(t *testing.T, names ...string) (w *fulfillmenttest.World, listened <-chan struct{}, ids []string) {
	t.Helper()
	store, listened := listenedStore()
	users := make([]fulfillmenttest.User, len(names))
	for i, name := range names {
		users[i] = fulfillmenttest.Employee(name)
	}
	w = fulfillmenttest.New(t, fulfillmenttest.WithStore(store), fulfillmenttest.WithoutEventHook(),
		fulfillmenttest.WithUsers(users...))
	for _, name := range names {
		ids = append(ids, w.User(name+"@example.com").ID)
	}
	return w, listened, ids
}

// TestSubscriberOrdersFromFn: a subscriber that orders for another user
// from fn (a Put of the Service while a delivery runs, in the goroutine
// that delivers) does not wait for itself; the changes of its order are
// delivered after the change that made it order, and every change once,
// in the order the Service stored them.
func TestSubscriberOrdersFromFn(t *testing.T) {
	ctx := t.Context()
	w, listened, ids := feedWorld(t, "ada", "bo")
	ada, bo := ids[0], ids[1]
	var got []fulfillment.RecordChange // appended by one delivery at a time
	var orderErr error
	w.Service.Subscribe(ctx, func(c fulfillment.RecordChange) { // until the test ends: a cancel would wait on a deadlock
		if c.Resync {
			return
		}
		got = append(got, c)
		if c.UserID == ada && c.Step == fulfillment.StepInitiated {
			_, orderErr = w.Service.Order(ctx, bo)
		}
	})
	bounded(t, listened, "the feed listens")
	if err := await(t, "ada's order, whose subscriber orders for bo", func() error {
		_, err := w.Service.Order(ctx, ada)
		return err
	}); err != nil {
		t.Error(err)
	}
	if orderErr != nil {
		t.Errorf("bo's order from fn: %v", orderErr)
	}
	want := []step{
		{ada, "ada@example.com", fulfillment.StepInitiating, false}, {ada, "ada@example.com", fulfillment.StepInitiated, false},
		{bo, "bo@example.com", fulfillment.StepInitiating, false}, {bo, "bo@example.com", fulfillment.StepInitiated, false},
	}
	if diff := cmp.Diff(want, steps(t, got, "")); diff != "" {
		t.Errorf("changes delivered before ada's Order returned (-want +got):\n%s", diff)
	}
}

// TestSubscriberCancelsFromFn: a subscriber that calls its own cancel
// from fn does not wait for itself and gets no change after; another
// subscriber goes on getting them.
func TestSubscriberCancelsFromFn(t *testing.T) {
	ctx := t.Context()
	w, listened, ids := feedWorld(t, "ada", "bo")
	ada, bo := ids[0], ids[1]
	var quitter, stayer []fulfillment.RecordChange
	var cancel func()
	cancel = w.Service.Subscribe(ctx, func(c fulfillment.RecordChange) {
		if !c.Resync {
			quitter = append(quitter, c)
			cancel()
		}
	})
	w.Service.Subscribe(ctx, func(c fulfillment.RecordChange) { // until the test ends
		if !c.Resync {
			stayer = append(stayer, c)
		}
	})
	bounded(t, listened, "the feed listens")
	if err := await(t, "the orders, whose first change's subscriber cancels", func() error {
		var errs []error
		for _, id := range []string{ada, bo} {
			_, err := w.Service.Order(ctx, id)
			errs = append(errs, err)
		}
		return errors.Join(errs...)
	}); err != nil {
		t.Error(err)
	}
	if diff := cmp.Diff([]step{{ada, "ada@example.com", fulfillment.StepInitiating, false}}, steps(t, quitter, "")); diff != "" {
		t.Errorf("changes of the subscriber that cancelled (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]step{
		{ada, "ada@example.com", fulfillment.StepInitiating, false}, {ada, "ada@example.com", fulfillment.StepInitiated, false},
		{bo, "bo@example.com", fulfillment.StepInitiating, false}, {bo, "bo@example.com", fulfillment.StepInitiated, false},
	}, steps(t, stayer, "")); diff != "" {
		t.Errorf("changes of the other subscriber (-want +got):\n%s", diff)
	}
}

// TestSubscriberSubscribesFromFn: a subscriber that subscribes from fn
// does not wait for itself; the new subscriber gets its Resync (the feed
// listens) and then the changes stored after it subscribed: not the one
// being delivered when it did, nor the order's next one, stored before
// (an order delivers its changes once it has released the record).
func TestSubscriberSubscribesFromFn(t *testing.T) {
	ctx := t.Context()
	w, listened, ids := feedWorld(t, "ada")
	ada := ids[0]
	var later []fulfillment.RecordChange
	var subscribed bool
	w.Service.Subscribe(ctx, func(c fulfillment.RecordChange) { // both until the test ends
		if c.Resync || subscribed {
			return
		}
		subscribed = true
		w.Service.Subscribe(ctx, func(c fulfillment.RecordChange) { later = append(later, c) })
	})
	bounded(t, listened, "the feed listens")
	if err := await(t, "the order, whose first change's subscriber subscribes", func() error {
		_, err := w.Service.Order(ctx, ada)
		return err
	}); err != nil {
		t.Error(err)
	}
	if err := w.Service.Delete(ctx, ada); err != nil {
		t.Fatal(err)
	}
	if len(later) == 0 || later[0] != (fulfillment.RecordChange{Remote: true, Resync: true}) {
		t.Fatalf("the new subscriber's changes %+v: want a Resync first", later)
	}
	want := []step{{ada, "ada@example.com", fulfillment.StepDeleting, false}, {ada, "ada@example.com", fulfillment.StepDeleted, false}}
	if diff := cmp.Diff(want, steps(t, later[1:], "")); diff != "" {
		t.Errorf("changes of the subscriber subscribed from fn (-want +got):\n%s", diff)
	}
}

// junkStore is a MemoryStore whose feed reports a Resync (as pgstore's
// does for a notification it cannot read) for each value of junk, and
// sends on handled once the Service has taken it.
type junkStore struct {
	*fulfillment.MemoryStore
	junk, handled chan struct{}
}

func (s *junkStore) WatchChanges(ctx context.Context, fn func(fulfillment.RecordChange)) error {
	done := make(chan error, 1)
	go func() { done <- s.MemoryStore.WatchChanges(ctx, fn) }()
	for {
		select {
		case <-s.junk:
			fn(fulfillment.RecordChange{Resync: true})
			s.handled <- struct{}{}
		case err := <-done:
			return err
		}
	}
}

// TestJunkNotificationsPaced: a flood of Resyncs the running feed
// reports (junk notifications) within a second of the last delivered is
// delivered once, at the end of that second (a ticker from
// Config.NewTicker), not once each; one that comes a second after the
// last delivered is delivered at once.
func TestJunkNotificationsPaced(t *testing.T) {
	store := &junkStore{MemoryStore: fulfillment.NewMemoryStore(), junk: make(chan struct{}), handled: make(chan struct{})}
	tickers := make(chan *fakeTicker, 8)
	w := fulfillmenttest.New(t, fulfillmenttest.WithStore(store), fulfillmenttest.WithoutEventHook(),
		fulfillmenttest.WithConfig(func(c *fulfillment.Config) {
			c.NewTicker = func(d time.Duration) fulfillment.Ticker {
				tk := &fakeTicker{d: d, c: make(chan time.Time, 1)}
				tickers <- tk
				return tk
			}
		}))
	log := subscribe(t, w.Service)
	log.resync() // the feed listens
	junk := func() {
		t.Helper()
		store.junk <- struct{}{}
		bounded(t, store.handled, "the Service takes a Resync")
	}

	w.Advance(300 * time.Millisecond)
	for range 5 {
		junk()
	}
	var tk *fakeTicker
	select {
	case tk = <-tickers:
	case <-time.After(30 * time.Second): // bounds a Service that does not schedule it
		t.Fatal("no ticker for the Resyncs that wait")
	}
	if tk.d != 700*time.Millisecond {
		t.Errorf("the Resyncs wait %v, want 700ms (to a second after the last delivered)", tk.d)
	}
	log.empty() // nothing until the ticker ticks
	select {
	case tk := <-tickers:
		t.Errorf("a second ticker (%v) for Resyncs that wait", tk.d)
	default:
	}
	w.Advance(700 * time.Millisecond)
	tk.c <- w.Now()
	log.resync() // the five, once
	w.Advance(time.Second)
	junk()
	log.resync() // a second after the last: at once
	log.empty()
	select {
	case tk := <-tickers:
		t.Errorf("a ticker (%v) for a Resync a second after the last", tk.d)
	default:
	}
}

// stopTicker is a fakeTicker whose Stop closes stopped.
type stopTicker struct {
	fakeTicker
	stopped chan struct{}
	once    sync.Once
}

func (s *stopTicker) Stop() { s.once.Do(func() { close(s.stopped) }) }

// TestWaitingResyncEndsWithFeed: a Resync waits for its ticker when the
// last subscriber cancels: the feed stops, and so does the wait (its
// ticker is stopped), without delivering it.
func TestWaitingResyncEndsWithFeed(t *testing.T) {
	store := &junkStore{MemoryStore: fulfillment.NewMemoryStore(), junk: make(chan struct{}), handled: make(chan struct{})}
	tickers := make(chan *stopTicker, 8)
	w := fulfillmenttest.New(t, fulfillmenttest.WithStore(store), fulfillmenttest.WithoutEventHook(),
		fulfillmenttest.WithConfig(func(c *fulfillment.Config) {
			c.NewTicker = func(d time.Duration) fulfillment.Ticker {
				tk := &stopTicker{fakeTicker: fakeTicker{d: d, c: make(chan time.Time, 1)}, stopped: make(chan struct{})}
				tickers <- tk
				return tk
			}
		}))
	changes := make(chan fulfillment.RecordChange, 8)
	cancel := w.Service.Subscribe(t.Context(), func(c fulfillment.RecordChange) { changes <- c })
	defer cancel()
	select {
	case c := <-changes:
		if !c.Resync {
			t.Fatalf("first change %+v, want a Resync", c)
		}
	case <-time.After(30 * time.Second): // bounds a feed that does not listen
		t.Fatal("no Resync: the feed does not listen")
	}
	w.Advance(300 * time.Millisecond)
	store.junk <- struct{}{}
	bounded(t, store.handled, "the Service takes a Resync")
	var tk *stopTicker
	select {
	case tk = <-tickers:
	case <-time.After(30 * time.Second): // bounds a Service that does not schedule it
		t.Fatal("no ticker for the Resync that waits")
	}
	cancel()
	bounded(t, tk.stopped, "the waiting Resync's ticker stops with the feed")
	select {
	case c := <-changes:
		t.Errorf("a change %+v after the last subscriber cancelled", c)
	default:
	}
}
