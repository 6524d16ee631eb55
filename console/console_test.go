package console

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/preenroll/preenroll/fulfillment"
	"github.com/preenroll/preenroll/fulfillment/fulfillmenttest"
	"github.com/preenroll/preenroll/okta"
	"github.com/preenroll/preenroll/okta/oktatest"
)

// rig is a console over a fulfillmenttest World, signed in through the
// fake org's OIDC app.
type rig struct {
	t     testing.TB
	w     *fulfillmenttest.World
	c     *console
	srv   *httptest.Server
	audit *MemoryAudit
	cfg   Config       // the console's
	h     http.Handler // what srv serves: c's routes, or another instance's
}

const (
	adminGroup  = "preenroll-admins"
	readerGroup = "preenroll-readers"
	testSecret  = okta.Secret("console-test-client-secret-0123456789")
)

func newRig(t testing.TB, change func(*Config), users ...fulfillmenttest.User) *rig {
	t.Helper()
	return newRigWith(t, nil, change, users...)
}

// newRigWith is newRig with options of the World (its store, say).
func newRigWith(t testing.TB, opts []fulfillmenttest.Option, change func(*Config), users ...fulfillmenttest.User) *rig {
	t.Helper()
	base := []fulfillmenttest.User{fulfillmenttest.Employee("root"), fulfillmenttest.Employee("reader"), fulfillmenttest.Employee("outsider"), fulfillmenttest.Employee("ada")}
	w := fulfillmenttest.New(t, append([]fulfillmenttest.Option{fulfillmenttest.WithUsers(append(base, users...)...)}, opts...)...)
	t.Cleanup(w.Close)
	r := &rig{t: t, w: w, audit: NewMemoryAudit(1000)}
	r.srv = httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, req *http.Request) { r.h.ServeHTTP(rw, req) }))
	t.Cleanup(r.srv.Close)
	admins, readers := w.Okta.AddGroup(adminGroup), w.Okta.AddGroup(readerGroup)
	for g, login := range map[string]string{admins: "root@example.com", readers: "reader@example.com"} {
		if err := w.Okta.AddToGroup(g, w.User(login).ID); err != nil {
			t.Fatal(err)
		}
	}
	redirect := r.srv.URL + CallbackPath
	if err := w.Okta.AddOIDCApp(oktatest.OIDCApp{ClientID: "console", ClientSecret: testSecret, RedirectURIs: []string{redirect}, PKCERequired: true}); err != nil {
		t.Fatal(err)
	}
	cfg := Config{
		Okta: w.OktaClient, Yubico: w.YubicoClient,
		OIDC: OIDC{Issuer: w.Okta.URL(), ClientID: "console", ClientSecret: testSecret, RedirectURL: redirect,
			AdminGroup: adminGroup, ReadOnlyGroup: readerGroup},
		SessionKey: okta.Secret(strings.Repeat("k", 32)), SessionTTL: time.Hour, Clock: w.Now, Audit: r.audit,
	}
	if change != nil {
		change(&cfg)
	}
	c, err := newConsole(w.Service, cfg)
	if err != nil {
		t.Fatal(err)
	}
	r.c, r.h, r.cfg = c, c.routes(), cfg
	feedListens(t, w.Service, w.Config.Store)
	return r
}

// feedListens waits until the change feed of store, svc's, listens, if
// it has one, and the console's hub has had the Resync that says so (at
// startup no stream is open to get it): a stream opened after it gets no
// Resync from the start, and another instance's change after it reaches
// the console.
func feedListens(t testing.TB, svc *fulfillment.Service, store fulfillment.Store) {
	t.Helper()
	if _, ok := store.(fulfillment.ChangeFeed); !ok {
		return
	}
	heard := make(chan struct{}, 1)
	cancel := svc.Subscribe(t.Context(), func(c fulfillment.RecordChange) {
		if c.Resync {
			select {
			case heard <- struct{}{}:
			default:
			}
		}
	})
	// Subscribers are called in the order they subscribed, one call at a
	// time: the console's hub, subscribed first, has had the Resync when
	// this one hears it.
	defer cancel()
	select {
	case <-heard:
	case <-time.After(30 * time.Second): // bounds a feed that never listens
		t.Fatal("the store's change feed does not listen")
	}
}

// signIn signs login in through the fake org and returns a browser-like
// client holding the session cookie (it does not follow redirects).
func (r *rig) signIn(login string) *http.Client {
	r.t.Helper()
	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp := r.do(hc, "GET", "/auth/login?next=/", nil, "")
	if resp.StatusCode != http.StatusSeeOther {
		r.t.Fatalf("GET /auth/login = %d", resp.StatusCode)
	}
	back, err := r.w.Okta.SignIn(r.t.Context(), resp.Header.Get("Location"), login)
	if err != nil {
		r.t.Fatalf("sign in %s: %v", login, err)
	}
	resp, err = hc.Get(back.String())
	if err != nil {
		r.t.Fatal(err)
	}
	resp.Body.Close()
	if login == "outsider@example.com" {
		if resp.StatusCode != http.StatusForbidden {
			r.t.Fatalf("callback for an outsider = %d, want 403", resp.StatusCode)
		}
		return hc
	}
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/" {
		r.t.Fatalf("callback = %d to %q, want 303 to /", resp.StatusCode, resp.Header.Get("Location"))
	}
	return hc
}

// do sends a request with the console's origin headers (same-origin) and
// returns the response with its body read into a buffer.
func (r *rig) do(hc *http.Client, method, path string, body io.Reader, contentType string) *http.Response {
	r.t.Helper()
	req, err := http.NewRequestWithContext(r.t.Context(), method, r.srv.URL+path, body)
	if err != nil {
		r.t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if method == http.MethodPost {
		req.Header.Set("Origin", r.srv.URL)
		req.Header.Set("Sec-Fetch-Site", "same-origin")
	}
	resp, err := hc.Do(req)
	if err != nil {
		r.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	resp.Body = io.NopCloser(bytes.NewReader(b))
	return resp
}

func (r *rig) get(hc *http.Client, path string) (int, string) {
	r.t.Helper()
	resp := r.do(hc, "GET", path, nil, "")
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func (r *rig) post(hc *http.Client, path string, form url.Values) (int, string) {
	r.t.Helper()
	resp := r.do(hc, "POST", path, strings.NewReader(form.Encode()), "application/x-www-form-urlencoded")
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// order orders a key for login through the Service and returns the user ID.
func (r *rig) order(login string) string {
	r.t.Helper()
	id := r.w.User(login).ID
	if _, err := r.w.Service.Order(r.t.Context(), id); err != nil {
		r.t.Fatal(err)
	}
	return id
}

// setZip sets the user's zip code at Okta: a bad one errors the key at
// its next step, a good one lets Retry resume it.
func (r *rig) setZip(login, zip string) {
	r.t.Helper()
	u := r.w.User(login)
	u.Profile.ZipCode = zip
	if _, err := r.w.OktaClient.UpdateProfile(r.t.Context(), u.ID, u.Profile); err != nil {
		r.t.Fatal(err)
	}
}

// erroredKey orders a key for login, breaks the user's zip code and runs
// Sync: the key is then errored at enrolling. It returns the user ID.
func (r *rig) erroredKey(login string) string {
	r.t.Helper()
	id := r.order(login)
	r.setZip(login, "not a zip")
	r.w.Sync(r.t.Context())
	r.w.WantStatus(r.t.Context(), login, fulfillment.FulfillmentErrored)
	return id
}

func (r *rig) auditHas(who, action, outcome string) bool {
	es, _ := r.audit.Recent(context.Background(), 1000)
	for _, e := range es {
		if e.Who == who && e.Action == action && e.Outcome == outcome {
			return true
		}
	}
	return false
}

func wantContains(t *testing.T, what, body string, subs ...string) {
	t.Helper()
	for _, s := range subs {
		if !strings.Contains(body, s) {
			t.Errorf("%s lacks %q", what, s)
		}
	}
}

func TestPagesRenderForAdminAndReadOnly(t *testing.T) {
	r := newRig(t, nil)
	id := r.order("ada@example.com")
	for _, login := range []string{"root@example.com", "reader@example.com"} {
		hc := r.signIn(login)
		pages := map[string][]string{
			"/":                            {"People", "Fulfillment started", "ada@example.com", `id="find-login"`},
			"/?status=FULFILLMENT_STARTED": {"ada@example.com"},
			"/users/" + id:                 {"Security Key", "Fulfillment started", "Timeline", "initiated", "Security key delivery"},
			"/users/" + id + "/order":      {"A key is already in fulfillment"},
			"/users/" + id + "/delete":     {"cannot be undone", "create no shipment"},
			"/batch":                       {`id="batch-file"`, "Workday export"},
			"/audit":                       {"sign in", login},
			"/find?login=ada@example.com":  nil,
		}
		// An admin gets the actions; a read-only member gets a note instead
		// (the server refuses the actions anyway: TestReadOnlyMayNotAct).
		actions := map[string][]string{
			"/users/" + id:             {`id="order-refused"`, `id="action-delete"`},
			"/users/" + id + "/delete": {`id="delete-confirm"`},
			"/batch":                   {`id="batch-submit"`},
		}
		for path, ids := range actions {
			if login == "root@example.com" {
				pages[path] = append(pages[path], ids...)
			} else {
				pages[path] = append(pages[path], readOnlyNote)
			}
		}
		for path, want := range pages {
			resp := r.do(hc, "GET", path, nil, "")
			body, _ := io.ReadAll(resp.Body)
			if path == "/find?login=ada@example.com" {
				if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/users/"+id {
					t.Errorf("%s: find = %d to %q, want 303 to ada's page", login, resp.StatusCode, resp.Header.Get("Location"))
				}
				continue
			}
			if resp.StatusCode != http.StatusOK {
				t.Errorf("%s: GET %s = %d", login, path, resp.StatusCode)
				continue
			}
			wantContains(t, login+" "+path, string(body), want...)
			if login == "reader@example.com" {
				for _, action := range actions[path] {
					if strings.Contains(string(body), action) {
						t.Errorf("read-only GET %s shows %s", path, action)
					}
				}
			} else if strings.Contains(string(body), readOnlyNote) {
				t.Errorf("admin GET %s says read-only", path)
			}
			if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") || !strings.Contains(csp, "frame-ancestors 'none'") {
				t.Errorf("GET %s: CSP %q", path, csp)
			}
			if resp.Header.Get("X-Content-Type-Options") != "nosniff" || resp.Header.Get("Referrer-Policy") == "" {
				t.Errorf("GET %s: headers %v", path, resp.Header)
			}
			if strings.Contains(string(body), "<script>") || strings.Contains(string(body), " style=") {
				t.Errorf("GET %s: inline script or style", path)
			}
		}
	}
	// A person in neither group is refused at sign-in.
	r.signIn("outsider@example.com")
	if !r.auditHas("outsider@example.com", "sign in", outcomeRefused) {
		t.Error("no audit entry for the refused sign-in")
	}
}

// readOnlyNote is what a read-only member sees instead of the actions.
const readOnlyNote = "Read-only access: actions are hidden"

// TestUserPageActionsBeforeTimeline: the actions come right after the key's
// facts, before the timeline (which grows), so that they are in sight.
func TestUserPageActionsBeforeTimeline(t *testing.T) {
	r := newRig(t, nil)
	id := r.order("ada@example.com")
	_, page := r.get(r.signIn("root@example.com"), "/users/"+id)
	status, actions, del, timeline := strings.Index(page, `id="key-status"`), strings.Index(page, `id="actions-h"`),
		strings.Index(page, `id="action-delete"`), strings.Index(page, `id="timeline-h"`)
	if status < 0 || actions < 0 || del < 0 || timeline < 0 || !(status < actions && actions < del && del < timeline) {
		t.Errorf("user page order: key status at %d, actions at %d, Delete at %d, timeline at %d; want them in this order", status, actions, del, timeline)
	}
}

// TestNoticeNamesItsStatus: the notice after an action names the key
// status it is about, which live.js compares with the live status.
func TestNoticeNamesItsStatus(t *testing.T) {
	r := newRig(t, nil)
	id := r.order("ada@example.com")
	_, page := r.get(r.signIn("root@example.com"), "/users/"+id+"?done=order")
	wantContains(t, "the page after an order", page, `id="notice"`, `data-notice-for="FULFILLMENT_STARTED"`, `data-status="FULFILLMENT_STARTED"`)
}

// TestBatchPageRefreshesOnlyWithoutJavaScript: a batch in progress
// reloads itself only in a browser without JavaScript (the meta refresh is
// inside <noscript>); a finished one does not.
func TestBatchPageRefreshesOnlyWithoutJavaScript(t *testing.T) {
	r := newRig(t, nil)
	hc := r.signIn("root@example.com")
	j := &batchJob{ID: "held", File: "held.csv", Format: "Okta logins", Owner: "root@example.com", Created: r.w.Now(), state: batchOrdering, total: 2}
	if err := r.c.batches.add(t.Context(), j); err != nil {
		t.Fatal(err)
	}
	_, page := r.get(hc, "/batch/held")
	wantContains(t, "a batch in progress", page, `<noscript><meta http-equiv="refresh" content="3"></noscript>`, `data-refresh="3"`)
	if strings.Count(page, `http-equiv="refresh"`) != 1 {
		t.Errorf("a batch in progress has a meta refresh outside <noscript>:\n%s", page)
	}
	j.mu.Lock()
	j.state = batchDone
	j.mu.Unlock()
	if _, page = r.get(hc, "/batch/held"); strings.Contains(page, "refresh") {
		t.Error("a finished batch still refreshes")
	}
}

func TestReadOnlyMayNotAct(t *testing.T) {
	r := newRig(t, nil)
	id := r.order("ada@example.com")
	hc := r.signIn("reader@example.com")
	for _, path := range []string{"/users/" + id + "/send-pin", "/users/" + id + "/retry", "/users/" + id + "/delete", "/users/" + id + "/order", "/batch"} {
		code, body := r.post(hc, path, url.Values{"confirm": {"yes"}})
		if code != http.StatusForbidden || !strings.Contains(body, "Not allowed") {
			t.Errorf("read-only POST %s = %d", path, code)
		}
	}
	if rec := r.w.Status(t.Context(), "ada@example.com"); rec.Status != fulfillment.FulfillmentStarted {
		t.Errorf("after read-only POSTs ada's key is %s", rec.Status)
	}
	if !r.auditHas("reader@example.com", "delete", outcomeRefused) {
		t.Error("the refused delete is not audited")
	}
}

func TestActionsOnlyWhereTheStatusMachineAllows(t *testing.T) {
	r := newRig(t, nil)
	ctx := t.Context()
	id := r.order("ada@example.com")
	hc := r.signIn("root@example.com")

	_, page := r.get(hc, "/users/"+id)
	for _, absent := range []string{`id="action-send-pin"`, `id="action-retry"`, `id="action-order"`} {
		if strings.Contains(page, absent) {
			t.Errorf("a started key's page offers %s", absent)
		}
	}
	if code, _ := r.post(hc, "/users/"+id+"/send-pin", nil); code != http.StatusConflict {
		t.Errorf("send PIN while started = %d, want 409", code)
	}
	if code, _ := r.post(hc, "/users/"+id+"/retry", nil); code != http.StatusConflict {
		t.Errorf("retry while started = %d, want 409", code)
	}
	code, body := r.post(hc, "/users/"+id+"/order", url.Values{"productId": {"1"}, "inventoryProductId": {"106"}, "customizationId": {"RXJN83"}})
	if code != http.StatusUnprocessableEntity || !strings.Contains(body, "already in fulfillment") {
		t.Errorf("second order = %d", code)
	}
	if !r.auditHas("root@example.com", "send PIN", outcomeRefused) || !r.auditHas("root@example.com", "order", outcomeRefused) {
		t.Error("refused actions are not audited")
	}

	r.w.AdvanceUntil(ctx, "ada@example.com", fulfillment.Shipped)
	hc = r.signIn("root@example.com") // the fake clock moved days on
	_, page = r.get(hc, "/users/"+id)
	_, del := r.get(hc, "/users/"+id+"/delete")
	wantContains(t, "shipped delete page", del, "permanently delete Okta enrollment", "can no longer be cancelled")
	shipped := r.w.Status(ctx, "ada@example.com")
	wantContains(t, "shipped delete page", del, fmt.Sprintf("(state %d, %s) alone", int(shipped.ShipmentState), shipped.ShipmentState))
	if strings.Contains(del, "))") {
		t.Errorf("the delete page doubles brackets:\n%s", del)
	}
	wantContains(t, "shipped page", page, `id="action-send-pin"`, "Shipped")
	if code, _ := r.post(hc, "/users/"+id+"/send-pin", nil); code != http.StatusSeeOther {
		t.Errorf("send PIN while shipped = %d, want 303", code)
	}
	if code, _ := r.post(hc, "/users/"+id+"/delete", nil); code != http.StatusBadRequest {
		t.Errorf("delete without confirmation = %d, want 400", code)
	}
	if code, _ := r.post(hc, "/users/"+id+"/delete", url.Values{"confirm": {"yes"}}); code != http.StatusSeeOther {
		t.Errorf("confirmed delete = %d, want 303", code)
	}
	if rec := r.w.Status(ctx, "ada@example.com"); rec.Status != fulfillment.Deleted {
		t.Errorf("after delete: %s", rec.Status)
	}
	for _, a := range []string{"send PIN", "delete"} {
		if !r.auditHas("root@example.com", a, outcomeOK) {
			t.Errorf("%s is not audited", a)
		}
	}
	// Deleted: a new key may be ordered from the page.
	code, _ = r.post(hc, "/users/"+id+"/order", url.Values{"productId": {"1"}, "inventoryProductId": {"106"}, "customizationId": {"RXJN83"}})
	if code != http.StatusSeeOther {
		t.Errorf("order after delete = %d, want 303", code)
	}
}

func TestRetryAnErroredKey(t *testing.T) {
	r := newRig(t, nil)
	ctx := t.Context()
	id := r.erroredKey("ada@example.com")
	hc := r.signIn("root@example.com")
	_, page := r.get(hc, "/users/"+id)
	wantContains(t, "errored page", page, `id="action-retry"`, `id="key-failed-step"`, `id="key-reason"`, "zipCode", `id="delivery-problems"`)
	code, body := r.post(hc, "/users/"+id+"/retry", nil)
	if code != http.StatusUnprocessableEntity || !strings.Contains(body, "zipCode") {
		t.Errorf("retry with the profile still bad = %d", code)
	}
	r.setZip("ada@example.com", "02110")
	if code, _ := r.post(hc, "/users/"+id+"/retry", nil); code != http.StatusSeeOther {
		t.Errorf("retry = %d, want 303", code)
	}
	if rec := r.w.Status(ctx, "ada@example.com"); rec.Status != fulfillment.FulfillmentStarted {
		t.Errorf("after retry: %s", rec.Status)
	}
}

func TestOrderPageListsEveryProfileProblem(t *testing.T) {
	bad := fulfillmenttest.Employee("bob")
	bad.Profile.ZipCode, bad.Profile.CountryCode, bad.Profile.PrimaryPhone = "", "XX", "12"
	r := newRig(t, nil, bad)
	hc := r.signIn("root@example.com")
	id := r.w.User("bob@example.com").ID
	code, page := r.get(hc, "/users/"+id+"/order")
	if code != http.StatusOK {
		t.Fatalf("order page = %d", code)
	}
	wantContains(t, "order page", page, `id="productId"`, `for="productId"`, `for="inventoryProductId"`, `for="customizationId"`,
		"<code>zipCode</code>", "<code>countryCode</code>", "<code>primaryPhone</code>", `id="order-blocked"`, `list="products"`)
	code, page = r.post(hc, "/users/"+id+"/order", url.Values{"productId": {"01"}, "inventoryProductId": {"106"}, "customizationId": {"RXJN83"}})
	if code != http.StatusUnprocessableEntity || !strings.Contains(page, `id="productId-error"`) {
		t.Errorf("order with a bad product ID = %d", code)
	}
}

// orderFields returns the values the order form's item fields start with.
func orderFields(page string) map[string]string {
	got := map[string]string{}
	for _, m := range regexp.MustCompile(`<input id="(productId|inventoryProductId|customizationId)"[^>]*\svalue="([^"]*)"`).FindAllStringSubmatch(page, -1) {
		got[m[1]] = m[2]
	}
	return got
}

// TestOrderFormStartsWithDefaultItem: the order form's fields show
// Config.DefaultItem (the item the Service orders by default), so that an
// admin sees what will be ordered; without one they start empty. A form
// sent back after a refused order shows what the admin typed.
func TestOrderFormStartsWithDefaultItem(t *testing.T) {
	def := fulfillment.Item{ProductID: "29", InventoryProductID: "107", CustomizationID: "DEF001"}
	empty := map[string]string{"productId": "", "inventoryProductId": "", "customizationId": ""}
	for _, tc := range []struct {
		name string
		def  fulfillment.Item
		post url.Values // nil: the form as it opens
		want map[string]string
	}{
		{name: "no default", want: empty},
		{name: "default", def: def, want: map[string]string{"productId": "29", "inventoryProductId": "107", "customizationId": "DEF001"}},
		{name: "refused order keeps what was typed", def: def,
			post: url.Values{"productId": {"01"}, "inventoryProductId": {"106"}, "customizationId": {"RXJN83"}},
			want: map[string]string{"productId": "01", "inventoryProductId": "106", "customizationId": "RXJN83"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, func(c *Config) { c.DefaultItem = tc.def })
			hc := r.signIn("root@example.com")
			path := "/users/" + r.w.User("ada@example.com").ID + "/order"
			code, page := r.get(hc, path)
			if tc.post != nil {
				code, page = r.post(hc, path, tc.post)
			}
			if wantCode := map[bool]int{false: http.StatusOK, true: http.StatusUnprocessableEntity}[tc.post != nil]; code != wantCode {
				t.Fatalf("order page = %d, want %d", code, wantCode)
			}
			if diff := cmp.Diff(tc.want, orderFields(page)); diff != "" {
				t.Errorf("order form fields (-want +got):\n%s", diff)
			}
		})
	}
}

// TestSignInFromAnotherLoopbackName: a browser that opens the console as
// http://localhost:PORT/ while its redirect URL says 127.0.0.1 is sent to
// 127.0.0.1 before the sign-in starts, so that the sign-in cookie is set
// on the host the provider sends the browser back to, and the sign-in
// completes.
func TestSignInFromAnotherLoopbackName(t *testing.T) {
	r := newRig(t, nil)
	_, port, _ := strings.Cut(strings.TrimPrefix(r.srv.URL, "http://"), ":")
	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	next := "http://localhost:" + port + "/users/x?tab=1"
	var hops []string
	for !strings.HasPrefix(next, r.w.Okta.URL()) {
		if len(hops) == 5 {
			t.Fatalf("no redirect to the provider after %q", hops)
		}
		resp, err := hc.Get(next)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		loc, err := resp.Request.URL.Parse(resp.Header.Get("Location"))
		if resp.StatusCode != http.StatusSeeOther || err != nil {
			t.Fatalf("GET %s = %d to %q, want 303", next, resp.StatusCode, resp.Header.Get("Location"))
		}
		hops = append(hops, strings.TrimPrefix(next, "http://"))
		next = loc.String()
	}
	want := []string{"localhost:" + port + "/users/x?tab=1", "127.0.0.1:" + port + "/users/x?tab=1",
		"127.0.0.1:" + port + "/auth/login?next=%2Fusers%2Fx%3Ftab%3D1"}
	if diff := cmp.Diff(want, hops); diff != "" {
		t.Errorf("requests before the provider (-want +got):\n%s", diff)
	}
	back, err := r.w.Okta.SignIn(t.Context(), next, "root@example.com")
	if err != nil {
		t.Fatal(err)
	}
	resp, err := hc.Get(back.String())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/users/x?tab=1" {
		t.Fatalf("callback at %s = %d to %q, want 303 to /users/x?tab=1", back.Host, resp.StatusCode, resp.Header.Get("Location"))
	}
}

// TestRequestsOnAnotherLoopbackNameRedirected: a GET or HEAD on another
// loopback name for the redirect URL's host and port is sent there; a POST
// is not (it is refused as before), nor a request on another port, nor a
// public console's request on another name (a proxy that rewrites Host
// would loop).
func TestRequestsOnAnotherLoopbackNameRedirected(t *testing.T) {
	const signIn = "/auth/login?next=%2Fusers%2Fx%3Ftab%3D1" // the console's own answer without a session
	for _, tc := range []struct {
		name, redirect, base, method, url, fetchSite string
		wantCode                                     int
		wantLocation                                 string
	}{
		{"localhost for 127.0.0.1", "http://127.0.0.1:8080/auth/callback", "", "GET", "http://localhost:8080/users/x?tab=1", "",
			303, "http://127.0.0.1:8080/users/x?tab=1"},
		{"HEAD", "http://127.0.0.1:8080/auth/callback", "", "HEAD", "http://localhost:8080/users/x?tab=1", "",
			303, "http://127.0.0.1:8080/users/x?tab=1"},
		{"127.0.0.1 for localhost", "http://localhost:8080/auth/callback", "", "GET", "http://127.0.0.1:8080/users/x?tab=1", "",
			303, "http://localhost:8080/users/x?tab=1"},
		{"::1", "http://127.0.0.1:8080/auth/callback", "", "GET", "http://[::1]:8080/users/x?tab=1", "",
			303, "http://127.0.0.1:8080/users/x?tab=1"},
		{"default port", "http://localhost/auth/callback", "", "GET", "http://127.0.0.1/users/x?tab=1", "",
			303, "http://localhost/users/x?tab=1"},
		{"base path", "http://127.0.0.1:8080/admin/auth/callback", "/admin", "GET", "http://localhost:8080/admin/", "",
			303, "http://127.0.0.1:8080/admin/"},
		{"same name in capitals", "http://localhost:8080/auth/callback", "", "GET", "http://LOCALHOST:8080/users/x?tab=1", "",
			303, signIn},
		{"another port", "http://127.0.0.1:8080/auth/callback", "", "GET", "http://localhost:9090/users/x?tab=1", "",
			303, signIn},
		{"POST from the page", "http://127.0.0.1:8080/auth/callback", "", "POST", "http://localhost:8080/users/x/retry", "same-origin",
			401, ""},
		{"POST from another site", "http://127.0.0.1:8080/auth/callback", "", "POST", "http://localhost:8080/users/x/retry", "cross-site",
			403, ""},
		{"proxy that rewrites Host", "https://keys.example.com/auth/callback", "", "GET", "http://127.0.0.1:8080/users/x?tab=1", "",
			303, signIn},
		{"another public name", "https://keys.example.com/auth/callback", "", "GET", "https://keys-old.example.com/users/x?tab=1", "",
			303, signIn},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, func(c *Config) { c.OIDC.RedirectURL, c.BasePath = tc.redirect, tc.base })
			req := httptest.NewRequest(tc.method, tc.url, nil)
			if tc.fetchSite != "" {
				req.Header.Set("Sec-Fetch-Site", tc.fetchSite)
			}
			rec := httptest.NewRecorder()
			r.c.routes().ServeHTTP(rec, req)
			if rec.Code != tc.wantCode || rec.Header().Get("Location") != tc.wantLocation {
				t.Errorf("%s %s = %d to %q, want %d to %q", tc.method, tc.url, rec.Code, rec.Header().Get("Location"), tc.wantCode, tc.wantLocation)
			}
		})
	}
}

func TestCrossOriginPostRefused(t *testing.T) {
	r := newRig(t, nil)
	id := r.order("ada@example.com")
	hc := r.signIn("root@example.com")
	req, _ := http.NewRequestWithContext(t.Context(), "POST", r.srv.URL+"/users/"+id+"/delete", strings.NewReader("confirm=yes"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	req.Header.Set("Origin", "https://evil.example")
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("cross-site POST = %d, want 403", resp.StatusCode)
	}
	if rec := r.w.Status(t.Context(), "ada@example.com"); rec.Status != fulfillment.FulfillmentStarted {
		t.Errorf("after a forged POST ada's key is %s", rec.Status)
	}
	if !r.auditHas("", "cross-origin request", outcomeRefused) {
		t.Error("the forged POST is not audited")
	}
}

func TestProfileScriptRendersInert(t *testing.T) {
	evil := fulfillmenttest.Employee("eve")
	evil.Profile.FirstName = `<script>alert(1)</script>`
	evil.Profile.City = `"><img src=x onerror=alert(2)>`
	r := newRig(t, nil, evil)
	hc := r.signIn("root@example.com")
	_, page := r.get(hc, "/users/"+r.w.User("eve@example.com").ID)
	if strings.Contains(page, "<script>alert") || strings.Contains(page, "<img src=x") {
		t.Error("a profile value reached the page as markup")
	}
	wantContains(t, "user page", page, "&lt;script&gt;alert(1)&lt;/script&gt;", "&lt;img src=x onerror=alert(2)&gt;")
}

// upload posts a batch file.
func (r *rig) upload(hc *http.Client, name string, data []byte, fields map[string]string) (int, string, string) {
	r.t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for k, v := range fields {
		mw.WriteField(k, v)
	}
	fw, _ := mw.CreateFormFile("file", name)
	fw.Write(data)
	mw.Close()
	resp := r.do(hc, "POST", "/batch", &buf, mw.FormDataContentType())
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Location"), string(b)
}

func TestOversizedUploadRefused(t *testing.T) {
	r := newRig(t, func(c *Config) { c.MaxUpload = 1 << 10 })
	hc := r.signIn("root@example.com")
	code, _, body := r.upload(hc, "big.csv", bytes.Repeat([]byte("login\n"), 1000), nil)
	if code != http.StatusRequestEntityTooLarge || !strings.Contains(body, "larger than 1 KiB") {
		t.Errorf("oversized upload = %d", code)
	}
	if !r.auditHas("root@example.com", "batch upload", outcomeRefused) {
		t.Error("the refused upload is not audited")
	}
}

func TestBatchListsBadRowsThenOrdersValidOnes(t *testing.T) {
	noAddress := fulfillmenttest.Employee("nomad")
	noAddress.Profile.StreetAddress = ""
	r := newRig(t, nil, fulfillmenttest.Employee("bo"), noAddress)
	hc := r.signIn("root@example.com")
	file := "login\nada@example.com\nghost@example.com\n\nbo@example.com\nada@example.com\nnomad@example.com\n=cmd@example.com\n"
	code, loc, _ := r.upload(hc, "people.csv", []byte(file), map[string]string{"format": "auto"})
	if code != http.StatusSeeOther || !strings.HasPrefix(loc, "/batch/") {
		t.Fatalf("upload = %d to %q", code, loc)
	}
	r.c.work.Wait()
	_, page := r.get(hc, loc)
	wantContains(t, "checked batch", page, "checked", `id="bad-line-3"`, "Okta has no user with this login",
		`id="bad-line-6"`, "duplicate login (first on line 2)", `id="bad-line-7"`, "streetAddress", `id="batch-order"`, "Order the 2 valid rows")
	if recs, _ := r.w.Service.List(t.Context(), fulfillment.Query{}); len(recs) != 0 {
		t.Errorf("%d records before the batch was ordered", len(recs))
	}
	if code, _ := r.post(hc, loc+"/order", nil); code != http.StatusSeeOther {
		t.Fatalf("order batch = %d", code)
	}
	r.c.work.Wait()
	_, page = r.get(hc, loc)
	wantContains(t, "done batch", page, `id="batch-done"`, "Ordered 2")
	if code, _ := r.post(hc, loc+"/order", nil); code != http.StatusConflict {
		t.Errorf("ordering a batch twice = %d, want 409", code)
	}
	code, csv := r.get(hc, loc+"/results.csv")
	if code != http.StatusOK {
		t.Fatalf("results = %d", code)
	}
	wantContains(t, "results CSV", csv, "line,login,user_id,result,status,problem", "2,ada@example.com,", ",ordered,FULFILLMENT_STARTED,", "3,ghost@example.com,,invalid,")
	if strings.Contains(csv, "\n8,=cmd") || !strings.Contains(csv, "'=cmd@example.com") {
		t.Errorf("a formula cell is not defused:\n%s", csv)
	}
	if !r.auditHas("root@example.com", "batch order finished", outcomeOK) {
		t.Error("the batch is not audited")
	}
}

func TestEventsStreamRecordChanges(t *testing.T) {
	r := newRig(t, nil)
	hc := r.signIn("reader@example.com")
	_, rd := openStream(t, t.Context(), hc, r.srv.URL+"/events")
	id := r.order("ada@example.com")
	for {
		line, err := rd.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(line, "data: ") && strings.Contains(line, `"user":"`+id+`"`) {
			if !strings.Contains(line, `"status":"FULFILLMENT_STARTED"`) {
				t.Errorf("event %q", line)
			}
			break
		}
	}
}

func TestSessionExpires(t *testing.T) {
	r := newRig(t, nil)
	hc := r.signIn("root@example.com")
	if code, _ := r.get(hc, "/"); code != http.StatusOK {
		t.Fatalf("signed in: GET / = %d", code)
	}
	r.w.Advance(time.Hour + time.Second)
	resp := r.do(hc, "GET", "/", nil, "")
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/auth/login?next=") {
		t.Errorf("after the TTL GET / = %d to %q, want a redirect to sign in", resp.StatusCode, resp.Header.Get("Location"))
	}
	if code, _ := r.post(hc, "/batch", nil); code != http.StatusUnauthorized {
		t.Errorf("after the TTL POST = %d, want 401", code)
	}
}

func TestCookiesAreProtected(t *testing.T) {
	r := newRig(t, nil)
	hc := r.signIn("root@example.com")
	u, _ := url.Parse(r.srv.URL)
	cks := hc.Jar.Cookies(u)
	if len(cks) != 1 || cks[0].Name != "preenroll-session" {
		t.Fatalf("cookies %v", cks)
	}
	// A changed cookie does not open.
	tampered := *cks[0]
	tampered.Value = tampered.Value[:len(tampered.Value)-2] + "AA"
	jar, _ := cookiejar.New(nil)
	jar.SetCookies(u, []*http.Cookie{&tampered})
	hc2 := &http.Client{Jar: jar, CheckRedirect: hc.CheckRedirect}
	if resp := r.do(hc2, "GET", "/", nil, ""); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("tampered cookie: GET / = %d, want a redirect to sign in", resp.StatusCode)
	}
	// The Set-Cookie attributes.
	resp := r.do(&http.Client{CheckRedirect: hc.CheckRedirect}, "GET", "/auth/login", nil, "")
	sc := resp.Header.Get("Set-Cookie")
	for _, want := range []string{"HttpOnly", "SameSite=Lax", "Path=/", "Max-Age="} {
		if !strings.Contains(sc, want) {
			t.Errorf("Set-Cookie %q lacks %s", sc, want)
		}
	}
}

func TestNewChecksConfig(t *testing.T) {
	r := newRig(t, nil)
	good := Config{Okta: r.w.OktaClient, OIDC: OIDC{Issuer: "https://example.okta.com", ClientID: "c", RedirectURL: "https://console.example.com/auth/callback", AdminGroup: "a"},
		SessionKey: okta.Secret(strings.Repeat("k", 32))}
	if _, err := New(r.w.Service, good); err != nil {
		t.Fatalf("good config: %v", err)
	}
	for _, tc := range []struct {
		name, field string // field: the error names it
		change      func(*Config)
	}{
		{"short key", "SessionKey", func(c *Config) { c.SessionKey = "short" }},
		{"http redirect", "OIDC.RedirectURL", func(c *Config) { c.OIDC.RedirectURL = "http://console.example.com/auth/callback" }},
		{"wrong path", "OIDC.RedirectURL", func(c *Config) { c.OIDC.RedirectURL = "https://console.example.com/callback" }},
		{"no admin group", "OIDC.AdminGroup", func(c *Config) { c.OIDC.AdminGroup = "" }},
		{"base path", "BasePath", func(c *Config) { c.BasePath = "admin/" }},
		{"default item", "DefaultItem", func(c *Config) {
			c.DefaultItem = fulfillment.Item{ProductID: "01", InventoryProductID: "106", CustomizationID: "RXJN83"}
		}},
	} {
		cfg := good
		tc.change(&cfg)
		if _, err := New(r.w.Service, cfg); !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), tc.field) {
			t.Errorf("%s: New = %v, want an ErrInvalidConfig naming %s", tc.name, err, tc.field)
		}
	}
}

// TestDoneEndsLiveUpdates: closing Config.Done ends an open event stream,
// refuses new ones with 503, and leaves no subscription at the Service (a
// record change afterwards reaches nobody).
func TestDoneEndsLiveUpdates(t *testing.T) {
	done := make(chan struct{})
	r := newRig(t, func(c *Config) { c.Done = done })
	hc := r.signIn("reader@example.com")
	_, rd := openStream(t, t.Context(), hc, r.srv.URL+"/events")
	close(done)
	if rest, err := io.ReadAll(rd); err != nil {
		t.Errorf("event stream after Done: %q, %v; want it to end cleanly", rest, err)
	}
	<-r.c.live.closed // closed once the Service subscription is gone
	sub, cancel := r.c.live.subscribe()
	defer cancel()
	r.order("ada@example.com")
	if len(sub.ch) != 0 {
		t.Errorf("a record change after Done reached the console: %+v", <-sub.ch)
	}
	if code, _ := r.get(hc, "/events"); code != http.StatusServiceUnavailable {
		t.Errorf("GET /events after Done = %d, want 503", code)
	}
}

// TestMalformedUserIDIs400: a user ID or login the Okta client refuses
// (a control character, a path separator) is the visitor's mistake: 400
// naming the problem (the okta.ArgumentError's, the ID quoted and
// escaped), not 502 "Okta did not answer".
func TestMalformedUserIDIs400(t *testing.T) {
	r := newRig(t, nil)
	hc := r.signIn("reader@example.com")
	const lead = "This cannot be looked up at Okta: the user ID or login "
	for _, tc := range []struct{ path, want string }{
		{"/users/%00", lead + `&#34;\x00&#34; contains a control character.`},
		{"/users/a%5Cb", lead + `&#34;a\\b&#34; contains a path separator.`},
		{"/users/%1b/order", lead + `&#34;\x1b&#34; contains a control character.`},
		{"/find?login=%00%1b", lead + `&#34;\x00\x1b&#34; contains a control character.`},
	} {
		code, body := r.get(hc, tc.path)
		if code != http.StatusBadRequest || !strings.Contains(body, "Not a user ID or login") || !strings.Contains(body, tc.want) {
			t.Errorf("GET %s = %d, want 400 saying %q:\n%s", tc.path, code, tc.want, body)
		}
	}
}

// TestProviderErrorIsCutAndCleaned: the error and error_description of a
// sign-in redirect are text the console does not control: the audit log
// and the page get them without control or format characters and cut
// short.
func TestProviderErrorIsCutAndCleaned(t *testing.T) {
	r := newRig(t, nil)
	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp := r.do(hc, "GET", "/auth/login?next=/", nil, "")
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("GET /auth/login = %d", resp.StatusCode)
	}
	authorize, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	desc := "line one\r\n2026-01-01 FAKE audit entry\x1b[31m\u202eevil" + strings.Repeat("x", 500)
	q := url.Values{"error": {"access_denied\n" + strings.Repeat("e", 100)}, "error_description": {desc},
		"state": {authorize.Query().Get("state")}}
	code, body := r.get(hc, "/auth/callback?"+q.Encode())
	if code != http.StatusForbidden || !strings.Contains(body, "Sign-in refused") {
		t.Fatalf("callback with an error = %d:\n%s", code, body)
	}
	es, _ := r.audit.Recent(context.Background(), 10)
	if len(es) != 1 || es[0].Action != "sign in" || es[0].Outcome != outcomeRefused {
		t.Fatalf("audit entries %+v, want one refused sign-in", es)
	}
	wantDetail := "provider: access_denied" + strings.Repeat("e", 64-len("access_denied")) + "…: " +
		"line one2026-01-01 FAKE audit entry[31mevil" + strings.Repeat("x", 200-len("line one2026-01-01 FAKE audit entry[31mevil")) + "…"
	if diff := cmp.Diff(wantDetail, es[0].Detail); diff != "" {
		t.Errorf("audit detail (-want +got):\n%s", diff)
	}
	if strings.ContainsAny(body, "\x1b\u202e") {
		t.Error("the page shows control or format characters")
	}
}

// The People page counts every record by status but reads only the rows
// it shows: past maxPeopleRows it says so, and a status filter reads that
// status's rows alone.
func TestPeoplePageCountsAndRows(t *testing.T) {
	t.Parallel()
	r := newRig(t, nil)
	ctx := t.Context()
	put := func(id string, st fulfillment.Status) {
		t.Helper()
		if _, err := r.w.Config.Store.Put(ctx, fulfillment.Record{UserID: id, Login: id + "@example.com", Status: st, Step: fulfillment.StepInitiated}); err != nil {
			t.Fatal(err)
		}
	}
	for i := range maxPeopleRows + 1 {
		put(fmt.Sprintf("00uactive%05d", i), fulfillment.Active)
	}
	put("00ushipped", fulfillment.Shipped)
	hc := r.signIn("reader@example.com")
	for _, tc := range []struct {
		path     string
		rows     int
		more     bool
		contains []string
	}{
		{"/", maxPeopleRows, true, []string{`id="count-all" href="/" aria-current="page">All <strong>1002</strong>`, `Active <strong>1001</strong>`, `Shipped <strong>1</strong>`}},
		{"/?status=SHIPPED", 1, false, []string{`All <strong>1002</strong>`, `id="person-00ushipped"`}},
		{"/?status=ACTIVE", maxPeopleRows, true, []string{`id="person-00uactive00000"`}},
	} {
		code, body := r.get(hc, tc.path)
		if code != http.StatusOK {
			t.Fatalf("GET %s: %d", tc.path, code)
		}
		if n := strings.Count(body, `<tr id="person-`); n != tc.rows {
			t.Errorf("GET %s: %d rows, want %d", tc.path, n, tc.rows)
		}
		if more := strings.Contains(body, "Only the first rows are shown"); more != tc.more {
			t.Errorf("GET %s: the more-rows note shown %v, want %v", tc.path, more, tc.more)
		}
		for _, s := range tc.contains {
			if !strings.Contains(body, s) {
				t.Errorf("GET %s: page lacks %q", tc.path, s)
			}
		}
	}
}

// TestSlowBrowserIsToldToResync: a browser whose queue of events is full
// loses the next ones, and is told once to fetch its page whatever it
// shows: the event it lost may have been its page's last.
func TestSlowBrowserIsToldToResync(t *testing.T) {
	h := newHub()
	sub, cancel := h.subscribe()
	defer cancel()
	for i := range subscriberBuffer {
		h.publish(liveEvent{Kind: "record", Data: i})
	}
	select {
	case <-sub.missed:
		t.Fatal("a resync with room left in the queue")
	default:
	}
	h.publish(liveEvent{Kind: "record", Data: "lost"})
	h.publish(liveEvent{Kind: "record", Data: "lost too"})
	if len(sub.ch) != subscriberBuffer {
		t.Errorf("%d events queued, want %d", len(sub.ch), subscriberBuffer)
	}
	select {
	case <-sub.missed:
	default:
		t.Fatal("no resync after events were lost")
	}
	select {
	case <-sub.missed:
		t.Error("two resyncs for one overflow")
	default:
	}
}
