package console

import (
	"bytes"
	"context"
	"fmt"
	"mime/multipart"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/preenroll/preenroll/fulfillment"
	"github.com/preenroll/preenroll/fulfillment/fulfillmenttest"
	"github.com/preenroll/preenroll/okta"
)

// fuzzMarkers are what reflected input would look like in a page had it
// escaped the templates' escaping: the seeds carry "zz" after a quote or
// an angle bracket, and no template or asset has "zz".
var fuzzMarkers = []string{"<zz", `"zz`, `'zz`, `" zz`, `' zz`}

// FuzzHandlers sends a signed-in admin's (or an anonymous visitor's)
// requests with arbitrary paths, query strings and form bodies (URL-encoded
// or a multipart batch upload) to the console, over the fakes of a
// fulfillmenttest World. Every answer is below 500, a 4xx page has a
// message, no input comes back unescaped in HTML, a redirect stays on the
// console, and a refused request changes no key.
func FuzzHandlers(f *testing.F) {
	r := newRig(f, nil, fulfillmenttest.Employee("bo"), fulfillmenttest.Employee("cy"))
	ada := r.order("ada@example.com")
	bo, cy := r.w.User("bo@example.com").ID, r.w.User("cy@example.com").ID
	admin := r.sessionCookie("root@example.com", RoleAdmin)
	j := &batchJob{ID: "fuzzbatch", File: "f.csv", Format: "Okta logins", Owner: "root@example.com", Created: r.w.Now(), state: batchDone}
	if err := r.c.batches.add(f.Context(), j); err != nil {
		f.Fatal(err)
	}
	const (
		post      = 1 << iota // POST, not GET
		anonymous             // no session cookie
		multi                 // a multipart body with the file, not URL-encoded
		signin                // a sign-in's callback: the target's query after this browser's state
	)
	seeds := []struct {
		sel          uint8
		target, form string
		file         []byte
	}{
		{0, "/", "", nil},
		{0, "/?status=FULFILLMENT_STARTED", "", nil},
		{0, "/?status=<zz>&notfound=\"zz<zz>", "", nil},
		{0, "/?notfound=%1b%5b31m%e2%80%aezz", "", nil},
		{0, "/find?login=ada@example.com", "", nil},
		{0, "/find?login=<zz>/../x", "", nil},
		{0, "/find?login=%00%ff", "", nil},
		{0, "/users/{ada}", "", nil},
		{0, "/users/{ada}?done=order", "", nil},
		{0, "/users/%3Czz%3E", "", nil},
		{0, "/users/{bo}/order", "", nil},
		{0, "/users/{ada}/delete", "", nil},
		{0, "/batch", "", nil},
		{0, "/batch/fuzzbatch", "", nil},
		{0, "/batch/fuzzbatch/results.csv", "", nil},
		{0, "/batch/<zz>", "", nil},
		{0, "/audit", "", nil},
		{0, "/audit?cursor=zz&limit=-1", "", nil},
		{0, "/events?scope=user:zz", "", nil},
		{0, "/nowhere/<zz>", "", nil},
		{anonymous, "/auth/login?next=//evil.example/", "", nil},
		{anonymous, "/auth/login?next=/users/x", "", nil},
		{anonymous, "/auth/callback?state=x&code=y&error=<zz>&error_description='zz", "", nil},
		{anonymous, "/", "", nil},
		{anonymous | signin, "?code=not-a-code", "", nil},
		{anonymous | signin, "?error=access_denied&error_description=<zz>%1b", "", nil},
		{anonymous | signin, "?code=", "", nil},
		{post, "/users/{bo}/order", "productId=<zz>&inventoryProductId=106&customizationId=RXJN83", nil},
		{post, "/users/{bo}/order", "productId=1&inventoryProductId=%00&customizationId=" + strings.Repeat("Z", 300), nil},
		{post, "/users/{cy}/order", "productId=1&inventoryProductId=106&customizationId=RXJN83", nil},
		{post, "/users/nobody/order", "productId=1&inventoryProductId=106&customizationId=RXJN83", nil},
		{post, "/users/{ada}/retry", "", nil},
		{post, "/users/{ada}/send-pin", "", nil},
		{post, "/users/{ada}/delete", "confirm=no", nil},
		{post, "/users/{bo}/delete", "confirm=yes", nil},
		{post, "/batch/fuzzbatch/order", "", nil},
		{post, "/batch/nope/order", "", nil},
		{post, "/auth/logout", "", nil},
		{post | anonymous, "/users/{bo}/order", "productId=1&inventoryProductId=106&customizationId=RXJN83", nil},
		{post | multi, "/batch", "format=auto", []byte("login\nada@example.com\n<zz>\ncy@example.com\n\"zz\"\n")},
		{post | multi, "/batch", "format=workday&productId=<zz>", []byte("Username\n")},
		{post | multi, "/batch", "format=<zz>", []byte("\xff\xfe<zz>\n")},
		{post | multi, "/batch", "", []byte(strings.Repeat("x", 700) + "\n")},
		{post, "/batch", "format=auto", nil},
	}
	for _, s := range seeds {
		f.Add(s.sel, s.target, s.form, s.file)
	}
	ids := strings.NewReplacer("{ada}", ada, "{bo}", bo, "{cy}", cy)
	f.Fuzz(func(t *testing.T, sel uint8, target, form string, file []byte) {
		target = ids.Replace(target)
		if !strings.HasPrefix(target, "/") {
			target = "/" + target
		}
		u, err := url.ParseRequestURI(target)
		if err != nil || strings.ContainsAny(target, " \t\r\n") {
			return // no client can send it
		}
		method, body, contentType := http.MethodGet, []byte(nil), ""
		if sel&post != 0 {
			method, body, contentType = http.MethodPost, []byte(form), "application/x-www-form-urlencoded"
			if sel&multi != 0 {
				body, contentType = multipartBody(t, form, file)
			}
		}
		var stateCookie *http.Cookie
		if sel&signin != 0 {
			// The browser started a sign-in: it holds the state cookie, and
			// the provider sends it back with the state and the fuzzed rest.
			rec := httptest.NewRecorder()
			r.h.ServeHTTP(rec, httptest.NewRequestWithContext(t.Context(), http.MethodGet, r.srv.URL+"/auth/login?next=/", nil))
			res := rec.Result()
			loc, err := url.Parse(res.Header.Get("Location"))
			if res.StatusCode != http.StatusSeeOther || err != nil || len(res.Cookies()) != 1 {
				t.Fatalf("GET /auth/login = %d to %q with %d cookies", res.StatusCode, res.Header.Get("Location"), len(res.Cookies()))
			}
			stateCookie = res.Cookies()[0]
			u.Path, u.RawQuery = CallbackPath, "state="+url.QueryEscape(loc.Query().Get("state"))+"&"+u.RawQuery
			target = u.RequestURI()
		}
		ctx := t.Context()
		if u.Path == "/events" {
			// The stream lasts until the browser goes: this one has gone.
			var cancel context.CancelFunc
			ctx, cancel = context.WithCancel(ctx)
			cancel()
		}
		req := httptest.NewRequestWithContext(ctx, method, r.srv.URL+target, bytes.NewReader(body))
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
		req.Header.Set("Origin", r.srv.URL)
		req.Header.Set("Sec-Fetch-Site", "same-origin")
		if sel&anonymous == 0 {
			req.AddCookie(admin)
		}
		if stateCookie != nil {
			req.AddCookie(stateCookie)
		}
		before := keys(t, r)
		rec := httptest.NewRecorder()
		r.h.ServeHTTP(rec, req)
		r.c.work.Wait() // a batch's checks and orders
		res := rec.Result()
		code, page := res.StatusCode, rec.Body.String()
		t.Logf("%s %s = %d %s", method, target, code, problemText(page))
		if code >= 500 {
			t.Fatalf("%s %s = %d for bad input:\n%.2000s", method, target, code, page)
		}
		if code >= 400 && strings.TrimSpace(page) == "" {
			t.Fatalf("%s %s = %d with no message", method, target, code)
		}
		if strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") {
			for _, m := range fuzzMarkers {
				if strings.Contains(page, m) {
					t.Fatalf("%s %s: input reached the page unescaped (%q):\n%.2000s", method, target, m, page)
				}
			}
		}
		if loc := res.Header.Get("Location"); loc != "" {
			l, err := url.Parse(loc)
			local := err == nil && l.Host == "" && l.Scheme == "" && strings.HasPrefix(loc, "/") && !strings.HasPrefix(loc, "//") && !strings.Contains(loc, `\`)
			if !local && !strings.HasPrefix(loc, r.w.Okta.URL()) {
				t.Fatalf("%s %s redirects off the console to %q", method, target, loc)
			}
		}
		if after := keys(t, r); code >= 400 && after != before {
			t.Fatalf("%s %s = %d, refused, yet the keys changed:\n%s\nto\n%s", method, target, code, before, after)
		}
	})
}

// multipartBody is a batch upload: form's fields and file as "file".
func multipartBody(t *testing.T, form string, file []byte) ([]byte, string) {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	fields, _ := url.ParseQuery(form)
	for k, vs := range fields {
		for _, v := range vs {
			if err := mw.WriteField(k, v); err != nil {
				t.Fatal(err)
			}
		}
	}
	fw, err := mw.CreateFormFile("file", "upload.csv")
	if err != nil {
		t.Fatal(err)
	}
	fw.Write(file)
	if err := mw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), mw.FormDataContentType()
}

// keys is every key record the Service has, one a line: what a refused
// request must not change.
func keys(t *testing.T, r *rig) string {
	recs, err := r.w.Service.List(t.Context(), fulfillment.Query{})
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, rec := range recs {
		fmt.Fprintf(&b, "%s %s %s %s\n", rec.UserID, rec.Status, rec.Step, rec.UpdatedAt)
	}
	return b.String()
}

// problemText is a page's problem or error paragraph, for the fuzz log.
func problemText(page string) string {
	for _, cls := range []string{`class="problem"`, `class="error"`, `role="alert"`} {
		if i := strings.Index(page, cls); i >= 0 {
			return page[i:min(len(page), i+200)]
		}
	}
	return ""
}

// TestActionsRefuseBadUserIDs: an action on a user ID no key can have
// (FuzzHandlers found one that is not UTF-8) is a 400 naming the problem,
// not the 502 of a failure, and is audited as refused, with the problem.
func TestActionsRefuseBadUserIDs(t *testing.T) {
	r := newRig(t, nil)
	hc := r.signIn("root@example.com")
	long := strings.Repeat("x", 300)
	tests := []struct {
		path, want string
		audited    AuditEntry // its Action, Target and Detail
	}{
		{"/users/%89/retry", "This is not a user ID: it is not valid UTF-8.",
			AuditEntry{Action: "retry", Target: "\x89", Detail: "user ID is not valid UTF-8"}},
		{"/users/%89/send-pin", "This is not a user ID: it is not valid UTF-8.",
			AuditEntry{Action: "send PIN", Target: "\x89", Detail: "user ID is not valid UTF-8"}},
		{"/users/a%01b/delete", "This is not a user ID: it contains a control character.",
			AuditEntry{Action: "delete", Target: "a\x01b", Detail: "user ID contains a control character"}},
		{"/users/" + long + "/retry", "This is not a user ID: it is 300 bytes, longer than 256.",
			AuditEntry{Action: "retry", Target: long, Detail: "user ID is 300 bytes, longer than 256"}},
	}
	for _, tt := range tests {
		code, page := r.post(hc, tt.path, url.Values{"confirm": {"yes"}})
		if code != http.StatusBadRequest || !strings.Contains(page, tt.want) {
			t.Errorf("POST %s = %d, want 400 saying %q:\n%s", tt.path, code, tt.want, problemText(page))
		}
	}
	es, err := r.audit.Recent(t.Context(), 1000)
	if err != nil {
		t.Fatal(err)
	}
	refused := map[AuditEntry]bool{}
	for _, e := range es {
		if e.Who == "root@example.com" && e.Outcome == outcomeRefused {
			refused[AuditEntry{Action: e.Action, Target: e.Target, Detail: e.Detail}] = true
		}
	}
	for _, tt := range tests {
		if !refused[tt.audited] {
			t.Errorf("POST %s: no refused audit entry %+v among %+v", tt.path, tt.audited, refused)
		}
	}
}

// TestCallbackCodeProblems: a sign-in callback whose code is missing or
// refused by the provider (FuzzHandlers found both answered 502) is a 400;
// the provider refusing the console's own credentials is still a 502.
func TestCallbackCodeProblems(t *testing.T) {
	tests := []struct {
		name     string
		secret   string // the console's client secret; "" for the right one
		code     string // "" for the code the provider sent
		wantCode int
		want     string
	}{
		{"no code", "", "-", http.StatusBadRequest, "The sign-in response has no code. Start again."},
		{"a made-up code", "", "not-a-code", http.StatusBadRequest, "The sign-in provider did not accept the sign-in. Start again."},
		{"a wrong client secret", "wrong-client-secret-0123456789abcdef", "", http.StatusBadGateway, "The sign-in provider did not accept the sign-in. Start again."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t, func(c *Config) {
				if tt.secret != "" {
					c.OIDC.ClientSecret = okta.Secret(tt.secret)
				}
			})
			jar, _ := cookiejar.New(nil)
			hc := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
			resp := r.do(hc, "GET", "/auth/login?next=/", nil, "")
			back, err := r.w.Okta.SignIn(t.Context(), resp.Header.Get("Location"), "root@example.com")
			if err != nil {
				t.Fatal(err)
			}
			q := back.Query()
			switch tt.code {
			case "-":
				q.Del("code")
			case "":
			default:
				q.Set("code", tt.code)
			}
			back.RawQuery = q.Encode()
			code, page := r.get(hc, strings.TrimPrefix(back.String(), r.srv.URL))
			if code != tt.wantCode || !strings.Contains(page, tt.want) {
				t.Errorf("callback = %d, want %d saying %q:\n%s", code, tt.wantCode, tt.want, problemText(page))
			}
		})
	}
}
