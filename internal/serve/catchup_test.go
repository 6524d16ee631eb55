package serve

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/google/go-cmp/cmp"

	"github.com/preenroll/preenroll/fulfillment"
	"github.com/preenroll/preenroll/internal/syncio"
	"github.com/preenroll/preenroll/okta"
	"github.com/preenroll/preenroll/okta/oktatest"
)

// caughtUp is the result of one catch-up.
type caughtUp struct {
	rep fulfillment.CatchUpReport
	err error
}

// startCatchingUp starts serve with cfg and returns it and a channel of
// its catch-ups' results.
func startCatchingUp(t *testing.T, cfg Config) (*running, <-chan caughtUp) {
	t.Helper()
	ch := make(chan caughtUp, 16)
	cfg.caughtUp = func(rep fulfillment.CatchUpReport, err error) {
		select {
		case ch <- caughtUp{rep, err}:
		default: // the test read what it waits for; later passes go unread
		}
	}
	return start(t, cfg), ch
}

func nextCatchUp(t *testing.T, ch <-chan caughtUp) caughtUp {
	t.Helper()
	select {
	case c := <-ch:
		return c
	case <-t.Context().Done():
		t.Fatal("no catch-up")
	}
	return caughtUp{}
}

// TestCatchUpFindsOrdersMissedWhileDown: an order placed at Okta while no
// instance was up (Okta gave up on its hook delivery) is recorded by the
// next instance's first catch-up, from the checkpoint in the store, and
// fulfilled; one placed before serve ever ran on the store is not.
func TestCatchUpFindsOrdersMissedWhileDown(t *testing.T) {
	// Okta's clock follows the wall clock; serve learns it from Okta's
	// Date headers (whole seconds; its first catch-up starts a second
	// before Okta's now).
	f := startFakes(t, 2, oktatest.WithRealTime(), oktatest.WithNow(time.Now()))
	store := fulfillment.NewMemoryStore()
	cfg := f.config(store)
	cfg.CatchUpInterval = time.Hour

	f.order(t, f.users[1]) // before serve ever ran: never meant for it
	// Okta's clock moves 5 s ahead, so that this order is well before
	// serve's first start on Okta's clock.
	if err := f.okta.SetNow(f.okta.Now().Add(5 * time.Second)); err != nil {
		t.Fatal(err)
	}
	first, ch := startCatchingUp(t, cfg)
	if c := nextCatchUp(t, ch); c.err != nil || c.rep.Events != 0 || c.rep.Until.IsZero() {
		t.Fatalf("first catch-up on a new store = %+v, %v; want nothing read and a checkpoint", c.rep, c.err)
	}
	if err := first.stop(t); err != nil {
		t.Fatal(err)
	}

	f.order(t, f.users[0])
	if _, err := f.okta.AwaitQueuedDeliveries(t.Context()); err != nil {
		t.Fatal(err)
	}
	// 2 s later on Okta's clock: serve's idea of it, from whole-second
	// Date headers, may be a second behind, and the order must be before
	// the next catch-up's end.
	if err := f.okta.SetNow(f.okta.Now().Add(2 * time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := store.Get(t.Context(), f.users[0].ID); err == nil {
		t.Fatal("the order reached the store while serve was down")
	}

	second, ch := startCatchingUp(t, cfg)
	c := nextCatchUp(t, ch)
	if c.err != nil || c.rep.Recorded() != 1 || c.rep.Events != 1 {
		t.Fatalf("catch-up after the outage = %+v, %v; want the one missed order recorded", c.rep, c.err)
	}
	rec, err := store.Get(t.Context(), f.users[0].ID)
	if err != nil || rec.Step == "" {
		t.Fatalf("record of the missed order = %+v, %v", rec, err)
	}
	if _, err := store.Get(t.Context(), f.users[1].ID); err == nil {
		t.Error("an order placed before serve first ran on the store was recorded")
	}
	mf := scrape(t, second.base)
	if v := value(mf, "preenroll_catch_up_events_total", map[string]string{"outcome": "recorded"}); v != 1 {
		t.Errorf("preenroll_catch_up_events_total{outcome=recorded} = %v, want 1", v)
	}
	if v := value(mf, "preenroll_catch_up_passes_total", map[string]string{"result": "ok"}); v != 1 {
		t.Errorf("preenroll_catch_up_passes_total{result=ok} = %v, want 1", v)
	}
	if v := value(mf, "preenroll_catch_up_last_success_timestamp_seconds", nil); v < float64(time.Now().Add(-time.Minute).Unix()) {
		t.Errorf("preenroll_catch_up_last_success_timestamp_seconds = %v, want about now", v)
	}
	if v := value(mf, "preenroll_orders_total", nil); v != 1 {
		t.Errorf("preenroll_orders_total = %v, want 1", v)
	}
}

// TestCatchUpWithAnOAuthApp: with an OAuth service app, the catch-up reads
// the System Log with a token of its own (okta.logs.read): an app granted
// it catches up; one that is not fails the catch-up alone, with a log line
// saying what to grant, while serve registers its hook and runs.
func TestCatchUpWithAnOAuthApp(t *testing.T) {
	api := []string{okta.ScopeUsersManage, okta.ScopeUsersRead, okta.ScopeGroupsRead, okta.ScopeEventHooksManage}
	for _, tc := range []struct {
		name    string
		granted []string
		wantErr bool
	}{
		{"okta.logs.read granted", append(slices.Clone(api), okta.ScopeLogsRead), false},
		{"okta.logs.read not granted", api, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := startFakes(t, 1, oktatest.WithRealTime(), oktatest.WithNow(time.Now()))
			// The wall clock, not the few ms behind it the fake started:
			// a client assertion's iat must not be in Okta's future.
			wallClock(t, f.okta)
			signer, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
			if err != nil {
				t.Fatal(err)
			}
			key, err := okta.NewPrivateKey(signer, "k1")
			if err != nil {
				t.Fatal(err)
			}
			if err := f.okta.AddServiceApp(oktatest.ServiceApp{ClientID: "0oaServe", Keys: []jose.JSONWebKey{key.PublicJWK()}, Scopes: tc.granted}); err != nil {
				t.Fatal(err)
			}
			f.okta.RevokeToken(f.okta.Token())
			store := fulfillment.NewMemoryStore()
			logs := &syncio.Buffer{}
			cfg := f.config(store)
			cfg.Logger = slog.New(slog.NewJSONHandler(logs, nil))
			cfg.CatchUpInterval = time.Hour
			cfg.OktaToken = ""
			cfg.OktaOptions = []okta.Option{okta.WithOAuth(okta.OAuthConfig{ClientID: "0oaServe", PrivateKey: key, Scopes: api})}
			cfg.SystemLogOptions = []okta.Option{okta.WithOAuth(okta.OAuthConfig{ClientID: "0oaServe", PrivateKey: key, Scopes: []string{okta.ScopeLogsRead}})}
			_, ch := startCatchingUp(t, cfg)
			// The first catch-up on a store asks Okta once (its clock):
			// a missing grant shows at start.
			c := nextCatchUp(t, ch)
			if got := c.err != nil; got != tc.wantErr {
				t.Fatalf("catch-up error = %v, want error %v", c.err, tc.wantErr)
			}
			admin, err := okta.NewClient(f.okta.URL(), "", okta.WithOAuth(okta.OAuthConfig{ClientID: "0oaServe", PrivateKey: key, Scopes: api}))
			if err != nil {
				t.Fatal(err)
			}
			hooks, err := admin.ListEventHooks(t.Context())
			if err != nil || len(hooks) != 1 || hooks[0].VerificationStatus != okta.EventHookVerified {
				t.Errorf("hooks = %+v, %v; want serve's, verified", hooks, err)
			}
			if !tc.wantErr {
				return
			}
			if msgs := messages(logs); !hasPrefix(msgs, "serve: catch-up from Okta's System Log failed") {
				t.Errorf("no catch-up failure logged in %q", msgs)
			}
			if !strings.Contains(logs.String(), `"hint":"grant the Okta service app the okta.logs.read scope`) {
				t.Errorf("the failure does not say to grant okta.logs.read:\n%s", logs)
			}
		})
	}
}

// downStore is a MemoryStore (so a DocumentStore and an EventChecker)
// whose Put fails while it is down.
type downStore struct {
	*fulfillment.MemoryStore
	mu   sync.Mutex
	down bool
}

func (s *downStore) setDown(down bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.down = down
}

func (s *downStore) Put(ctx context.Context, r fulfillment.Record) (fulfillment.Record, error) {
	s.mu.Lock()
	down := s.down
	s.mu.Unlock()
	if down {
		return fulfillment.Record{}, errors.New("test: the store is down")
	}
	return s.MemoryStore.Put(ctx, r)
}

// orderWhileDown has an order placed at Okta while store is down, waits
// until the hook queue gave up on its event (outcomes: the queue's), and
// brings the store back.
func orderWhileDown(t *testing.T, f *fakes, store *downStore, outcomes <-chan fulfillment.EventOutcome) {
	t.Helper()
	store.setDown(true)
	defer store.setDown(false)
	wallClock(t, f.okta)
	f.order(t, f.users[0])
	select {
	case out := <-outcomes:
		if out != fulfillment.EventFailed {
			t.Fatalf("the queue's outcome with the store down = %v, want failed", out)
		}
	case <-t.Context().Done():
		t.Fatal("the event was never taken from the queue")
	}
}

// TestCatchUpRecordsWhatTheQueueGaveUpOn: an event accepted while the
// store was down, which the hook queue gave up on after its retries (Okta
// got its 200 and will not deliver it again), is recorded by the next
// catch-up once the store is back.
func TestCatchUpRecordsWhatTheQueueGaveUpOn(t *testing.T) {
	f := startFakes(t, 1, oktatest.WithRealTime(), oktatest.WithNow(time.Now()))
	store := &downStore{MemoryStore: fulfillment.NewMemoryStore()}
	cfg := f.config(store)
	cfg.CatchUpInterval = time.Hour
	var srv *server
	cfg.started = func(s *server) {
		srv = s
		s.queue.retries = []time.Duration{time.Millisecond}
	}
	outcomes := make(chan fulfillment.EventOutcome, 4)
	cfg.eventDone = func(_ fulfillment.HookEvent, out fulfillment.EventOutcome) { outcomes <- out }
	_, ch := startCatchingUp(t, cfg)
	if c := nextCatchUp(t, ch); c.err != nil {
		t.Fatal(c.err)
	}

	orderWhileDown(t, f, store, outcomes)

	rep, err := srv.svc.CatchUpFromCheckpoint(t.Context())
	if err != nil || rep.Recorded() != 1 {
		t.Fatalf("catch-up after the store came back = %+v, %v; want the order recorded", rep, err)
	}
	if rec, err := store.Get(t.Context(), f.users[0].ID); err != nil || rec.Step == "" {
		t.Fatalf("record = %+v, %v", rec, err)
	}
}

// TestGiveUpWithAStoreThatMarksFirst: with a store that is no
// fulfillment.EventChecker (a user's wrapper that embeds
// fulfillment.Store hides it), RecordEvent marks an event before saving
// its order, so an event whose save failed is marked: the queue that gives
// up on it must not promise that the catch-up records it (the catch-up
// finds it a duplicate), and logs it at error level, to be ordered by hand.
func TestGiveUpWithAStoreThatMarksFirst(t *testing.T) {
	f := startFakes(t, 1, oktatest.WithRealTime(), oktatest.WithNow(time.Now()))
	down := &downStore{MemoryStore: fulfillment.NewMemoryStore()}
	store := struct{ fulfillment.Store }{down} // hides EventChecker (and DocumentStore)
	logs := &syncio.Buffer{}
	cfg := f.config(store)
	cfg.Logger = slog.New(slog.NewJSONHandler(logs, nil))
	cfg.CatchUpInterval = time.Hour
	var srv *server
	cfg.started = func(s *server) {
		srv = s
		s.queue.retries = nil // gives up after the first failure
	}
	outcomes := make(chan fulfillment.EventOutcome, 4)
	cfg.eventDone = func(_ fulfillment.HookEvent, out fulfillment.EventOutcome) { outcomes <- out }
	_, ch := startCatchingUp(t, cfg)
	if c := nextCatchUp(t, ch); c.err != nil {
		t.Fatal(c.err)
	}

	orderWhileDown(t, f, down, outcomes)

	type line struct{ Level, Msg string }
	var got []line
	for l := range strings.SplitSeq(logs.String(), "\n") {
		var rec line
		if json.Unmarshal([]byte(l), &rec) == nil && strings.Contains(strings.ToLower(rec.Msg), "event not recorded") {
			got = append(got, line{rec.Level, rec.Msg[:strings.Index(rec.Msg, " (")]})
		}
	}
	if diff := cmp.Diff([]line{{"ERROR", "serve: event NOT recorded"}}, got); diff != "" {
		t.Errorf("the give-up lines (-want +got):\n%s", diff)
	}
	// Why: the catch-up takes the event for handled.
	rep, err := srv.svc.CatchUpFromCheckpoint(t.Context())
	if err != nil || rep.Recorded() != 0 || rep.Outcomes[fulfillment.EventDuplicate] != 1 {
		t.Errorf("catch-up = %+v, %v; want the event a duplicate", rep, err)
	}
}

// TestCatchUpIntervalDefaults: 5 minutes with an org, one fake day in the
// demo (so that a catch-up never reaches past the System Log's 90 fake
// days), what is set otherwise, none when negative.
func TestCatchUpIntervalDefaults(t *testing.T) {
	org := func(d time.Duration) Config {
		return Config{OktaOrg: "https://example.okta.com", OktaToken: "t", HookSecret: "a-hook-secret-0123456789", Store: "keys.db", CatchUpInterval: d}
	}
	for _, tc := range []struct {
		name string
		cfg  Config
		want time.Duration
	}{
		{"org", org(0), DefaultCatchUpInterval},
		{"org, set", org(time.Minute), time.Minute},
		{"org, off", org(-1), -1},
		{"demo", Config{DemoDay: 100 * time.Millisecond}, 100 * time.Millisecond},
		{"demo, default day", Config{}, DefaultDemoDay},
		{"demo, set", Config{CatchUpInterval: time.Minute}, time.Minute},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.cfg.withDefaults()
			if err != nil {
				t.Fatal(err)
			}
			if got.CatchUpInterval != tc.want {
				t.Errorf("CatchUpInterval = %v, want %v", got.CatchUpInterval, tc.want)
			}
		})
	}
}

// wallClock moves the fake Okta's clock, which follows the wall clock from
// where it was set, to the wall clock if it is behind.
func wallClock(t *testing.T, o *oktatest.Server) {
	t.Helper()
	now := time.Now()
	if err := o.SetNow(now); err != nil && o.Now().Before(now) {
		t.Fatal(err) // refused, and not because the fake was already there
	}
}
