package console

// The console in a real browser (issue 17): headless Chromium driven with
// chromedp against the console over a fulfillmenttest World, signed in
// through oktatest's sign-in page. One browser runs for TestBrowser; each
// scenario gets its own tab in its own browser context (its own cookies)
// and its own World, so the scenarios run in parallel.
//
// Chromium is Debian's /usr/bin/chromium (PREENROLL_CHROMIUM overrides).
// Without it the tests skip, except under CI=true, where they fail.
// Screenshots of every step go to a temporary directory that is kept, and
// logged, when a test fails; keep them anyway with
//
//	go test ./console -run TestBrowser -args -screenshots DIR
//
// or PREENROLL_SCREENSHOTS=DIR. docs/console-people.png and
// docs/console-user.png, shown in the README, are two of them.

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/preenroll/preenroll/fulfillment"
	"github.com/preenroll/preenroll/fulfillment/fulfillmenttest"
)

var screenshotsFlag = flag.String("screenshots", "", "keep the browser tests' screenshots in this `directory` (default $PREENROLL_SCREENSHOTS, else a temporary directory kept only when a test fails)")

// stepTimeout bounds every wait of a browser step: a page that never shows
// what a step waits for fails the test with what the page shows instead.
const stepTimeout = 20 * time.Second

// chromiumPath returns the Chromium to drive. Without one the test skips,
// or fails under CI=true: CI never skips the browser tests silently.
func chromiumPath(t *testing.T) string {
	t.Helper()
	path := os.Getenv("PREENROLL_CHROMIUM")
	if path == "" {
		path = "/usr/bin/chromium"
	}
	if _, err := exec.LookPath(path); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("browser tests: no Chromium at %s (%v); CI must run them: .ci/run installs Debian's chromium", path, err)
		}
		t.Skipf("browser tests skipped: no Chromium at %s (%v). Install Debian's chromium (apt-get install chromium) or set PREENROLL_CHROMIUM", path, err)
	}
	return path
}

// browser is one headless Chromium shared by the scenarios of a test.
type browser struct {
	ctx   context.Context // the browser's chromedp context
	shots string          // where screenshots go
	n     atomic.Int64    // screenshot sequence
}

// startBrowser starts Chromium with the flags this machine needs (no
// network: background networking, component updates, sync and QUIC off)
// and a fresh profile; it stops at the end of t.
func startBrowser(t *testing.T) *browser {
	t.Helper()
	path := chromiumPath(t)
	profile := t.TempDir()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.UserDataDir(profile),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("no-first-run", true),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	start, cancelStart := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancelStart()
	started := make(chan error, 1)
	go func() { started <- chromedp.Do(ctx) }() // the first Do starts the browser, bound to ctx
	select {
	case err := <-started:
		if err != nil {
			t.Fatalf("start Chromium %s: %v", path, err)
		}
	case <-start.Done():
		t.Fatalf("start Chromium %s: no answer in 30 s", path)
	}
	return &browser{ctx: ctx, shots: screenshotDir(t)}
}

// screenshotDir returns where screenshots go: -screenshots, else
// $PREENROLL_SCREENSHOTS, else a temporary directory removed at the end
// of t unless t failed.
func screenshotDir(t *testing.T) string {
	t.Helper()
	dir := *screenshotsFlag
	if dir == "" {
		dir = os.Getenv("PREENROLL_SCREENSHOTS")
	}
	if dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshots in %s", dir)
		return dir
	}
	dir, err := os.MkdirTemp("", "preenroll-console-screenshots-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("screenshots kept in %s", dir)
			return
		}
		os.RemoveAll(dir)
	})
	return dir
}

// tab is a browser tab in a browser context of its own, on one rig.
type tab struct {
	t   *testing.T
	b   *browser
	r   *rig
	ctx context.Context
}

// open opens a tab for r with a 1280×800 viewport.
func (b *browser) open(t *testing.T, r *rig) *tab {
	t.Helper()
	ctx, cancel := chromedp.NewContext(b.ctx, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	tb := &tab{t: t, b: b, r: r, ctx: ctx}
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1280, 800)); err != nil {
		t.Fatalf("open a tab: %v", err)
	}
	return tb
}

// do runs actions within stepTimeout; on failure the test stops with
// what the page shows.
func (tb *tab) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, stepTimeout)
	defer cancel()
	if err := replaced(func() error { return chromedp.Do(ctx, actions...) }); err != nil {
		tb.fail(what, err)
	}
}

// replaced runs f again (up to twice) when it failed because a live update
// replaced the element it had found before it could use it (the DevTools
// protocol's "Could not find node with given id" or "No node with given id
// found", depending on the call): the action did not happen, and the new
// element is there to act on.
func replaced(f func() error) error {
	err := f()
	for range 2 {
		if err == nil || !goneNode(err) {
			return err
		}
		err = f()
	}
	return err
}

// goneNode reports whether err is the browser saying that a node found
// earlier is no longer in the page.
func goneNode(err error) bool {
	s := err.Error()
	return strings.Contains(s, "Could not find node with given id") || strings.Contains(s, "No node with given id found")
}

// load runs actions that navigate (a click on a link or a submit button)
// and returns the status of the page they load.
func (tb *tab) load(what string, actions ...chromedp.Action[chromedp.Void]) int {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, stepTimeout)
	defer cancel()
	var resp *network.Response
	err := replaced(func() (err error) {
		resp, err = chromedp.RunResponse(ctx, actions...)
		return err
	})
	if err != nil {
		tb.fail(what, err)
	}
	return int(resp.Status)
}

// fail stops the test with err, the page's address and its main text,
// and a screenshot.
func (tb *tab) fail(what string, err error) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, 5*time.Second)
	defer cancel()
	loc, _ := chromedp.Run(ctx, chromedp.Location())
	text, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
	if len(text) > 2000 {
		text = text[:2000] + "…"
	}
	shot := tb.shot("failed")
	tb.t.Fatalf("%s: %v\nthe page at %s (screenshot %s) shows:\n%s", what, err, loc, shot, text)
}

// goTo opens the console's path and returns the page's status.
func (tb *tab) goTo(path string) int {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, stepTimeout)
	defer cancel()
	resp, err := chromedp.Run(ctx, chromedp.NavigateResponse(tb.r.srv.URL+path))
	if err != nil {
		tb.fail("open "+path, err)
	}
	return int(resp.Status)
}

// text returns the visible text of the element sel selects, once it is
// visible. The element is found and read in one evaluation in the page: a
// live update may replace it at any moment (the page fetches itself once
// its live updates connect), and a node found by one DevTools call may be
// gone, or detached and empty, by the next.
func (tb *tab) text(sel string) string {
	tb.t.Helper()
	got := pollFor[struct {
		Text string `json:"text"`
	}](tb, sel+" to be visible", fmt.Sprintf(`(() => {
  const e = document.querySelector(%s);
  if (!e || !(e.offsetWidth || e.offsetHeight || e.getClientRects().length)) { return null; }
  return {text: e.innerText};
})()`, jsString(sel)))
	return strings.TrimSpace(got.Text)
}

// waitText waits until the element sel selects holds want in its text:
// the page changes it without a navigation (a live update).
func (tb *tab) waitText(sel, want string) {
	tb.t.Helper()
	tb.poll(fmt.Sprintf("%s to read %q", sel, want),
		fmt.Sprintf(`(() => { const e = document.querySelector(%s); return !!e && e.textContent.includes(%s); })()`, jsString(sel), jsString(want)))
}

// waitTextIs waits until the element sel selects reads exactly want
// (trimmed): a single read could catch a live region between two updates.
func (tb *tab) waitTextIs(sel, want string) {
	tb.t.Helper()
	tb.poll(fmt.Sprintf("%s to read exactly %q", sel, want),
		fmt.Sprintf(`(() => { const e = document.querySelector(%s); return !!e && e.textContent.trim() === %s; })()`, jsString(sel), jsString(want)))
}

// poll waits until the JavaScript expression is truthy on the current
// page, or on the page that replaces it: a poll does not survive a
// navigation (the batch page's meta refresh, for browsers without
// JavaScript), so it starts again on the new page.
func (tb *tab) poll(what, expr string) {
	tb.t.Helper()
	pollFor[chromedp.Void](tb, what, expr)
}

// pollFor is poll returning the truthy value of expr.
func pollFor[T any](tb *tab, what, expr string) T {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, stepTimeout)
	defer cancel()
	for {
		v, err := chromedp.Run(ctx, chromedp.Poll[T](expr, chromedp.WithPollingInterval(20*time.Millisecond), chromedp.WithPollingTimeout(0)))
		if err == nil {
			return v
		}
		if ctx.Err() != nil || !navigated(err) {
			tb.fail("wait for "+what, err)
		}
	}
}

// navigated reports whether err is one of the browser's answers to a
// script whose page went away (chromedp's TestPoll/NotSurviveNavigation
// names two; the third comes when the page goes as the poll starts).
func navigated(err error) bool {
	s := err.Error()
	for _, gone := range []string{"Inspected target navigated or closed", "Execution context was destroyed", "Cannot find context with specified id"} {
		if strings.Contains(s, gone) {
			return true
		}
	}
	return false
}

// eval evaluates a JavaScript expression on the current page.
func eval[T any](tb *tab, expr string) T {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, stepTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		tb.fail("evaluate "+expr, err)
	}
	return v
}

// shot saves a screenshot of the viewport as NN-name.png and returns its
// path; name alone (without the number) when it starts with "console-",
// the README's screenshots.
func (tb *tab) shot(name string) string {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, stepTimeout)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		tb.t.Errorf("screenshot %s: %v", name, err)
		return ""
	}
	file := fmt.Sprintf("%03d-%s-%s.png", tb.b.n.Add(1), strings.ReplaceAll(tb.t.Name(), "/", "-"), name)
	if strings.HasPrefix(name, "console-") {
		file = name + ".png"
	}
	path := filepath.Join(tb.b.shots, file)
	if err := os.WriteFile(path, png, 0o644); err != nil {
		tb.t.Errorf("screenshot %s: %v", name, err)
	}
	return path
}

// jsString quotes s as a JavaScript string literal.
func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// signIn signs login in the way a person does: the console sends the
// browser to the org's sign-in page, which posts back to Okta, which
// redirects to the console's callback. It returns the status of the page
// the browser lands on.
func (tb *tab) signIn(login string) int {
	tb.t.Helper()
	if code := tb.goTo("/"); code != http.StatusOK {
		tb.fail("the sign-in page", fmt.Errorf("status %d", code))
	}
	tb.do("the sign-in page", chromedp.WaitVisible(chromedp.CSS("form#signin")))
	if !strings.HasPrefix(eval[string](tb, `location.href`), tb.r.w.Okta.URL()) {
		tb.fail("the sign-in page", errors.New("the console did not send the browser to Okta"))
	}
	tb.do("type the login", chromedp.SetValue(chromedp.CSS("input#login"), login))
	return tb.load("sign in as "+login, chromedp.Click(chromedp.CSS("button#submit")))
}

// signInAdmin signs the admin root in and checks that the People page
// says so.
func (tb *tab) signInAdmin() {
	tb.t.Helper()
	if code := tb.signIn("root@example.com"); code != http.StatusOK {
		tb.fail("sign in", fmt.Errorf("status %d", code))
	}
	if got := tb.text("#signed-in-as"); got != "root@example.com (admin)" {
		tb.fail("sign in", fmt.Errorf("signed in as %q, want root@example.com (admin)", got))
	}
}

// waitLive waits until the page's live updates are connected and marks the
// page, so that noReload can tell a live update from a reload.
func (tb *tab) waitLive() {
	tb.t.Helper()
	tb.poll("live updates to connect", `document.body.dataset.liveConnected === "true"`)
	eval[chromedp.Void](tb, `window.preenrollNoReload = true`)
}

// noReload fails the test if the page was reloaded since waitLive.
func (tb *tab) noReload(what string) {
	tb.t.Helper()
	if !eval[bool](tb, `window.preenrollNoReload === true && !!document.body.dataset.liveUpdated`) {
		tb.fail(what, errors.New("the page was reloaded (or not updated live)"))
	}
}

// inSight reports whether the element sel selects is within the viewport
// without scrolling.
func inSight(tb *tab, sel string) bool {
	tb.t.Helper()
	return eval[bool](tb, fmt.Sprintf(`(() => { const e = document.querySelector(%s); if (!e) { return false; } const b = e.getBoundingClientRect(); return b.height > 0 && b.top >= 0 && b.bottom <= window.innerHeight; })()`, jsString(sel)))
}

// submitAnyway does what a person who rebuilds a hidden action's button
// does: it adds a submit button to the page's form (or, with form "", to a
// new form posting fields to path) and clicks it. It returns the status of
// the page the browser lands on.
func (tb *tab) submitAnyway(what, form, path string, fields map[string]string) int {
	tb.t.Helper()
	f, _ := json.Marshal(fields)
	eval[bool](tb, fmt.Sprintf(`(() => {
  let f = %s ? document.querySelector(%[1]s) : null;
  if (!f) { f = document.createElement("form"); f.method = "post"; f.action = %s; document.querySelector("main").append(f); }
  for (const [k, v] of Object.entries(%s || {})) { const i = document.createElement("input"); i.type = "hidden"; i.name = k; i.value = v; f.append(i); }
  const b = document.createElement("button"); b.type = "submit"; b.id = "submit-anyway"; b.textContent = "Submit anyway"; f.append(b);
  return true; })()`, jsString(form), jsString(path), f))
	return tb.load(what, chromedp.Click(chromedp.CSS("#submit-anyway")))
}

// pinEmails returns the PIN emails to address in the fake org's outbox.
func pinEmails(r *rig, address string) int {
	n := 0
	for _, m := range r.w.Okta.Outbox() {
		if m.To == address && m.IsPIN() {
			n++
		}
	}
	return n
}

// upload writes content to a file named name and submits it on the Batch
// page; it returns the status of the page the browser lands on.
func (tb *tab) upload(name, content string) int {
	tb.t.Helper()
	file := filepath.Join(tb.t.TempDir(), name)
	if err := os.WriteFile(file, []byte(content), 0o644); err != nil {
		tb.t.Fatal(err)
	}
	tb.goTo("/batch")
	tb.do("choose the file", chromedp.SetUploadFiles(chromedp.CSS("#batch-file"), []string{file}))
	return tb.load("upload "+name, chromedp.Click(chromedp.CSS("#batch-submit")))
}

// longSessions keeps the admin signed in while the fake clock moves days
// on (shipping takes days; the session TTL is on the same clock).
func longSessions(c *Config) { c.SessionTTL = 365 * 24 * time.Hour }

func TestBrowser(t *testing.T) {
	b := startBrowser(t)
	scenarios := []struct {
		name  string
		short bool // part of -short
		run   func(*testing.T, *browser)
	}{
		{"OrderShipSendPINActivate", true, browserLifecycle},
		{"BadProfileProblems", false, browserBadProfile},
		{"BatchBadRowsNamed", true, browserBatch},
		{"RetryErrored", false, browserRetry},
		{"DeleteCancelsShipment", false, browserDelete},
		{"NonAdminRefused", true, browserNonAdmin},
		{"CrossSitePostRefused", true, browserCrossSite},
		{"ScriptInProfileInert", false, browserScriptInert},
		{"OversizedUploadRefused", false, browserOversized},
		{"ResyncFetchesThePage", false, browserResync},
		{"RemoteChangeIsLive", false, browserRemoteChange},
	}
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			if testing.Short() && !sc.short {
				t.Skip("-short runs a subset of the browser scenarios")
			}
			t.Parallel()
			sc.run(t, b)
		})
	}
}

// browserLifecycle: sign in through the org's page, find a user, order a
// key on the order page, watch it ship as the clock moves (live), send the
// PIN again, let the key sign in and see it Active.
func browserLifecycle(t *testing.T, b *browser) {
	ctx := t.Context()
	r := newRig(t, longSessions, fulfillmenttest.Employee("bo"), fulfillmenttest.Employee("dan"))
	tb := b.open(t, r)

	tb.goTo("/")
	tb.do("the sign-in page", chromedp.WaitVisible(chromedp.CSS("form#signin")))
	tb.shot("okta-sign-in")
	tb.do("type the login", chromedp.SetValue(chromedp.CSS("input#login"), "root@example.com"))
	if code := tb.load("sign in", chromedp.Click(chromedp.CSS("button#submit"))); code != http.StatusOK {
		tb.fail("sign in", fmt.Errorf("status %d", code))
	}
	if got := tb.text("#signed-in-as"); got != "root@example.com (admin)" {
		t.Fatalf("signed in as %q", got)
	}
	tb.text("#people-empty")

	// Find ada and order her a key.
	tb.do("find ada", chromedp.SetValue(chromedp.CSS("#find-login"), "ada@example.com"))
	tb.load("find ada", chromedp.Click(chromedp.CSS("#find-submit")))
	if got := tb.text("#profile-login"); got != "ada@example.com" {
		t.Fatalf("find led to the page of %q", got)
	}
	tb.text("#key-none")
	tb.load("open the order page", chromedp.Click(chromedp.CSS("#action-order")))
	tb.text("#delivery-ok")
	tb.do("fill in the order",
		chromedp.SetValue(chromedp.CSS("#productId"), "1"),
		chromedp.SetValue(chromedp.CSS("#inventoryProductId"), "106"),
		chromedp.SetValue(chromedp.CSS("#customizationId"), "RXJN83"))
	tb.shot("order")
	if code := tb.load("order", chromedp.Click(chromedp.CSS("#order-submit"))); code != http.StatusOK {
		tb.fail("order", fmt.Errorf("status %d", code))
	}
	if got := tb.text("#key-status"); got != "Fulfillment started" {
		tb.fail("order", fmt.Errorf("status %q, want Fulfillment started", got))
	}
	tb.text("#notice")
	rec := r.w.WantStatus(ctx, "ada@example.com", fulfillment.FulfillmentStarted)
	if len(rec.Items) != 1 || rec.Items[0].ProductID != "1" || rec.Items[0].InventoryProductID != "106" || rec.Items[0].CustomizationID != "RXJN83" {
		t.Errorf("ordered items %+v, want product 1, inventory 106, customization RXJN83", rec.Items)
	}

	// The clock moves on to shipping; the page follows without a reload.
	tb.waitLive()
	r.w.AdvanceUntil(ctx, "ada@example.com", fulfillment.Shipped)
	tb.waitText("#key-status", "Shipped")
	tb.noReload("the key shipped")
	tb.poll("the order's notice to go once the key moved on", `!document.getElementById("notice")`)
	if got := eval[string](tb, `location.search`); strings.Contains(got, "done=") {
		t.Errorf("the address still says done= (%q): a reload would show the stale notice", got)
	}
	rec = r.w.Status(ctx, "ada@example.com")
	tb.waitText("#key-serial", fmt.Sprint(rec.Serial))
	tb.waitText("#key-shipment", rec.ShipmentID)
	tb.do("the Send PIN button", chromedp.WaitVisible(chromedp.CSS("#action-send-pin")))
	tb.goTo("/users/" + rec.UserID) // the README's picture, without the order's notice
	tb.text("#key-serial")
	for _, sel := range []string{"#key-status", "#action-send-pin", "#action-delete"} {
		if !inSight(tb, sel) {
			tb.fail("the actions in sight", fmt.Errorf("%s is out of the 1280×800 viewport", sel))
		}
	}
	tb.shot("console-user")

	// Send PIN: one more PIN email in ada's mailbox.
	before := pinEmails(r, "ada@example.com")
	tb.load("send PIN", chromedp.Click(chromedp.CSS("#action-send-pin")))
	if got := tb.text("#notice"); !strings.Contains(got, "email the PIN") {
		tb.fail("send PIN", fmt.Errorf("notice %q", got))
	}
	if after := pinEmails(r, "ada@example.com"); after != before+1 {
		t.Errorf("PIN emails to ada: %d before Send PIN, %d after, want one more", before, after)
	}

	// Ada's key signs in on her first day: Active.
	tb.waitLive()
	r.w.SignIn(ctx, "ada@example.com", r.w.Parcel(ctx, "ada@example.com"), r.w.PIN("ada@example.com"))
	r.w.Sync(ctx)
	r.w.WantStatus(ctx, "ada@example.com", fulfillment.Active) // stored first: then the page must follow
	tb.waitText("#key-status", "Active")
	tb.noReload("the key became active")
	tb.poll("the Send PIN notice to go once the key is active", `!document.getElementById("notice")`)
	if tb.text("#key-delivery") == "" {
		t.Error("no delivery fact on an active key")
	}

	// Two more people for the People page: bo's key is under way, dan's
	// errored (his zip code was broken after the order).
	dan := r.erroredKey("dan@example.com") // first: its Sync would move bo's key on
	bo := r.order("bo@example.com")
	tb.goTo("/")
	for id, want := range map[string]string{rec.UserID: "Active", bo: "Fulfillment started", dan: "Fulfillment errored"} {
		tb.waitTextIs("#person-"+id+" .badge", want)
	}
	tb.shot("console-people")
}

// browserBadProfile: the order page lists every problem of a bad profile
// by its Okta attribute, and the order is refused.
func browserBadProfile(t *testing.T, b *browser) {
	bad := fulfillmenttest.Employee("bob")
	bad.Profile.ZipCode, bad.Profile.CountryCode, bad.Profile.PrimaryPhone = "", "XX", "12"
	r := newRig(t, nil, bad)
	tb := b.open(t, r)
	tb.signInAdmin()
	id := r.w.User("bob@example.com").ID
	tb.goTo("/users/" + id)
	tb.text("#delivery-problems")
	tb.load("open the order page", chromedp.Click(chromedp.CSS("#action-order")))
	problems := tb.text("#delivery-problems")
	for _, attr := range []string{"zipCode", "countryCode", "primaryPhone"} {
		if !strings.Contains(problems, "Okta attribute "+attr) {
			t.Errorf("the order page's problems do not name %s:\n%s", attr, problems)
		}
	}
	tb.text("#order-blocked")
	tb.shot("bad-profile")
	tb.do("fill in the order", chromedp.SetValue(chromedp.CSS("#productId"), "1"),
		chromedp.SetValue(chromedp.CSS("#inventoryProductId"), "106"), chromedp.SetValue(chromedp.CSS("#customizationId"), "RXJN83"))
	if code := tb.load("order anyway", chromedp.Click(chromedp.CSS("#order-submit"))); code != http.StatusUnprocessableEntity {
		tb.fail("order a bad profile", fmt.Errorf("status %d, want 422", code))
	}
	if got := tb.text("main"); !strings.Contains(got, "zipCode") {
		tb.fail("order a bad profile", fmt.Errorf("the refusal does not name zipCode"))
	}
	if recs, _ := r.w.Service.List(t.Context(), fulfillment.Query{}); len(recs) != 0 {
		t.Errorf("a bad profile was ordered: %d records", len(recs))
	}
}

// browserBatch: a CSV with bad rows lists each bad row by line before
// anything is ordered; ordering the valid rows finishes live.
func browserBatch(t *testing.T, b *browser) {
	noAddress := fulfillmenttest.Employee("nomad")
	noAddress.Profile.StreetAddress = ""
	r := newRig(t, nil, fulfillmenttest.Employee("bo"), noAddress)
	tb := b.open(t, r)
	tb.signInAdmin()
	file := "login\nada@example.com\nghost@example.com\n\nbo@example.com\nada@example.com\nnomad@example.com\nnot a login\n"
	if code := tb.upload("people.csv", file); code != http.StatusOK {
		tb.fail("upload", fmt.Errorf("status %d", code))
	}
	tb.waitText("#batch-state", "checked")
	want := map[int]string{
		3: "Okta has no user with this login",
		6: "duplicate login (first on line 2)",
		7: "streetAddress",
		8: "not a login",
	}
	for line, problem := range want {
		if got := tb.text(fmt.Sprintf("#bad-line-%d", line)); !strings.Contains(got, problem) {
			t.Errorf("bad line %d reads %q, want it to name %q", line, got, problem)
		}
	}
	if n := eval[int](tb, `document.querySelectorAll("#bad-rows tbody tr").length`); n != len(want) {
		t.Errorf("%d bad rows listed, want %d", n, len(want))
	}
	if recs, _ := r.w.Service.List(t.Context(), fulfillment.Query{}); len(recs) != 0 {
		t.Errorf("%d keys ordered before the batch was", len(recs))
	}
	tb.shot("batch-checked")
	tb.load("order the valid rows", chromedp.Click(chromedp.CSS("#batch-order")))
	tb.waitText("#batch-state", "done")
	if got := tb.text("#batch-done"); !strings.Contains(got, "Ordered 2") {
		t.Errorf("batch done: %q", got)
	}
	for _, login := range []string{"ada@example.com", "bo@example.com"} {
		r.w.WantStatus(t.Context(), login, fulfillment.FulfillmentStarted)
	}
	tb.shot("batch-done")

	// A batch in progress reloads itself only without JavaScript: with it,
	// live updates carry the progress and the page stays put.
	held := &batchJob{ID: "held", File: "held.csv", Format: "Okta logins", Owner: "root@example.com", Created: r.w.Now(), state: batchOrdering, total: 2}
	if err := r.c.batches.add(t.Context(), held); err != nil {
		t.Fatal(err)
	}
	tb.goTo("/batch/held")
	tb.text("#batch-progress")
	tb.waitLive()
	if n := eval[int](tb, `document.querySelectorAll('meta[http-equiv="refresh"]').length`); n != 0 {
		t.Errorf("a batch in progress has %d live meta refresh with JavaScript on", n)
	}
	held.mu.Lock()
	held.done = 1
	held.mu.Unlock()
	r.c.publishBatch(held)
	tb.waitText("#batch-progress", "1 of 2")
	held.mu.Lock()
	held.state, held.done = batchDone, 2
	held.mu.Unlock()
	r.c.publishBatch(held)
	tb.waitText("#batch-state", "done")
	tb.noReload("the batch's progress")
}

// browserRetry: an errored key shows the failed step and the reason;
// Retry is refused while the profile is still bad, then resumes.
func browserRetry(t *testing.T, b *browser) {
	ctx := t.Context()
	r := newRig(t, nil)
	id := r.erroredKey("ada@example.com")
	tb := b.open(t, r)
	tb.signInAdmin()
	tb.goTo("/users/" + id)
	if got := tb.text("#key-status"); got != "Fulfillment errored" {
		t.Fatalf("status %q", got)
	}
	tb.text("#key-failed-step")
	if got := tb.text("#key-reason"); !strings.Contains(got, "zipCode") {
		t.Errorf("the reason %q does not name zipCode", got)
	}
	tb.shot("errored")
	if code := tb.load("retry with the profile still bad", chromedp.Click(chromedp.CSS("#action-retry"))); code != http.StatusUnprocessableEntity {
		tb.fail("retry with the profile still bad", fmt.Errorf("status %d, want 422", code))
	}
	if got := tb.text("#problem"); !strings.Contains(got, "zipCode") {
		t.Errorf("the refused retry says %q", got)
	}
	r.setZip("ada@example.com", "02110")
	tb.goTo("/users/" + id)
	tb.load("retry", chromedp.Click(chromedp.CSS("#action-retry")))
	if got := tb.text("#key-status"); got != "Fulfillment started" {
		tb.fail("retry", fmt.Errorf("status %q, want Fulfillment started", got))
	}
	r.w.WantStatus(ctx, "ada@example.com", fulfillment.FulfillmentStarted)
}

// browserDelete: the delete page names the shipment it cancels; after
// the confirmation the key is Deleted and Yubico has no shipment.
func browserDelete(t *testing.T, b *browser) {
	ctx := t.Context()
	r := newRig(t, nil)
	id := r.order("ada@example.com")
	r.w.Sync(ctx) // enrolls and creates the shipment
	rec := r.w.Status(ctx, "ada@example.com")
	if rec.ShipmentID == "" {
		t.Fatal("no shipment after Sync")
	}
	if _, ok := r.w.Yubico.Shipment(rec.ShipmentID); !ok {
		t.Fatalf("Yubico has no shipment %s", rec.ShipmentID)
	}
	tb := b.open(t, r)
	tb.signInAdmin()
	tb.goTo("/users/" + id)
	tb.load("delete", chromedp.Click(chromedp.CSS("#action-delete")))
	want := fmt.Sprintf("cancel Yubico shipment %s (state %d, %s): no key is shipped", rec.ShipmentID, int(rec.ShipmentState), rec.ShipmentState)
	if got := tb.text("#delete-shipment"); !strings.Contains(got, want) {
		t.Errorf("the delete page says %q, want %q", got, want)
	}
	if n := eval[int](tb, `document.querySelectorAll(".delete-enrollment").length`); n != len(rec.Enrollments) {
		t.Errorf("the delete page names %d enrollments, the record has %d", n, len(rec.Enrollments))
	}
	if r.w.Status(ctx, "ada@example.com").Status != fulfillment.FulfillmentStarted {
		t.Error("opening the delete page changed the key")
	}
	tb.shot("delete-confirm")
	tb.load("confirm", chromedp.Click(chromedp.CSS("#delete-confirm")))
	if got := tb.text("#key-status"); got != "Deleted" {
		tb.fail("delete", fmt.Errorf("status %q, want Deleted", got))
	}
	r.w.WantStatus(ctx, "ada@example.com", fulfillment.Deleted)
	if sh, ok := r.w.Yubico.Shipment(rec.ShipmentID); ok {
		t.Errorf("shipment %s is still at Yubico (state %v)", rec.ShipmentID, sh.State)
	}
}

// browserNonAdmin: a read-only member sees the pages and is refused every
// action; a member of neither group is refused at sign-in.
func browserNonAdmin(t *testing.T, b *browser) {
	ctx := t.Context()
	errored := fulfillmenttest.Employee("eve")
	r := newRig(t, longSessions, errored, fulfillmenttest.Employee("carl"))
	ada := r.order("ada@example.com")
	r.w.AdvanceUntil(ctx, "ada@example.com", fulfillment.Shipped)
	eve := r.erroredKey("eve@example.com")
	carl := r.w.User("carl@example.com").ID
	pins := pinEmails(r, "ada@example.com")

	tb := b.open(t, r)
	if code := tb.signIn("reader@example.com"); code != http.StatusOK {
		tb.fail("sign in", fmt.Errorf("status %d", code))
	}
	if got := tb.text("#signed-in-as"); got != "reader@example.com (read-only)" {
		t.Fatalf("signed in as %q", got)
	}
	// Every action is hidden, with a note that says why; the server refuses
	// each one anyway when the button is rebuilt.
	hidden := func(where string, actions ...string) {
		t.Helper()
		if got := tb.text("#read-only-note"); got != "Read-only access: actions are hidden." {
			tb.fail(where, fmt.Errorf("the read-only note reads %q", got))
		}
		for _, sel := range actions {
			if n := eval[int](tb, fmt.Sprintf(`document.querySelectorAll(%s).length`, jsString(sel))); n != 0 {
				tb.fail(where, fmt.Errorf("a read-only member sees %s", sel))
			}
		}
	}
	refused := func(what, form, path string, fields map[string]string) {
		t.Helper()
		if code := tb.submitAnyway(what, form, path, fields); code != http.StatusForbidden {
			tb.fail(what, fmt.Errorf("status %d, want 403", code))
		}
		if got := tb.text("h1"); got != "Not allowed" {
			tb.fail(what, fmt.Errorf("heading %q, want Not allowed", got))
		}
	}
	tb.goTo("/users/" + ada)
	tb.text("#key-status")
	hidden("ada's page", "#action-send-pin", "#action-delete", "#action-order", "#action-retry")
	tb.shot("read-only")
	refused("send PIN", "", "/users/"+ada+"/send-pin", nil)
	tb.goTo("/users/" + ada + "/delete")
	hidden("the delete page", "#delete-confirm", "#delete-form")
	refused("delete", "", "/users/"+ada+"/delete", map[string]string{"confirm": "yes"})
	tb.goTo("/users/" + eve)
	tb.text("#key-failed-step")
	hidden("eve's page", "#action-retry", "#action-delete")
	refused("retry", "", "/users/"+eve+"/retry", nil)
	tb.goTo("/users/" + carl + "/order")
	hidden("the order page", "#order-submit")
	tb.do("fill in the order", chromedp.SetValue(chromedp.CSS("#productId"), "1"),
		chromedp.SetValue(chromedp.CSS("#inventoryProductId"), "106"), chromedp.SetValue(chromedp.CSS("#customizationId"), "RXJN83"))
	refused("order", "#order-form", "", nil)
	file := filepath.Join(t.TempDir(), "one.csv")
	if err := os.WriteFile(file, []byte("login\ncarl@example.com\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tb.goTo("/batch")
	hidden("the batch page", "#batch-submit")
	tb.do("choose the file", chromedp.SetUploadFiles(chromedp.CSS("#batch-file"), []string{file}))
	refused("batch upload", "#batch-form", "", nil)

	for login, want := range map[string]fulfillment.Status{"ada@example.com": fulfillment.Shipped, eve: fulfillment.FulfillmentErrored} {
		r.w.WantStatus(ctx, login, want)
	}
	if _, err := r.w.Service.Status(ctx, carl); !errors.Is(err, fulfillment.ErrRecordNotFound) {
		t.Errorf("carl's status after a refused order: %v, want no record", err)
	}
	if got := pinEmails(r, "ada@example.com"); got != pins {
		t.Errorf("a refused Send PIN sent email: %d PIN emails, had %d", got, pins)
	}
	for _, action := range []string{"send PIN", "delete", "retry", "order", "batch upload"} {
		if !r.auditHas("reader@example.com", action, outcomeRefused) {
			t.Errorf("the refused %s is not in the audit log", action)
		}
	}

	// Someone in neither group does not get in.
	tb2 := b.open(t, r)
	if code := tb2.signIn("outsider@example.com"); code != http.StatusForbidden {
		tb2.fail("sign in as an outsider", fmt.Errorf("status %d, want 403", code))
	}
	if got := tb2.text("h1"); got != "Not allowed" {
		t.Errorf("an outsider's sign-in shows %q", got)
	}
	tb2.goTo("/")
	tb2.do("the outsider is sent to sign in again", chromedp.WaitVisible(chromedp.CSS("form#signin")))
}

// browserCrossSite: a page on another origin that posts a form to the
// console (with the admin's cookie: the other origin is the same site,
// 127.0.0.1, so SameSite=Lax does not hold the cookie back) is refused.
func browserCrossSite(t *testing.T, b *browser) {
	r := newRig(t, nil)
	id := r.order("ada@example.com")
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!doctype html><title>You won a prize</title>
<form id="forged" method="post" action="%s/users/%s/delete"><input type="hidden" name="confirm" value="yes"><button id="claim" type="submit">Claim your prize</button></form>`, r.srv.URL, id)
	}))
	t.Cleanup(evil.Close)
	tb := b.open(t, r)
	tb.signInAdmin()
	ctx, cancel := context.WithTimeout(tb.ctx, stepTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Navigate(evil.URL), chromedp.WaitVisible(chromedp.CSS("#claim"))); err != nil {
		tb.fail("open the other site", err)
	}
	if code := tb.load("the forged POST", chromedp.Click(chromedp.CSS("#claim"))); code != http.StatusForbidden {
		tb.fail("the forged POST", fmt.Errorf("status %d, want 403", code))
	}
	if got := tb.text("h1"); got != "Cross-origin request refused" {
		t.Errorf("the forged POST shows %q", got)
	}
	r.w.WantStatus(t.Context(), "ada@example.com", fulfillment.FulfillmentStarted)
	if !r.auditHas("", "cross-origin request", outcomeRefused) {
		t.Error("the forged POST is not in the audit log")
	}
	// The same form from the console's own page works: the refusal was the
	// origin, not the session.
	tb.goTo("/users/" + id + "/delete")
	tb.load("delete from the console", chromedp.Click(chromedp.CSS("#delete-confirm")))
	if got := tb.text("#key-status"); got != "Deleted" {
		t.Errorf("after a same-origin delete the key is %q", got)
	}
}

// browserScriptInert: markup in profile fields is shown as text and never
// runs.
func browserScriptInert(t *testing.T, b *browser) {
	evil := fulfillmenttest.Employee("eve")
	evil.Profile.FirstName = `<script>window.pwned=1</script>`
	evil.Profile.City = `"><img src=x onerror="window.pwned=2">`
	r := newRig(t, nil, evil)
	tb := b.open(t, r)
	tb.signInAdmin()
	id := r.w.User("eve@example.com").ID
	for _, path := range []string{"/users/" + id, "/users/" + id + "/order"} {
		tb.goTo(path)
		tb.text("#delivery-table")
		if path == "/users/"+id {
			if got := tb.text("#profile-name"); got != evil.Profile.FirstName+" Tester" {
				t.Errorf("%s: the name reads %q, want the markup as text", path, got)
			}
		}
		if got := tb.text("#delivery-table"); !strings.Contains(got, evil.Profile.City) {
			t.Errorf("%s: the delivery table lacks the city as text:\n%s", path, got)
		}
		if n := eval[int](tb, `document.querySelectorAll("main script, main img").length`); n != 0 {
			t.Errorf("%s: %d script or img elements in the page's content", path, n)
		}
		if eval[bool](tb, `window.pwned !== undefined`) {
			t.Errorf("%s: the profile's script ran", path)
		}
	}
	tb.shot("inert-markup")
}

// browserOversized: a file over Config.MaxUpload is refused with a clear
// message on the Batch page.
func browserOversized(t *testing.T, b *browser) {
	r := newRig(t, func(c *Config) { c.MaxUpload = 1 << 10 })
	tb := b.open(t, r)
	tb.signInAdmin()
	if code := tb.upload("big.csv", strings.Repeat("ada@example.com\n", 400)); code != http.StatusRequestEntityTooLarge {
		tb.fail("upload a big file", fmt.Errorf("status %d, want 413", code))
	}
	if got := tb.text("#batch-error"); !strings.Contains(got, "larger than 1 KiB") {
		t.Errorf("the refusal reads %q", got)
	}
	tb.do("the form is there to try again", chromedp.WaitVisible(chromedp.CSS("#batch-file")))
	if !r.auditHas("root@example.com", "batch upload", outcomeRefused) {
		t.Error("the refused upload is not in the audit log")
	}
	tb.shot("oversized")
}

// storeWithoutFeed is a MemoryStore that is no fulfillment.ChangeFeed:
// the Service does not hear of the changes of another instance.
type storeWithoutFeed struct {
	fulfillment.Store
	fulfillment.DocumentStore
	fulfillment.EventChecker
}

func newStoreWithoutFeed() storeWithoutFeed {
	m := fulfillment.NewMemoryStore()
	return storeWithoutFeed{m, m, m}
}

// browserResync: a change the console's Service never published (another
// instance of the Service, on the same store, stored it, and the store
// has no change feed) reaches the page when the stream tells the browser
// to resync, as it does a browser whose queue of events overflowed: the
// page fetches itself, without a reload.
func browserResync(t *testing.T, b *browser) {
	r := newRigWith(t, []fulfillmenttest.Option{fulfillmenttest.WithStore(newStoreWithoutFeed())}, nil, fulfillmenttest.Employee("eve"))
	eve := r.w.User("eve@example.com").ID
	tb := b.open(t, r)
	tb.signInAdmin()
	tb.text("#people-empty")
	tb.waitLive()
	tb.poll("the page's fetch on connecting", `!!document.body.dataset.liveUpdated`)

	other, err := fulfillment.New(r.w.Config)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.Order(t.Context(), eve); err != nil {
		t.Fatal(err)
	}
	if eval[bool](tb, fmt.Sprintf(`!!document.getElementById(%s)`, jsString("person-"+eve))) {
		tb.fail("the order of another instance", errors.New("the page shows it before any resync"))
	}
	if n := r.c.live.resyncAll(); n != 1 {
		t.Fatalf("told %d streams to resync, want the page's 1", n)
	}
	tb.waitTextIs("#person-"+eve+" .badge", "Fulfillment started")
	tb.noReload("the resync")
}

// browserRemoteChange: a change another instance of the Service stores
// on a store with a change feed (here a MemoryStore both share) reaches
// the page as the console's own do, without a resync or a reload.
func browserRemoteChange(t *testing.T, b *browser) {
	// No event hook: the order's event would make the console's own
	// Service store a change too.
	r := newRigWith(t, []fulfillmenttest.Option{fulfillmenttest.WithoutEventHook()}, nil, fulfillmenttest.Employee("eve"))
	eve := r.w.User("eve@example.com").ID
	tb := b.open(t, r)
	tb.signInAdmin()
	tb.text("#people-empty")
	tb.waitLive()
	tb.poll("the page's fetch on connecting", `!!document.body.dataset.liveUpdated`)

	cfg := r.w.Config
	cfg.Rand = nil // a source of its own
	other, err := fulfillment.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.Order(t.Context(), eve); err != nil {
		t.Fatal(err)
	}
	tb.waitTextIs("#person-"+eve+" .badge", "Fulfillment started")
	tb.noReload("the other instance's order")
	if r.c.live.resyncDue() {
		t.Error("a resync is due: the change did not come as a record event")
	}
}
