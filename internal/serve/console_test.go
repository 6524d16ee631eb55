package serve

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/preenroll/preenroll/console"
	"github.com/preenroll/preenroll/fulfillment"
	"github.com/preenroll/preenroll/internal/syncio"
	"github.com/preenroll/preenroll/okta"
	"github.com/preenroll/preenroll/okta/oktatest"
)

// browser is a cookie-keeping client that does not follow redirects.
type browser struct {
	t  *testing.T
	hc *http.Client
}

func newBrowser(t *testing.T) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, hc: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// get returns the response (body read) of GET rawURL.
func (b *browser) get(rawURL string) (*http.Response, string) {
	b.t.Helper()
	req, err := http.NewRequestWithContext(b.t.Context(), http.MethodGet, rawURL, nil)
	if err != nil {
		b.t.Fatal(err)
	}
	resp, err := b.hc.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

// redirect GETs rawURL and returns where it redirects (resolved).
func (b *browser) redirect(rawURL string) *url.URL {
	b.t.Helper()
	resp, _ := b.get(rawURL)
	loc, err := resp.Request.URL.Parse(resp.Header.Get("Location"))
	if resp.StatusCode/100 != 3 || err != nil || resp.Header.Get("Location") == "" {
		b.t.Fatalf("GET %s = %d to %q, want a redirect", rawURL, resp.StatusCode, resp.Header.Get("Location"))
	}
	return loc
}

// signIn signs login in to the console at base through the org's sign-in
// page; between the org's redirect and the callback it runs between
// (nil: nothing). It returns the signed-in browser.
func signIn(t *testing.T, org *oktatest.Server, base, login string, between func()) *browser {
	t.Helper()
	b := newBrowser(t)
	loginURL := b.redirect(base + "/")
	if loginURL.Path != "/auth/login" {
		t.Fatalf("GET / redirects to %s, want the console's /auth/login", loginURL)
	}
	authorize := b.redirect(loginURL.String())
	if !strings.HasPrefix(authorize.String(), org.URL()+"/oauth2/v1/authorize?") {
		t.Fatalf("/auth/login redirects to %s, want the org's authorize endpoint", authorize)
	}
	if got, want := authorize.Query().Get("redirect_uri"), base+console.CallbackPath; got != want {
		t.Errorf("redirect_uri = %q, want %q", got, want)
	}
	back, err := org.SignIn(t.Context(), authorize.String(), login)
	if err != nil {
		t.Fatalf("sign in as %s: %v", login, err)
	}
	if between != nil {
		between()
	}
	resp, body := b.get(back.String())
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/" {
		t.Fatalf("callback = %d to %q, want 303 to /; body:\n%s", resp.StatusCode, resp.Header.Get("Location"), body)
	}
	return b
}

// TestDemoConsoleSignInWhileTheClockRunsFast: the demo mounts the console
// over its fake org; an administrator signs in through the fake's sign-in
// page while the fake clock moves 14.4 fake minutes a millisecond (an
// authorization code lives 5 fake minutes, an ID token one fake hour), and
// reaches the People page, which stays reachable as fake days pass.
func TestDemoConsoleSignInWhileTheClockRunsFast(t *testing.T) {
	ticks := make(chan bool, 1000)
	var srv *server
	cfg := Config{Listen: "127.0.0.1:0", DemoUsers: 1, DemoDay: 100 * time.Millisecond, SyncInterval: time.Hour,
		ShutdownTimeout: 10 * time.Second, Logger: slog.New(slog.DiscardHandler),
		demoTick: time.Millisecond, started: func(s *server) { srv = s },
		demoTicked: func(moved bool) {
			select {
			case ticks <- moved:
			default:
			}
		}}
	var out bytes.Buffer
	cfg.Stdout = &out
	r := start(t, cfg)
	w := srv.demo.world
	waitTick := func(moved bool) {
		t.Helper()
		timeout := time.NewTimer(30 * time.Second)
		defer timeout.Stop()
		for {
			select {
			case m := <-ticks:
				if m == moved {
					return
				}
			case <-timeout.C:
				t.Fatalf("no tick that moved=%v in 30 s", moved)
			}
		}
	}
	waitTick(true) // the clock runs

	var held time.Time
	b := signIn(t, w.Okta, r.base, "admin@example.com", func() {
		// The code was issued; ticks pass before the browser comes back.
		held = w.Now()
		for range 3 {
			waitTick(false)
		}
		if !w.Now().Equal(held) {
			t.Errorf("the fake clock moved from %v to %v during the sign-in", held, w.Now())
		}
	})
	resp, body := b.get(r.base + "/")
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "People") || !strings.Contains(body, "admin@example.com") {
		t.Fatalf("GET / after sign-in = %d:\n%s", resp.StatusCode, body)
	}
	if resp.Header.Get("X-Request-Id") == "" {
		t.Error("the console's response has no X-Request-Id")
	}
	waitTick(true) // released: fake time flies again
	if !w.Now().After(held) {
		t.Errorf("fake clock still at %v after the sign-in", w.Now())
	}
	if resp, _ := b.get(r.base + "/"); resp.StatusCode != http.StatusOK {
		t.Errorf("GET / once fake time moved on = %d, want 200 (the session is measured in wall time)", resp.StatusCode)
	}
	for _, path := range []string{"/healthz", "/status", "/metrics"} {
		resp, _ := b.get(r.base + path)
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s = %d, want 200", path, resp.StatusCode)
		}
		if resp.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("GET %s: no X-Content-Type-Options: nosniff", path)
		}
	}
	if resp, _ := b.get(r.base + "/status"); !strings.Contains(resp.Header.Get("Content-Security-Policy"), "frame-ancestors 'none'") {
		t.Errorf("GET /status: Content-Security-Policy %q, want one that forbids framing", resp.Header.Get("Content-Security-Policy"))
	}
	if want := "console: " + r.base + "/ (sign in as admin@example.com"; !strings.Contains(out.String(), want) {
		t.Errorf("banner lacks %q:\n%s", want, out.String())
	}
	// The order form starts with the item the demo's Service orders.
	_, page := b.get(r.base + "/users/" + w.User("admin@example.com").ID + "/order")
	if diff := cmp.Diff(itemFields(w.Config.Defaults), orderFields(page)); diff != "" || w.Config.Defaults == (fulfillment.Item{}) {
		t.Errorf("demo order form fields (-want +got):\n%s", diff)
	}
}

// messages returns the "msg" of every JSON log line in logs.
func messages(logs *syncio.Buffer) []string {
	var out []string
	for line := range strings.SplitSeq(logs.String(), "\n") {
		var rec struct{ Msg string }
		if json.Unmarshal([]byte(line), &rec) == nil {
			out = append(out, rec.Msg)
		}
	}
	return out
}

func hasPrefix(msgs []string, prefix string) bool {
	for _, m := range msgs {
		if strings.HasPrefix(m, prefix) {
			return true
		}
	}
	return false
}

// TestConsoleWithAnOrg: configured with an OIDC app, serve mounts the
// console at "/" (its pages redirect to the org's authorize endpoint, an
// admin signs in) while the hook, /healthz and /metrics keep their paths;
// without one, the console is off and the log says why.
func TestConsoleWithAnOrg(t *testing.T) {
	// The console checks ID tokens on the wall clock, as with a real org.
	f := startFakes(t, 1, oktatest.WithRealTime(), oktatest.WithNow(time.Now()))
	admins := f.okta.AddGroup("preenroll-admins")
	if err := f.okta.AddToGroup(admins, f.users[0].ID); err != nil {
		t.Fatal(err)
	}
	secret := okta.Secret("console-client-secret-0123456789")
	logs := &syncio.Buffer{}
	cfg := f.config(fulfillment.NewMemoryStore())
	cfg.Logger = slog.New(slog.NewJSONHandler(logs, nil))
	cfg.Console = Console{ClientID: "console", ClientSecret: secret, AdminGroup: "preenroll-admins",
		SessionKey: okta.Secret(strings.Repeat("s", 32))}
	r := start(t, cfg)
	if err := f.okta.AddOIDCApp(oktatest.OIDCApp{ClientID: "console", ClientSecret: secret,
		RedirectURIs: []string{r.base + console.CallbackPath}, PKCERequired: true}); err != nil {
		t.Fatal(err)
	}
	b := signIn(t, f.okta, r.base, f.users[0].Profile.Login, nil)
	if resp, body := b.get(r.base + "/"); resp.StatusCode != http.StatusOK || !strings.Contains(body, "People") {
		t.Errorf("GET / signed in = %d:\n%s", resp.StatusCode, body)
	}
	for _, path := range []string{"/healthz", "/metrics", "/status"} {
		if resp, _ := b.get(r.base + path); resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s = %d, want 200", path, resp.StatusCode)
		}
	}
	if resp := post(t, r.base+DefaultHookPath, cfg.HookSecret.Reveal(), delivery("ev1", f.users[0].ID)); resp.StatusCode != http.StatusOK {
		t.Errorf("event hook = %d, want 200 (the console must not take its path)", resp.StatusCode)
	}
	if msgs := messages(logs); !hasPrefix(msgs, "serve: console mounted") {
		t.Errorf("no \"console mounted\" log line in %q", msgs)
	}

	for name, change := range map[string]func(*Config){
		"no OIDC app": func(c *Config) { c.Console = Console{} },
		"turned off":  func(c *Config) { c.Console.Off = true },
	} {
		t.Run(name, func(t *testing.T) {
			logs := &syncio.Buffer{}
			cfg := f.config(fulfillment.NewMemoryStore())
			cfg.RegisterHook = false
			cfg.Logger = slog.New(slog.NewJSONHandler(logs, nil))
			cfg.Console = Console{ClientID: "console", ClientSecret: secret, AdminGroup: "preenroll-admins"}
			change(&cfg)
			r := start(t, cfg)
			resp, body := newBrowser(t).get(r.base + "/")
			if resp.StatusCode != http.StatusOK || !strings.Contains(body, "preenroll serve") {
				t.Errorf("GET / without the console = %d, want serve's status page:\n%s", resp.StatusCode, body)
			}
			if msgs := messages(logs); !hasPrefix(msgs, "serve: console off: ") {
				t.Errorf("no \"console off\" log line in %q", msgs)
			}
		})
	}
}

// TestConsoleConfigProblems: the console's settings are checked with the
// others, all at once.
func TestConsoleConfigProblems(t *testing.T) {
	cfg := Config{OktaOrg: "https://example.okta.com", OktaToken: "t", HookSecret: "0123456789abcdef", Store: "x.db",
		Console: Console{ClientID: "console", RedirectURL: "http://keys.example.com/auth/callback", SessionKey: "short", AuditRetention: time.Hour}}
	_, err := cfg.withDefaults()
	for _, want := range []string{
		"Console.AdminGroup: required",
		"Console.AuditRetention 1h0m0s: want at least 24h0m0s (or negative: kept for ever)",
		`Console.RedirectURL "http://keys.example.com/auth/callback": must be https`,
		"Console.SessionKey: 5 bytes, want at least 32",
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("withDefaults() = %v, want it to say %q", err, want)
		}
	}
	if err != nil && strings.Contains(err.Error(), "short") {
		t.Error("the session key was printed")
	}
}

// openEvents opens the console's event stream at base with b's session
// and reads up to its ": connected" comment.
func openEvents(t *testing.T, b *browser, base string) (*http.Response, *bufio.Reader) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, base+"/events", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := b.hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("GET /events = %d %q, want 200 text/event-stream", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	rd := bufio.NewReader(resp.Body)
	for {
		line, err := rd.ReadString('\n')
		if err != nil {
			t.Fatalf("event stream ended before \": connected\": %v", err)
		}
		if line == ": connected\n" {
			return resp, rd
		}
	}
}

// nextEvent reads the stream up to the next event of kind and returns its
// data; it fails the test if the stream ends first.
func nextEvent(t *testing.T, rd *bufio.Reader, kind string) string {
	t.Helper()
	seen := false
	for {
		line, err := rd.ReadString('\n')
		if err != nil {
			t.Fatalf("event stream ended before a %q event: %v", kind, err)
		}
		line = strings.TrimSuffix(line, "\n")
		switch {
		case line == "event: "+kind:
			seen = true
		case seen && strings.HasPrefix(line, "data: "):
			return strings.TrimPrefix(line, "data: ")
		case line == "":
			seen = false
		}
	}
}

// consoleOverFakes runs serve over the fakes with the console on and
// signs in users[0], an administrator.
func consoleOverFakes(t *testing.T, change func(*Config)) (*fakes, *running, *browser, Config) {
	t.Helper()
	f := startFakes(t, 1, oktatest.WithRealTime(), oktatest.WithNow(time.Now()))
	admins := f.okta.AddGroup("preenroll-admins")
	if err := f.okta.AddToGroup(admins, f.users[0].ID); err != nil {
		t.Fatal(err)
	}
	secret := okta.Secret("console-client-secret-0123456789")
	cfg := f.config(fulfillment.NewMemoryStore())
	cfg.Console = Console{ClientID: "console", ClientSecret: secret, AdminGroup: "preenroll-admins",
		SessionKey: okta.Secret(strings.Repeat("s", 32))}
	if change != nil {
		change(&cfg)
	}
	r := start(t, cfg)
	if err := f.okta.AddOIDCApp(oktatest.OIDCApp{ClientID: "console", ClientSecret: secret,
		RedirectURIs: []string{r.base + console.CallbackPath}, PKCERequired: true}); err != nil {
		t.Fatal(err)
	}
	return f, r, signIn(t, f.okta, r.base, f.users[0].Profile.Login, nil), cfg
}

// TestConsoleLiveUpdatesThroughServe: through serve's handler (request
// IDs, status logging), the console's event stream stays open and carries
// a "record" event when an event hook delivery records an order.
func TestConsoleLiveUpdatesThroughServe(t *testing.T) {
	f, r, b, cfg := consoleOverFakes(t, nil)
	_, rd := openEvents(t, b, r.base)
	if resp := post(t, r.base+DefaultHookPath, cfg.HookSecret.Reveal(), delivery("ev-live", f.users[0].ID)); resp.StatusCode != http.StatusOK {
		t.Fatalf("event hook = %d", resp.StatusCode)
	}
	var ev struct {
		User   string `json:"user"`
		Status string `json:"status"`
	}
	data := nextEvent(t, rd, "record")
	if err := json.Unmarshal([]byte(data), &ev); err != nil || ev.User != f.users[0].ID || ev.Status == "" {
		t.Errorf("record event data %s (%v), want user %s with a status", data, err, f.users[0].ID)
	}
}

// orderFields returns the values the console's order form's item fields
// start with.
func orderFields(page string) map[string]string {
	got := map[string]string{}
	for _, m := range regexp.MustCompile(`<input id="(productId|inventoryProductId|customizationId)"[^>]*\svalue="([^"]*)"`).FindAllStringSubmatch(page, -1) {
		got[m[1]] = m[2]
	}
	return got
}

// itemFields is it as orderFields returns it.
func itemFields(it fulfillment.Item) map[string]string {
	return map[string]string{"productId": it.ProductID, "inventoryProductId": it.InventoryProductID, "customizationId": it.CustomizationID}
}

// TestConsoleOrderFormShowsServesItem: the console's order form starts
// with the item serve orders by default (Config.Item), so that an admin
// sees what will be ordered, and sending it unchanged orders that item.
func TestConsoleOrderFormShowsServesItem(t *testing.T) {
	item := fulfillment.Item{ProductID: "29", InventoryProductID: "107", CustomizationID: "DEF001"}
	f, r, b, cfg := consoleOverFakes(t, func(c *Config) { c.Item = item })
	resp, page := b.get(r.base + "/users/" + f.users[0].ID + "/order")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("order page = %d", resp.StatusCode)
	}
	got := orderFields(page)
	if diff := cmp.Diff(itemFields(item), got); diff != "" {
		t.Fatalf("order form fields (-want +got):\n%s", diff)
	}
	form := url.Values{}
	for k, v := range got {
		form.Set(k, v)
	}
	if resp, err := b.hc.PostForm(r.base+"/users/"+f.users[0].ID+"/order", form); err != nil || resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("order as the form opened = %v, %v; want 303", resp, err)
	} else {
		resp.Body.Close()
	}
	rec, err := cfg.StoreBackend.Get(t.Context(), f.users[0].ID)
	if err != nil || !cmp.Equal(rec.Items, []fulfillment.Item{item}) {
		t.Errorf("ordered %+v (%v), want %+v", rec.Items, err, item)
	}
}

// TestConsoleOnAnotherLoopbackName: serve's console redirect URL names
// its listen address (127.0.0.1); a browser that opens the console as
// localhost is sent to 127.0.0.1 before it signs in (its sign-in cookie
// would be set on localhost, and Okta sends it back to 127.0.0.1), while
// serve's own endpoints answer on either name.
func TestConsoleOnAnotherLoopbackName(t *testing.T) {
	_, r, _, _ := consoleOverFakes(t, nil)
	if !strings.HasPrefix(r.base, "http://127.0.0.1:") {
		t.Fatalf("serve's base %s, want http://127.0.0.1:PORT", r.base)
	}
	other := "http://localhost:" + strings.TrimPrefix(r.base, "http://127.0.0.1:")
	b := newBrowser(t)
	if loc := b.redirect(other + "/users/x"); loc.String() != r.base+"/users/x" {
		t.Errorf("GET %s/users/x redirects to %s, want %s/users/x", other, loc, r.base)
	}
	if resp, _ := b.get(other + "/healthz"); resp.StatusCode != http.StatusOK {
		t.Errorf("GET %s/healthz = %d, want 200", other, resp.StatusCode)
	}
}

// TestShutdownEndsEventStreams: an open console tab does not hold up
// shutdown: its event stream ends when shutdown begins, and the HTTP
// server stops before the shutdown deadline (else it logs that it closed
// the connections still open at the deadline).
func TestShutdownEndsEventStreams(t *testing.T) {
	logs := &syncio.Buffer{}
	_, r, b, _ := consoleOverFakes(t, func(c *Config) {
		c.ShutdownTimeout = 20 * time.Second
		c.Logger = slog.New(slog.NewJSONHandler(logs, nil))
	})
	_, rd := openEvents(t, b, r.base)
	r.cancel() // SIGTERM
	if _, err := io.ReadAll(rd); err != nil {
		t.Errorf("event stream at shutdown: %v; want it to end cleanly", err)
	}
	if err := r.stop(t); err != nil {
		t.Errorf("Run = %v, want nil", err)
	}
	msgs := messages(logs)
	if hasPrefix(msgs, "serve: requests still running at the shutdown deadline") {
		t.Errorf("shutdown waited for the event stream until the deadline: %q", msgs)
	}
	if !hasPrefix(msgs, "serve: stopped") {
		t.Errorf("no \"serve: stopped\" line in %q", msgs)
	}
}

// TestConsoleAuditGoesToTheLog: serve writes every console audit entry to
// its log (the in-memory Audit page is lost at restart and is not shared
// between instances), with the request's ID: the sign-in at info level,
// and a refused request nobody signed in made (anyone can send one) at info
// too, not warn.
func TestConsoleAuditGoesToTheLog(t *testing.T) {
	logs := &syncio.Buffer{}
	f, r, b, _ := consoleOverFakes(t, func(c *Config) { c.Logger = slog.New(slog.NewJSONHandler(logs, nil)) })
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, r.base+"/users/"+f.users[0].ID+"/retry", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	resp, err := b.hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("cross-site POST = %d, want 403", resp.StatusCode)
	}

	type line struct {
		Level, Who, Role, Action, Target, Outcome, Detail string
		RequestID                                         bool
	}
	var got []line
	for l := range strings.SplitSeq(logs.String(), "\n") {
		var rec struct {
			Msg, Level, Who, Role, Action, Target, Outcome, Detail, RequestID string
		}
		if json.Unmarshal([]byte(l), &rec) != nil || rec.Msg != "console: audit" {
			continue
		}
		got = append(got, line{rec.Level, rec.Who, rec.Role, rec.Action, rec.Target, rec.Outcome, rec.Detail, rec.RequestID != ""})
	}
	login := f.users[0].Profile.Login
	want := []line{
		{Level: "INFO", Who: login, Role: "admin", Action: "sign in", Outcome: "ok", Detail: "admin", RequestID: true},
		{Level: "INFO", Action: "cross-origin request", Target: "/users/" + f.users[0].ID + "/retry", Outcome: "refused",
			Detail: "a cross-origin POST was refused", RequestID: true},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("console: audit log lines (-want +got):\n%s", diff)
	}
	if resp, body := b.get(r.base + "/audit"); resp.StatusCode != http.StatusOK || !strings.Contains(body, "a cross-origin POST was refused") {
		t.Errorf("the Audit page (%d) does not list the refused POST:\n%s", resp.StatusCode, body)
	}
}

// enrollStore tells when a record is put at StepEnrolling: a Sync pass
// took an order up.
type enrollStore struct {
	fulfillment.Store
	enrolling chan string
}

func (s enrollStore) Put(ctx context.Context, r fulfillment.Record) (fulfillment.Record, error) {
	if r.Step == fulfillment.StepEnrolling {
		select {
		case s.enrolling <- r.UserID:
		default:
		}
	}
	return s.Store.Put(ctx, r)
}

// TestConsoleOrderStartsASyncPass: an order made in the console
// (Service.Order) is enrolled at once, as serve's help says ("runs Sync ...
// at once after an order"), not at the next -sync-interval (an hour here).
// serve runs its own Sync loop, not Service.Run, so Order's wake of Run
// does not reach it: the order's new record (StepInitiated, seen through
// Service.Subscribe) wakes it, and so does the Okta event the order makes
// (RecordEvent finds the order in flight), when the hook receives it.
func TestConsoleOrderStartsASyncPass(t *testing.T) {
	for _, hook := range []bool{true, false} {
		t.Run(fmt.Sprintf("hook=%v", hook), func(t *testing.T) { consoleOrderStartsASyncPass(t, hook) })
	}
}

// consoleOrderStartsASyncPass orders from the console and waits for the
// enroll step; without the hook Okta's event never reaches serve, and the
// order itself must wake the Sync loop.
func consoleOrderStartsASyncPass(t *testing.T, hook bool) {
	store := enrollStore{Store: fulfillment.NewMemoryStore(), enrolling: make(chan string, 1)}
	f, r, b, _ := consoleOverFakes(t, func(c *Config) { c.StoreBackend, c.RegisterHook = store, hook })
	orderEnrolled(t, b, r.base, f.users[0].ID, store, "the console's order")
}

// orderEnrolled orders a key for the user id on the console at base and
// waits for a Sync pass to enroll it (what names the order in a failure).
func orderEnrolled(t *testing.T, b *browser, base, id string, store enrollStore, what string) {
	t.Helper()
	resp, err := b.hc.PostForm(base+"/users/"+id+"/order", url.Values{
		"productId": {"1"}, "inventoryProductId": {"106"}, "customizationId": {"RXJN83"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("%s = %d, want 303", what, resp.StatusCode)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second) // bounds a failure; the next tick is an hour away
	defer cancel()
	select {
	case got := <-store.enrolling:
		if got != id {
			t.Errorf("enrolling %s, want %s", got, id)
		}
	case <-ctx.Done():
		t.Fatalf("%s was not taken up by a Sync pass before the next -sync-interval", what)
	}
}

// TestLoggedAuditLevels: an audit entry is logged at warn only when a
// signed-in user's action was refused or failed.
func TestLoggedAuditLevels(t *testing.T) {
	logs := &syncio.Buffer{}
	a := loggedAudit{AuditLog: console.NewMemoryAudit(10), log: slog.New(slog.NewJSONHandler(logs, nil))}
	entries := []console.AuditEntry{
		{Who: "ada@example.com", Action: "retry", Outcome: "ok"},
		{Who: "ada@example.com", Action: "retry", Outcome: "refused"},
		{Who: "ada@example.com", Action: "delete", Outcome: "failed"},
		{Action: "cross-origin request", Outcome: "refused"},
		{Action: "sign in", Outcome: "failed"},
	}
	for _, e := range entries {
		if err := a.Append(t.Context(), e); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	for l := range strings.SplitSeq(strings.TrimSpace(logs.String()), "\n") {
		var rec struct{ Level, Action, Outcome string }
		if err := json.Unmarshal([]byte(l), &rec); err != nil {
			t.Fatalf("log line %q: %v", l, err)
		}
		got = append(got, rec.Level+" "+rec.Action+" "+rec.Outcome)
	}
	want := []string{"INFO retry ok", "WARN retry refused", "WARN delete failed", "INFO cross-origin request refused", "INFO sign in failed"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("levels (-want +got):\n%s", diff)
	}
	if recent, err := a.Recent(t.Context(), 10); err != nil || len(recent) != len(entries) {
		t.Errorf("the Audit page keeps %d entries (%v), want %d", len(recent), err, len(entries))
	}
}

// TestConsoleSharesBatchesThroughTheStore: two serve instances on one
// store, behind no session affinity: a batch uploaded to one is shown by
// the other, and the other's Audit page lists the upload.
func TestConsoleSharesBatchesThroughTheStore(t *testing.T) {
	f, a, b, cfg := consoleOverFakes(t, nil)
	cfg.RegisterHook = false
	other := start(t, cfg) // signed in through the first: no OIDC app of its own

	loc := b.upload(t, a.base, "people.csv", fmt.Sprintf("login\n%s\nghost@example.com\n", f.users[0].Profile.Login))

	// The cookie jar sends the session to the other instance (same host,
	// another port; the same session key).
	if resp, page := b.get(other.base + loc); resp.StatusCode != http.StatusOK || !strings.Contains(page, "people.csv") {
		t.Errorf("the batch on the other instance = %d, want 200 naming people.csv:\n%s", resp.StatusCode, page)
	}
	if resp, page := b.get(other.base + "/audit"); resp.StatusCode != http.StatusOK || !strings.Contains(page, "people.csv: 2 rows") {
		t.Errorf("the other instance's Audit page (%d) does not list the upload:\n%s", resp.StatusCode, page)
	}
}

// upload uploads a batch file named name to the console at base, as its
// upload form does, and returns the batch's path.
func (b *browser) upload(t *testing.T, base, name, content string) string {
	t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	fw, err := mw.CreateFormFile("file", name)
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(fw, content)
	mw.Close()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, base+"/batch", &body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Origin", base)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	resp, err := b.hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(loc, "/batch/") {
		t.Fatalf("upload of %s = %d to %q, want 303 to /batch/…", name, resp.StatusCode, loc)
	}
	return loc
}

// TestDemoConsoleKeepsBatches: the demo's console keeps a batch for the
// retention in wall time, as its sessions: 30 fake days pass in five
// minutes of the default demo day, and an upload deletes the batches
// older than the retention.
func TestDemoConsoleKeepsBatches(t *testing.T) {
	ticks := make(chan struct{}, 1)
	var srv *server
	cfg := Config{Listen: "127.0.0.1:0", DemoUsers: 1, DemoDay: 100 * time.Millisecond, SyncInterval: time.Hour,
		ShutdownTimeout: 10 * time.Second, Logger: slog.New(slog.DiscardHandler),
		demoTick: time.Millisecond, started: func(s *server) { srv = s },
		demoTicked: func(bool) {
			select {
			case ticks <- struct{}{}:
			default:
			}
		}}
	r := start(t, cfg)
	w := srv.demo.world
	b := signIn(t, w.Okta, r.base, "admin@example.com", nil)
	first := b.upload(t, r.base, "first.csv", "login\nadmin@example.com\n")
	past := w.Now().Add(console.DefaultBatchRetention + 24*time.Hour)
	for w.Now().Before(past) {
		select {
		case <-ticks:
		case <-t.Context().Done():
			t.Fatal("the fake clock does not move")
		}
	}
	b.upload(t, r.base, "second.csv", "login\nadmin@example.com\n")
	if resp, page := b.get(r.base + first); resp.StatusCode != http.StatusOK || !strings.Contains(page, "first.csv") {
		t.Errorf("the first batch after 31 fake days and another upload = %d, want 200 naming first.csv", resp.StatusCode)
	}
}

// feedEnrollStore is an enrollStore that forwards the change feed of the
// MemoryStore it wraps.
type feedEnrollStore struct {
	enrollStore
	feed fulfillment.ChangeFeed
}

func (s feedEnrollStore) WatchChanges(ctx context.Context, fn func(fulfillment.RecordChange)) error {
	return s.feed.WatchChanges(ctx, fn)
}

// TestRemoteOrderStartsASyncPass: an order an order-only instance (no
// Yubico token) records on the shared store reaches the syncing
// instance through the store's change feed and starts its Sync pass at
// once, not at the next -sync-interval (an hour here); no event hook
// tells it.
func TestRemoteOrderStartsASyncPass(t *testing.T) {
	mem := fulfillment.NewMemoryStore()
	store := feedEnrollStore{enrollStore{Store: mem, enrolling: make(chan string, 1)}, mem}
	listens := make(chan struct{}, 1)
	f, _, b, cfg := consoleOverFakes(t, func(c *Config) {
		c.StoreBackend, c.RegisterHook = store, false
		c.started = func(s *server) {
			s.svc.Subscribe(t.Context(), func(c fulfillment.RecordChange) {
				if c.Resync {
					select {
					case listens <- struct{}{}:
					default:
					}
				}
			})
		}
	})
	select {
	case <-listens: // the syncing instance hears the store's changes
	case <-time.After(10 * time.Second): // bounds a feed that never listens
		t.Fatal("the syncing instance's change feed does not listen")
	}
	cfg.started, cfg.YubicoToken = nil, ""
	orderOnly := start(t, cfg) // signed in through the first: no OIDC app of its own
	orderEnrolled(t, b, orderOnly.base, f.users[0].ID, store.enrollStore, "an order on the order-only instance")
}

// TestEveryResponseNosniff: every response serve sends, from its own
// endpoints, the event hook and the console's (pages, assets, the event
// stream, sign-in, refusals and not-found pages), carries one
// X-Content-Type-Options: nosniff, with the console on and off. Serve's
// request-ID wrapper sets it for all of them; the console sets it too, as
// a package that other servers mount, and Header.Set keeps it to one.
func TestEveryResponseNosniff(t *testing.T) {
	type request struct {
		method, path string
		anonymous    bool   // without the signed-in browser's cookies
		body         []byte // JSON
		auth         string // the Authorization header
	}
	check := func(t *testing.T, b *browser, base string, reqs []request) {
		t.Helper()
		for _, rq := range reqs {
			hc := b.hc
			if rq.anonymous {
				hc = newBrowser(t).hc
			}
			req, err := http.NewRequestWithContext(t.Context(), rq.method, base+rq.path, bytes.NewReader(rq.body))
			if err != nil {
				t.Fatal(err)
			}
			if rq.auth != "" {
				req.Header.Set("Authorization", rq.auth)
			}
			if rq.body != nil {
				req.Header.Set("Content-Type", "application/json")
			}
			resp, err := hc.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close() // the event stream's too: the headers are in
			if got := resp.Header.Values("X-Content-Type-Options"); !slices.Equal(got, []string{"nosniff"}) {
				t.Errorf("%s %s (%d): X-Content-Type-Options %q, want one nosniff", rq.method, rq.path, resp.StatusCode, got)
			}
		}
	}
	serveOwn := func(secret string) []request {
		hook := DefaultHookPath
		return []request{
			{method: "GET", path: "/healthz"}, {method: "GET", path: "/readyz"}, {method: "GET", path: "/metrics"},
			{method: "GET", path: "/status"}, {method: "POST", path: "/status"},
			{method: "POST", path: hook, auth: secret, body: []byte(`{"data":{"events":[]}}`)},
			{method: "POST", path: hook, auth: "wrong"}, {method: "GET", path: hook},
		}
	}

	t.Run("console on", func(t *testing.T) {
		f, r, b, cfg := consoleOverFakes(t, nil)
		user := "/users/" + f.users[0].ID
		reqs := append(serveOwn(cfg.HookSecret.Reveal()),
			request{method: "GET", path: "/"}, request{method: "GET", path: "/find?login=nobody@example.com"},
			request{method: "GET", path: user}, request{method: "GET", path: user + "/order"}, request{method: "GET", path: user + "/delete"},
			request{method: "POST", path: user + "/retry"}, request{method: "POST", path: user + "/send-pin"},
			request{method: "GET", path: "/batch"}, request{method: "GET", path: "/batch/0123456789abcdef"},
			request{method: "GET", path: "/batch/0123456789abcdef/results.csv"}, request{method: "POST", path: "/batch/0123456789abcdef/order"},
			request{method: "GET", path: "/audit"}, request{method: "GET", path: "/events"},
			request{method: "GET", path: "/assets/console.css"}, request{method: "GET", path: "/assets/live.js"}, request{method: "GET", path: "/assets/none"},
			request{method: "GET", path: "/no/such/page"}, request{method: "PUT", path: "/"},
			request{method: "GET", path: "/", anonymous: true}, request{method: "GET", path: "/auth/login", anonymous: true},
			request{method: "GET", path: console.CallbackPath + "?state=forged&code=forged", anonymous: true},
			request{method: "POST", path: "/auth/logout"})
		check(t, b, r.base, reqs)
	})
	t.Run("console off", func(t *testing.T) {
		f := startFakes(t, 1)
		cfg := f.config(fulfillment.NewMemoryStore())
		cfg.Console.Off = true
		r := start(t, cfg)
		check(t, newBrowser(t), r.base, append(serveOwn(cfg.HookSecret.Reveal()),
			request{method: "GET", path: "/"}, request{method: "GET", path: "/no/such/page"}))
	})
}
