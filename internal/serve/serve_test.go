package serve

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/preenroll/preenroll/fulfillment"
	"github.com/preenroll/preenroll/fulfillment/fulfillmenttest"
	"github.com/preenroll/preenroll/internal/syncio"
	"github.com/preenroll/preenroll/internal/testhttp"
	"github.com/preenroll/preenroll/okta"
	"github.com/preenroll/preenroll/okta/oktatest"
	"github.com/preenroll/preenroll/yubico/yubicotest"
)

// fakes are a fake Okta org and a fake Yubico on one clock, started in
// the test: serve talks to them over loopback as to the real services.
type fakes struct {
	okta   *oktatest.Server
	yubico *yubicotest.Server
	admin  *okta.Client // the administrator's client (orders in "the console")
	users  []okta.User
}

// startFakes starts the fakes of a fulfillmenttest World (its own Service
// idle, its hook unregistered: serve is the Service under test) with
// users ACTIVE users; opts configure the fake Okta.
func startFakes(t *testing.T, users int, opts ...oktatest.Option) *fakes {
	t.Helper()
	w := fulfillmenttest.New(t, fulfillmenttest.WithoutEventHook(),
		fulfillmenttest.WithOkta(append([]oktatest.Option{oktatest.WithoutRateLimits()}, opts...)...))
	f := &fakes{okta: w.Okta, yubico: w.Yubico, admin: w.OktaClient}
	for i := range users {
		f.users = append(f.users, w.AddUser(fulfillmenttest.Employee(string(rune('a'+i%26))+"user"+string(rune('a'+i/26)))))
	}
	return f
}

// config is serve's configuration for the fakes.
func (f *fakes) config(store fulfillment.Store) Config {
	return Config{
		Listen: "127.0.0.1:0", RegisterHook: true, HookSecret: okta.Secret("test-hook-secret-0123456789"),
		OktaOrg: f.okta.URL(), OktaToken: okta.Secret(f.okta.Token()),
		YubicoAPI: f.yubico.URL(), YubicoJWKS: f.yubico.ConsoleURL(), YubicoToken: okta.Secret(f.yubico.Token()),
		StoreBackend: store, IdempotentShipments: true, RPIDs: []string{fulfillmenttest.DefaultRPID},
		SyncInterval: time.Hour, SyncJitter: -1, ShutdownTimeout: 10 * time.Second,
		Logger: slog.New(slog.DiscardHandler),
	}
}

// order is an administrator ordering a key for u in Okta: Okta emits the
// event serve's hook receives.
func (f *fakes) order(t *testing.T, u okta.User) {
	t.Helper()
	err := f.admin.InitiateFulfillment(t.Context(), okta.FulfillmentRequest{UserID: u.ID, FulfillmentData: okta.FulfillmentData{
		{ProductID: "1", InventoryProductID: "106", CustomizationID: "RXJN83"}}})
	if err != nil {
		t.Fatal(err)
	}
}

// running is a Run in the background.
type running struct {
	base   string
	cancel context.CancelFunc
	done   chan error
}

// start runs serve with cfg until the test ends (or stop).
func start(t *testing.T, cfg Config) *running {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{cancel: cancel, done: make(chan error, 1)}
	listening := make(chan string, 1)
	cfg.OnListen = func(base string) { listening <- base }
	go func() { r.done <- Run(ctx, cfg) }()
	select {
	case r.base = <-listening:
	case err := <-r.done:
		t.Fatalf("Run: %v", err)
	}
	t.Cleanup(func() { r.stop(t) })
	return r
}

// stop cancels Run's context and returns its error (once).
func (r *running) stop(t *testing.T) error {
	t.Helper()
	r.cancel()
	err, ok := <-r.done
	if ok {
		close(r.done)
	}
	return err
}

// events collects what the queue did, for waiting without sleeping.
type events struct {
	mu   sync.Mutex
	outs map[string]fulfillment.EventOutcome
	ch   chan struct{}
}

// startWithEvents starts serve with cfg, recording the outcome of every
// event its hook handles.
func startWithEvents(t *testing.T, cfg Config) (*running, *events) {
	t.Helper()
	ev := newEvents()
	cfg.eventDone = ev.done
	return start(t, cfg), ev
}

func newEvents() *events {
	return &events{outs: map[string]fulfillment.EventOutcome{}, ch: make(chan struct{}, 100)}
}

func (e *events) done(ev fulfillment.HookEvent, out fulfillment.EventOutcome) {
	e.mu.Lock()
	e.outs[ev.ID] = out
	e.mu.Unlock()
	e.ch <- struct{}{}
}

// wait waits for n more events.
func (e *events) wait(t *testing.T, n int) {
	t.Helper()
	for range n {
		select {
		case <-e.ch:
		case <-t.Context().Done():
			t.Fatal("test ended waiting for events")
		}
	}
}

// post sends an event hook request as Okta would.
func post(t *testing.T, url, auth string, body []byte) *http.Response {
	t.Helper()
	resp, _ := testhttp.PostJSON(t, url, auth, body)
	return resp
}

// delivery is an Okta event hook body with one preregister event.
func delivery(eventID, userID string) []byte {
	b, _ := json.Marshal(map[string]any{"eventType": "com.okta.event_hook", "data": map[string]any{"events": []any{map[string]any{
		"uuid": eventID, "eventType": okta.EventTypePreregisterInitiate,
		"target": []any{map[string]any{"id": userID, "type": "User", "alternateId": "x@example.com"}},
		"debugContext": map[string]any{"debugData": map[string]any{"fulfillmentProvider": "yubico",
			"yubicoProductId": "1", "yubicoInventoryProductId": "106", "yubicoCustomizationId": "RXJN83"}},
	}}}})
	return b
}

// scrape reads /metrics with Prometheus' text parser.
func scrape(t *testing.T, base string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	mf, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	return mf
}

// value returns the value of the sample of family name whose labels
// include want (counter, gauge, or a histogram's count); -1 if none.
func value(mf map[string]*dto.MetricFamily, name string, want map[string]string) float64 {
	f := mf[name]
	if f == nil {
		return -1
	}
next:
	for _, m := range f.Metric {
		for k, v := range want {
			found := false
			for _, l := range m.Label {
				if l.GetName() == k && l.GetValue() == v {
					found = true
				}
			}
			if !found {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue()
		case m.Gauge != nil:
			return m.Gauge.GetValue()
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount())
		}
	}
	return -1
}

// TestBannerWithOrg: with an org, the start-up banner says which line is
// the Okta org and which are serve's own URLs.
// TestRunRefusesIPRPID: an org at an IP address (the fakes, on loopback)
// without RPIDs makes Run refuse to start, naming the default and why,
// before it listens: the Service would otherwise order keys
// Yubico programs for an RP ID Okta refuses at activation.
func TestRunRefusesIPRPID(t *testing.T) {
	t.Parallel()
	f := startFakes(t, 0)
	cfg := f.config(fulfillment.NewMemoryStore())
	cfg.RPIDs = nil
	cfg.OnListen = func(string) { t.Error("Run listened") }
	err := Run(t.Context(), cfg)
	if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), `OktaOrg's host "127.0.0.1", is no valid RP ID: an IP address`) {
		t.Errorf("Run = %v, want ErrConfig naming the org's host, an IP address", err)
	}
}

func TestBannerWithOrg(t *testing.T) {
	f := startFakes(t, 0)
	cfg := f.config(fulfillment.NewMemoryStore())
	var out bytes.Buffer
	cfg.Stdout = &out
	r := start(t, cfg)
	want := "preenroll serve: Okta org " + f.okta.URL() + "\n" +
		"  event hook: " + r.base + "/hooks/okta\n" +
		"  health: " + r.base + "/healthz  ready: " + r.base + "/readyz  metrics: " + r.base + "/metrics\n"
	if diff := cmp.Diff(want, out.String()); diff != "" {
		t.Errorf("banner (-want +got):\n%s", diff)
	}
}

func TestEventHookAgainstOkta(t *testing.T) {
	f := startFakes(t, 2)
	cfg := f.config(fulfillment.NewMemoryStore())
	r, ev := startWithEvents(t, cfg)
	hookURL := r.base + DefaultHookPath

	// serve registered and Okta verified its hook.
	hooks, err := f.admin.ListEventHooks(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(hooks) != 1 || hooks[0].VerificationStatus != okta.EventHookVerified || hooks[0].Channel.Config.URI != hookURL {
		t.Fatalf("hooks at Okta = %+v, want one VERIFIED at %s", hooks, hookURL)
	}

	t.Run("delivered by Okta", func(t *testing.T) {
		f.order(t, f.users[0])
		ev.wait(t, 1)
		rec, err := cfg.StoreBackend.Get(t.Context(), f.users[0].ID)
		if err != nil || rec.Status != fulfillment.FulfillmentStarted || rec.Login != f.users[0].Profile.Login {
			t.Fatalf("record = %+v, %v; want an order for %s", rec, err, f.users[0].Profile.Login)
		}
	})
	t.Run("wrong secret", func(t *testing.T) {
		if resp := post(t, hookURL, "not-the-secret", delivery("ev-wrong", f.users[1].ID)); resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("wrong secret: %d, want 401", resp.StatusCode)
		}
		if _, err := cfg.StoreBackend.Get(t.Context(), f.users[1].ID); err == nil {
			t.Error("a delivery with a wrong secret made a record")
		}
	})
	t.Run("replayed event", func(t *testing.T) {
		body := delivery("ev-replay", f.users[1].ID)
		for range 2 {
			if resp := post(t, hookURL, cfg.HookSecret.Reveal(), body); resp.StatusCode != http.StatusOK {
				t.Fatalf("delivery: %d", resp.StatusCode)
			}
		}
		// The second is either refused by the queue (still queued) or
		// recorded as a duplicate by the store: wait for what was queued.
		mf := scrape(t, r.base)
		queued := 2 - value(mf, "preenroll_hook_deliveries_total", map[string]string{"outcome": "duplicate"})
		if queued < 0 || queued > 2 {
			queued = 2
		}
		ev.wait(t, int(queued))
		rec, err := cfg.StoreBackend.Get(t.Context(), f.users[1].ID)
		if err != nil {
			t.Fatal(err)
		}
		orders := 0
		for _, c := range rec.History {
			if c.Step == fulfillment.StepInitiated {
				orders++
			}
		}
		if rec.EventID != "ev-replay" || orders != 1 {
			t.Fatalf("record from event %q with %d orders in its history, want one order from ev-replay", rec.EventID, orders)
		}
	})
	t.Run("user Okta does not know", func(t *testing.T) {
		if resp := post(t, hookURL, cfg.HookSecret.Reveal(), delivery("ev-stranger", "00unobody12345678901")); resp.StatusCode != http.StatusOK {
			t.Fatalf("delivery: %d", resp.StatusCode)
		}
		ev.wait(t, 1)
		ev.mu.Lock()
		out := ev.outs["ev-stranger"]
		ev.mu.Unlock()
		if out != fulfillment.EventRejected {
			t.Errorf("outcome %v, want rejected", out)
		}
		if _, err := cfg.StoreBackend.Get(t.Context(), "00unobody12345678901"); err == nil {
			t.Error("an event for an unknown user made a record")
		}
		if v := value(scrape(t, r.base), "preenroll_hook_events_total", map[string]string{"outcome": "rejected"}); v != 1 {
			t.Errorf("rejected events metric = %v, want 1", v)
		}
	})
}

// TestRejectedEventLoggedOnce: an event the queue's worker rejects (Okta
// does not have its user) is logged once, by the Service (serve adds no line
// of its own), with the event's uuid and type, the user, the reason and the
// request ID of the delivery that brought it, although a worker records it
// after the request was answered.
func TestRejectedEventLoggedOnce(t *testing.T) {
	f := startFakes(t, 0)
	cfg := f.config(fulfillment.NewMemoryStore())
	logs := &syncio.Buffer{}
	cfg.Logger = slog.New(slog.NewJSONHandler(logs, nil))
	r, ev := startWithEvents(t, cfg)
	resp := post(t, r.base+DefaultHookPath, cfg.HookSecret.Reveal(), delivery("ev-stranger", "00unobody12345678901"))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("delivery: %d", resp.StatusCode)
	}
	ev.wait(t, 1)
	var got []map[string]any
	for line := range strings.SplitSeq(logs.String(), "\n") {
		var rec map[string]any
		if json.Unmarshal([]byte(line), &rec) != nil || rec["msg"] == "serve: request" {
			continue
		}
		for _, v := range rec {
			if v == "ev-stranger" {
				if reason, _ := rec["reason"].(string); strings.Contains(reason, fulfillment.ErrUnknownUser.Error()) && strings.Contains(reason, "404") {
					rec["reason"] = "(unknown user: 404)"
				}
				delete(rec, "time")
				got = append(got, rec)
				break
			}
		}
	}
	want := []map[string]any{{
		"level": "WARN", "msg": "fulfillment: event hook: event rejected", "uuid": "ev-stranger", "eventType": okta.EventTypePreregisterInitiate,
		"user": "00unobody12345678901", "reason": "(unknown user: 404)", "requestId": resp.Header.Get("X-Request-Id"),
	}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("log lines naming the rejected event (-want +got):\n%s", diff)
	}
}

// gateStore blocks Put while the gate is closed: a slow Service.
type gateStore struct {
	fulfillment.Store
	gate    chan struct{}
	entered chan struct{}
}

func (g *gateStore) Put(ctx context.Context, r fulfillment.Record) (fulfillment.Record, error) {
	select {
	case g.entered <- struct{}{}:
	default:
	}
	<-g.gate
	return g.Store.Put(ctx, r)
}

func TestSlowServiceDeliveryAnsweredAtOnce(t *testing.T) {
	f := startFakes(t, 1)
	store := &gateStore{Store: fulfillment.NewMemoryStore(), gate: make(chan struct{}), entered: make(chan struct{}, 1)}
	cfg := f.config(store)
	r, ev := startWithEvents(t, cfg)
	// The delivery is answered while the worker is stuck in the store.
	if resp := post(t, r.base+DefaultHookPath, cfg.HookSecret.Reveal(), delivery("ev-slow", f.users[0].ID)); resp.StatusCode != http.StatusOK {
		t.Fatalf("delivery: %d", resp.StatusCode)
	}
	<-store.entered
	if v := value(scrape(t, r.base), "preenroll_hook_queue_length", nil); v != 1 {
		t.Errorf("queue length while the store is stuck = %v, want 1", v)
	}
	close(store.gate)
	ev.wait(t, 1)
	if _, err := store.Get(t.Context(), f.users[0].ID); err != nil {
		t.Fatalf("after the store moved on: %v", err)
	}
}

func TestQueueFullAnswers503(t *testing.T) {
	f := startFakes(t, 2)
	store := &gateStore{Store: fulfillment.NewMemoryStore(), gate: make(chan struct{}), entered: make(chan struct{}, 1)}
	cfg := f.config(store)
	cfg.HookQueue, cfg.HookWorkers = 1, 1
	r := start(t, cfg)
	hookURL := r.base + DefaultHookPath
	// The worker takes the first and is stuck; the second fills the queue.
	post(t, hookURL, cfg.HookSecret.Reveal(), delivery("ev-1", f.users[0].ID))
	<-store.entered
	post(t, hookURL, cfg.HookSecret.Reveal(), delivery("ev-2", f.users[1].ID))
	resp := post(t, hookURL, cfg.HookSecret.Reveal(), delivery("ev-3", f.users[1].ID))
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Errorf("delivery to a full queue: %d, Retry-After %q; want 503 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	close(store.gate)
	if v := value(scrape(t, r.base), "preenroll_hook_deliveries_total", map[string]string{"outcome": "overloaded"}); v != 1 {
		t.Errorf("overloaded deliveries = %v, want 1", v)
	}
}

func TestMetricsMove(t *testing.T) {
	f := startFakes(t, 1)
	cfg := f.config(fulfillment.NewMemoryStore())
	r, ev := startWithEvents(t, cfg)
	before := scrape(t, r.base)
	f.order(t, f.users[0])
	ev.wait(t, 1)
	after := scrape(t, r.base)
	for _, c := range []struct {
		name   string
		labels map[string]string
	}{
		{"preenroll_hook_deliveries_total", map[string]string{"outcome": "accepted"}},
		{"preenroll_hook_events_total", map[string]string{"outcome": "recorded"}},
		{"preenroll_orders_total", nil},
		{"preenroll_remote_requests_total", map[string]string{"vendor": "okta", "endpoint": "GET /api/v1/users/{id}", "outcome": "ok"}},
		{"preenroll_remote_request_duration_seconds", map[string]string{"vendor": "okta", "endpoint": "GET /api/v1/users/{id}"}},
	} {
		b, a := value(before, c.name, c.labels), value(after, c.name, c.labels)
		if a <= max(b, 0) {
			t.Errorf("%s%v: %v before, %v after; want it to grow", c.name, c.labels, b, a)
		}
	}
	for _, name := range []string{"preenroll_keys", "preenroll_sync_pass_duration_seconds", "preenroll_sync_passes_total",
		"preenroll_remote_last_success_timestamp_seconds", "preenroll_hook_queue_length"} {
		if after[name] == nil {
			t.Errorf("metric %s missing", name)
		}
	}
	// Endpoint labels are route templates, never raw paths with IDs.
	for _, m := range after["preenroll_remote_requests_total"].Metric {
		for _, l := range m.Label {
			if l.GetName() == "endpoint" && strings.Contains(l.GetValue(), f.users[0].ID) {
				t.Errorf("endpoint label %q holds a user ID", l.GetValue())
			}
		}
	}
}

// getReadyz returns serve's /readyz at base.
func getReadyz(t *testing.T, base string) (int, readiness) {
	t.Helper()
	resp, err := http.Get(base + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var rd readiness
	if err := json.NewDecoder(resp.Body).Decode(&rd); err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, rd
}

// TestReadyzVendors: /readyz is 503 naming the vendor when it is down,
// answers 500, or refuses serve's credentials (a revoked token answers
// 401: Okta or Yubico was reached, but serve cannot work with it).
func TestReadyzVendors(t *testing.T) {
	for _, tc := range []struct {
		name   string
		before func(*fakes) error // before serve starts
		after  func(*testing.T, *fakes, *running, Config, *events)
		bad    string // the check that fails
		want   string // in its text
	}{
		{name: "event hook not registered yet", bad: "hook", want: "registering the event hook"},
		{name: "Yubico answers 500", bad: vendorYubico, want: "no answer",
			before: func(f *fakes) error { return f.yubico.FailNext(1000, http.StatusInternalServerError) }},
		{name: "Yubico drops connections", bad: vendorYubico, want: "no answer",
			before: func(f *fakes) error { return f.yubico.DropNext(1000) }},
		{name: "Yubico token revoked", bad: vendorYubico, want: "refused the credentials: GET /countries answered 401",
			before: func(f *fakes) error { f.yubico.RevokeToken(f.yubico.Token()); return nil }},
		{name: "Okta token revoked", bad: vendorOkta, want: "refused the credentials: GET /api/v1/users/{id} answered 401",
			after: func(t *testing.T, f *fakes, r *running, cfg Config, ev *events) {
				f.okta.RevokeToken(f.okta.Token())
				// The event makes serve read the user: an authenticated call.
				if resp := post(t, r.base+DefaultHookPath, cfg.HookSecret.Reveal(), delivery("ev-revoked", f.users[0].ID)); resp.StatusCode != http.StatusOK {
					t.Fatalf("delivery: %d", resp.StatusCode)
				}
				ev.wait(t, 1)
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := startFakes(t, 1)
			if tc.before != nil {
				if err := tc.before(f); err != nil {
					t.Fatal(err)
				}
			}
			cfg := f.config(fulfillment.NewMemoryStore())
			if tc.bad == "hook" {
				// As while serve registers its event hook at Okta: the
				// server answers (Okta verifies the URL), Okta does not
				// deliver yet.
				cfg.started = func(s *server) { s.hookPending.Store(true) }
			}
			// serve asks Yubico at once when it starts (Okta it reached
			// registering its hook): /readyz is read once that probe has
			// failed, when Yubico is the bad check, or has reached Yubico.
			probed := make(chan struct{})
			var once sync.Once
			cfg.probed = func(vendor string, err error) {
				if vendor == vendorYubico && (err != nil) == (tc.bad == vendorYubico) {
					once.Do(func() { close(probed) })
				}
			}
			r, ev := startWithEvents(t, cfg)
			if tc.after != nil {
				tc.after(t, f, r, cfg, ev)
			}
			<-probed
			code, rd := getReadyz(t, r.base)
			if code != http.StatusServiceUnavailable || rd.Ready || !strings.Contains(rd.Checks[tc.bad], tc.want) {
				t.Errorf("/readyz = %d %+v, want 503 with %s saying %q", code, rd, tc.bad, tc.want)
			}
			for _, ok := range []string{"store", "serve", vendorOkta, vendorYubico} {
				if ok != tc.bad && rd.Checks[ok] != "ok" {
					t.Errorf("check %s = %q, want ok", ok, rd.Checks[ok])
				}
			}
		})
	}
}

func TestReadyzFailsWhenTheStoreIsClosed(t *testing.T) {
	f := startFakes(t, 0)
	db, err := fulfillment.OpenSQLite(t.Context(), t.TempDir()+"/keys.db")
	if err != nil {
		t.Fatal(err)
	}
	r := start(t, f.config(db))
	get := func() (int, readiness) { return getReadyz(t, r.base) }
	if _, rd := get(); rd.Checks["store"] != "ok" {
		t.Fatalf("store check = %q before closing, want ok", rd.Checks["store"])
	}
	db.Close()
	code, rd := get()
	if code != http.StatusServiceUnavailable || rd.Ready || rd.Checks["store"] == "ok" {
		t.Errorf("/readyz after the store closed = %d %+v, want 503 with a store error", code, rd)
	}
	if resp, err := http.Get(r.base + "/healthz"); err != nil || resp.StatusCode != 200 {
		t.Errorf("/healthz = %v, %v; want 200 (alive)", resp, err)
	}
}

func TestGracefulShutdownRecordsAcceptedEvents(t *testing.T) {
	f := startFakes(t, 1)
	store := &gateStore{Store: fulfillment.NewMemoryStore(), gate: make(chan struct{}), entered: make(chan struct{}, 1)}
	cfg := f.config(store)
	stopping := make(chan struct{})
	cfg.Logger = slog.New(&signalHandler{msg: "serve: shutting down", ch: stopping})
	r, _ := startWithEvents(t, cfg)
	if resp := post(t, r.base+DefaultHookPath, cfg.HookSecret.Reveal(), delivery("ev-inflight", f.users[0].ID)); resp.StatusCode != 200 {
		t.Fatalf("delivery: %d", resp.StatusCode)
	}
	<-store.entered // the worker is in the middle of recording it
	r.cancel()      // SIGTERM
	<-stopping      // shutdown has begun while the event is being recorded
	close(store.gate)
	if err := r.stop(t); err != nil {
		t.Fatalf("Run = %v, want nil after a graceful shutdown", err)
	}
	rec, err := store.Get(context.Background(), f.users[0].ID)
	if err != nil || rec.EventID != "ev-inflight" {
		t.Fatalf("the event accepted before shutdown: record %+v, %v; want recorded", rec, err)
	}
	// Stopped: no more deliveries are taken.
	if _, err := http.Post(r.base+DefaultHookPath, "application/json", bytes.NewReader(delivery("ev-late", f.users[0].ID))); err == nil {
		t.Error("the hook still answers after Run returned")
	}
}

func TestMatchRoute(t *testing.T) {
	for _, tc := range []struct {
		rs     []route
		path   string
		suffix bool
		want   string
	}{
		{oktaRoutes, "/api/v1/users/00u1abc", false, "/api/v1/users/{id}"},
		{oktaRoutes, "/api/v1/users", false, "/api/v1/users"},
		{oktaRoutes, "/webauthn-registration/api/v1/users/00u1/enrollments/pfx9/mark-error", false, "/webauthn-registration/api/v1/users/{userId}/enrollments/{id}/mark-error"},
		{oktaRoutes, "/webauthn-registration/api/v1/enroll", false, "/webauthn-registration/api/v1/enroll"},
		{oktaRoutes, "/api/v1/secret/00u1", false, "other"},
		{yubicoRoutes, "/v1/fpr/shipments/3f2a", true, "/fpr/shipments/{id}"},
		{yubicoRoutes, "/v1/shipments_exact/search-description", true, "/shipments_exact/search-description"},
		{yubicoRoutes, "/.well-known/yubico-transport-keys.jwks", true, "/.well-known/yubico-transport-keys.jwks"},
	} {
		if got := matchRoute(tc.rs, tc.path, tc.suffix); got != tc.want {
			t.Errorf("matchRoute(%q) = %q, want %q", tc.path, got, tc.want)
		}
	}
}

// signalHandler is a slog.Handler that closes ch at the first record with
// message msg.
type signalHandler struct {
	msg  string
	ch   chan struct{}
	once sync.Once
}

func (h *signalHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *signalHandler) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *signalHandler) WithGroup(string) slog.Handler            { return h }
func (h *signalHandler) Handle(_ context.Context, r slog.Record) error {
	if r.Message == h.msg {
		h.once.Do(func() { close(h.ch) })
	}
	return nil
}

// stuckStore blocks, once, the Put that records a step's result (it
// clears the lease the intent took), until the Put's context ends: a
// store that stopped answering in the middle of a step.
type stuckStore struct {
	fulfillment.Store
	once    sync.Once
	entered chan fulfillment.Record // the record being put when it stuck
}

func (s *stuckStore) Put(ctx context.Context, r fulfillment.Record) (fulfillment.Record, error) {
	if r.Lease.Owner == "" {
		if cur, err := s.Store.Get(ctx, r.UserID); err == nil && cur.Lease.Owner != "" {
			stuck := false
			s.once.Do(func() { stuck = true })
			if stuck {
				s.entered <- cur
				<-ctx.Done()
				return fulfillment.Record{}, ctx.Err()
			}
		}
	}
	return s.Store.Put(ctx, r)
}

// TestShutdownDeadlineAbandonsAndReleasesLeases: a step stuck in the store
// past the shutdown deadline is abandoned (Run returns), and its lease is
// shortened to AbandonGrace so that the next instance resumes it soon.
func TestShutdownDeadlineAbandonsAndReleasesLeases(t *testing.T) {
	f := startFakes(t, 1)
	store := &stuckStore{Store: fulfillment.NewMemoryStore(), entered: make(chan fulfillment.Record, 1)}
	cfg := f.config(store)
	cfg.ShutdownTimeout, cfg.AbandonGrace, cfg.Lease = 200*time.Millisecond, 7*time.Second, time.Hour
	logs := &syncio.Buffer{}
	cfg.Logger = slog.New(slog.NewJSONHandler(logs, nil))
	r := start(t, cfg)
	f.order(t, f.users[0]) // the hook records it; Sync takes the first step
	var leased fulfillment.Record
	select {
	case leased = <-store.entered:
	case <-t.Context().Done():
		t.Fatal("no step reached the store")
	}
	if until := time.Until(leased.Lease.Until); until < 30*time.Minute {
		t.Fatalf("lease while the step runs ends in %v, want about the hour of Config.Lease", until)
	}
	before := time.Now()
	if err := r.stop(t); err != nil {
		t.Fatalf("Run = %v, want nil after an abandoned shutdown", err)
	}
	after := time.Now()
	rec, err := store.Get(context.Background(), f.users[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	if rec.Lease.Owner != leased.Lease.Owner || rec.Step != leased.Step {
		t.Errorf("after shutdown: step %s lease %+v; want the intent %s still leased by %s", rec.Step, rec.Lease, leased.Step, leased.Lease.Owner)
	}
	if u := rec.Lease.Until; u.Before(before.Add(cfg.AbandonGrace)) || u.After(after.Add(cfg.AbandonGrace)) {
		t.Errorf("lease until %v, want AbandonGrace (%v) after the shutdown (%v to %v)", u, cfg.AbandonGrace, before, after)
	}
	msgs := messages(logs)
	for _, want := range []string{"serve: shutdown deadline passed: abandoning the steps still running", "serve: leases shortened"} {
		if !hasPrefix(msgs, want) {
			t.Errorf("no %q line in %q", want, msgs)
		}
	}
}

// TestRequestLogDurations: serve's log writes durations as Go duration
// strings ("took": "1.2ms"), as its "serve: stopped" line does, not as
// bare nanosecond counts.
func TestRequestLogDurations(t *testing.T) {
	f := startFakes(t, 1)
	logs := &syncio.Buffer{}
	cfg := f.config(fulfillment.NewMemoryStore())
	cfg.RegisterHook = false
	cfg.Logger = slog.New(slog.NewJSONHandler(logs, nil))
	r := start(t, cfg)
	if resp := post(t, r.base+DefaultHookPath, "wrong-secret-0123456789", delivery("ev-took", f.users[0].ID)); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("hook with a wrong secret = %d, want 401", resp.StatusCode)
	}
	var got []string
	for line := range strings.SplitSeq(logs.String(), "\n") {
		var rec struct {
			Msg  string
			Took any
		}
		if json.Unmarshal([]byte(line), &rec) != nil || rec.Msg != "serve: request" {
			continue
		}
		s, ok := rec.Took.(string)
		if _, err := time.ParseDuration(s); !ok || err != nil {
			got = append(got, "took "+strings.TrimSpace(line))
			continue
		}
		got = append(got, "ok")
	}
	if diff := cmp.Diff([]string{"ok"}, got); diff != "" {
		t.Errorf("\"serve: request\" lines (-want +got):\n%s", diff)
	}
}

// TestMetricsStartAtZero: before any delivery, event or wait, every fixed
// label value of the counters is exported at 0 (an alert on their
// increase sees 0, not an absent series).
func TestMetricsStartAtZero(t *testing.T) {
	f := startFakes(t, 1)
	cfg := f.config(fulfillment.NewMemoryStore())
	cfg.RegisterHook = false
	r := start(t, cfg)
	mf := scrape(t, r.base)
	var want, got []string
	for _, c := range []struct {
		name, label string
		values      []string
	}{
		{"preenroll_hook_deliveries_total", "outcome", []string{"accepted", "duplicate", "ignored", "verification", "unauthorized", "invalid", "overloaded", "error"}},
		{"preenroll_hook_events_total", "outcome", []string{"recorded", "duplicate", "in-flight", "rejected", "stale", "failed", "abandoned"}},
		{"preenroll_remote_waits_total", "vendor", []string{"okta", "yubico"}},
		{"preenroll_remote_wait_seconds_total", "vendor", []string{"okta", "yubico"}},
		{"preenroll_sync_passes_total", "result", []string{"draining"}}, // "ok" (and perhaps "error"): the first pass runs at start
		// The first catch-up runs at start too, and records nothing.
		{"preenroll_catch_up_events_total", "outcome", []string{"recorded", "duplicate", "in-flight", "rejected", "stale", "skipped"}},
	} {
		for _, v := range c.values {
			series := fmt.Sprintf("%s{%s=%q}", c.name, c.label, v)
			want = append(want, series+" 0")
			got = append(got, fmt.Sprintf("%s %v", series, value(mf, c.name, map[string]string{c.label: v}))) // -1: absent
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("metrics at start (-want +got):\n%s", diff)
	}
}

// TestEventOutcomesListEveryOutcome: the events metric's label values
// (exported at 0 from the start, named in its help) are every outcome
// RecordEvent can return, and "abandoned", so that an outcome added to
// package fulfillment cannot be left out of them.
func TestEventOutcomesListEveryOutcome(t *testing.T) {
	var want []string
	for o := fulfillment.EventOutcome(0); !strings.HasPrefix(o.String(), "EventOutcome("); o++ {
		want = append(want, o.String())
	}
	want = append(want, "abandoned")
	got := slices.Clone(eventOutcomes)
	slices.Sort(want)
	slices.Sort(got)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("eventOutcomes (-fulfillment's outcomes and abandoned +listed):\n%s", diff)
	}
}
