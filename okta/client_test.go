package okta_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jarcoal/httpmock"

	"github.com/preenroll/preenroll/internal/httpclient/clienttest"
	"github.com/preenroll/preenroll/internal/testclock"
	"github.com/preenroll/preenroll/internal/testhttp"
	"github.com/preenroll/preenroll/okta"
	"github.com/preenroll/preenroll/webauthn"
)

const (
	org   = "https://example.okta.com"
	token = "00aSecretTokenValue-xyz"
)

var epoch = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// newTestClient returns a client whose transport is an httpmock.MockTransport
// (never the process-wide httpmock.Activate).
func newTestClient(t *testing.T, opts ...okta.Option) (*okta.Client, *httpmock.MockTransport, *testclock.Clock) {
	t.Helper()
	mt := httpmock.NewMockTransport()
	clk := testclock.New(epoch)
	all := append([]okta.Option{
		okta.WithHTTPClient(&http.Client{Transport: mt}),
		okta.WithClock(clk),
		okta.WithRetryPolicy(okta.RetryPolicy{MaxRetries: 2, Backoff: func(n int) time.Duration { return time.Duration(n) * time.Second }}),
	}, opts...)
	c, err := okta.NewClient(org, token, all...)
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	return c, mt, clk
}

func TestNewClientValidation(t *testing.T) {
	t.Parallel()
	type tc = clienttest.NewClientCase[okta.Option]
	clienttest.CheckNewClient(t, okta.NewClient, okta.WithHTTPClient, okta.ErrInvalidArgument, []tc{
		{Name: "empty url", URL: "", Token: token, WantErr: true},
		{Name: "relative", URL: "example.okta.com", Token: token, WantErr: true},
		{Name: "ftp", URL: "ftp://example.okta.com", Token: token, WantErr: true},
		{Name: "path", URL: "https://example.okta.com/api/v1", Token: token, WantErr: true},
		{Name: "query", URL: "https://example.okta.com?x=1", Token: token, WantErr: true},
		{Name: "userinfo", URL: "https://u:p@example.okta.com", Token: token, WantErr: true},
		{Name: "plain http remote", URL: "http://example.okta.com", Token: token, WantErr: true},
		{Name: "empty token", URL: org, Token: "", WantErr: true},
		{Name: "token with space", URL: org, Token: "a b", WantErr: true},
		{Name: "token with newline", URL: org, Token: "a\nb", WantErr: true},
		{Name: "nil http client", URL: org, Token: token, Opts: []okta.Option{okta.WithHTTPClient(nil)}, WantErr: true},
		{Name: "nil clock", URL: org, Token: token, Opts: []okta.Option{okta.WithClock(nil)}, WantErr: true},
		{Name: "negative retries", URL: org, Token: token, Opts: []okta.Option{okta.WithRetryPolicy(okta.RetryPolicy{MaxRetries: -1})}, WantErr: true},
		{Name: "zero body size", URL: org, Token: token, Opts: []okta.Option{okta.WithMaxBodySize(0)}, WantErr: true},
		{Name: "user agent newline", URL: org, Token: token, Opts: []okta.Option{okta.WithUserAgent("a\r\nX-Evil: 1")}, WantErr: true},
		{Name: "nil option", URL: org, Token: token, Opts: []okta.Option{nil}, WantErr: true},
		{Name: "https", URL: org, Token: token},
		{Name: "trailing slash", URL: org + "/", Token: token},
		{Name: "http loopback", URL: "http://127.0.0.1:8080", Token: token},
		{Name: "http localhost", URL: "http://localhost:1", Token: token},
		{Name: "http ipv6 loopback", URL: "http://[::1]:9", Token: token},
	})
}

func TestClientNeverPrintsToken(t *testing.T) {
	t.Parallel()
	c, err := okta.NewClient(org, token)
	if err != nil {
		t.Fatal(err)
	}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x"} {
		got := fmt.Sprintf(verb, c)
		if strings.Contains(got, token) || strings.Contains(got, fmt.Sprintf("%x", token)) {
			t.Errorf("Sprintf(%q, client) = %q reveals the token", verb, got)
		}
	}
	if got, want := c.String(), "okta.Client(https://example.okta.com)"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	s := okta.Secret("state-token-value")
	if got := fmt.Sprintf("%v %s %#v %+v", s, s, s, struct{ T okta.Secret }{s}); strings.Contains(got, "state-token-value") {
		t.Errorf("Secret formatted as %q", got)
	}
}

func TestAuthHeaders(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		opts []okta.Option
		want string
	}{
		{"ssws", nil, "SSWS " + token},
		{"bearer", []okta.Option{okta.WithOAuthBearer()}, "Bearer " + token},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, mt, _ := newTestClient(t, append(tc.opts, okta.WithUserAgent("acme-onboarding/2"))...)
			var gotAuth, gotUA, gotAccept string
			mt.RegisterResponder("GET", org+"/api/v1/users/00u1", func(r *http.Request) (*http.Response, error) {
				gotAuth, gotUA, gotAccept = r.Header.Get("Authorization"), r.Header.Get("User-Agent"), r.Header.Get("Accept")
				return testhttp.JSONResponse(200, `{"id":"00u1","status":"ACTIVE","profile":{"login":"a@example.com"}}`), nil
			})
			if _, err := c.GetUser(t.Context(), "00u1"); err != nil {
				t.Fatal(err)
			}
			if gotAuth != tc.want {
				t.Errorf("Authorization = %q, want %q", gotAuth, tc.want)
			}
			if !strings.HasPrefix(gotUA, "acme-onboarding/2 preenroll-okta ") {
				t.Errorf("User-Agent = %q", gotUA)
			}
			if gotAccept != "application/json" {
				t.Errorf("Accept = %q", gotAccept)
			}
		})
	}
}

func TestCreateUserStaged(t *testing.T) {
	t.Parallel()
	c, mt, _ := newTestClient(t)
	var gotQuery string
	var gotBody map[string]any
	mt.RegisterResponder("POST", org+"/api/v1/users", func(r *http.Request) (*http.Response, error) {
		gotQuery = r.URL.RawQuery
		if err := json.NewDecoder(r.Body).Decode(&gotBody); err != nil {
			return nil, err
		}
		return testhttp.JSONResponse(200, `{"id":"00ub0oNGTSWTBKOLGLNR","status":"STAGED","created":"2013-07-02T21:36:25.344Z",
			"activated":null,"statusChanged":null,"lastLogin":null,"lastUpdated":"2013-07-02T21:36:25.344Z","passwordChanged":null,
			"profile":{"login":"isaac@example.org","email":"isaac@example.org","firstName":"Isaac","lastName":"Brock",
			"secondEmail":"isaac@home.example","mobilePhone":null,"costCenter":"42","nickName":{"a":1}},
			"credentials":{"provider":{"type":"OKTA","name":"OKTA"}},
			"_links":{"activate":{"href":"https://example.okta.com/api/v1/users/00ub0oNGTSWTBKOLGLNR/lifecycle/activate"}}}`), nil
	})
	u, err := c.CreateUser(t.Context(), okta.CreateUserRequest{Profile: okta.Profile{
		Login: "isaac@example.org", Email: "isaac@example.org", FirstName: "Isaac", LastName: "Brock",
		SecondEmail: "isaac@home.example",
	}})
	if err != nil {
		t.Fatal(err)
	}
	if gotQuery != "activate=false" {
		t.Errorf("query = %q, want activate=false", gotQuery)
	}
	wantBody := map[string]any{"profile": map[string]any{
		"login": "isaac@example.org", "email": "isaac@example.org", "firstName": "Isaac", "lastName": "Brock",
		"secondEmail": "isaac@home.example",
	}}
	if diff := cmp.Diff(wantBody, gotBody); diff != "" {
		t.Errorf("request body (-want +got):\n%s", diff)
	}
	want := okta.User{
		ID: "00ub0oNGTSWTBKOLGLNR", Status: okta.UserStaged,
		Created:     time.Date(2013, 7, 2, 21, 36, 25, 344e6, time.UTC),
		LastUpdated: time.Date(2013, 7, 2, 21, 36, 25, 344e6, time.UTC),
		Profile: okta.Profile{
			Login: "isaac@example.org", Email: "isaac@example.org", FirstName: "Isaac", LastName: "Brock",
			SecondEmail: "isaac@home.example",
			Extra: map[string]json.RawMessage{
				"mobilePhone": json.RawMessage(`null`), "costCenter": json.RawMessage(`"42"`), "nickName": json.RawMessage(`{"a":1}`),
			},
		},
	}
	if diff := cmp.Diff(want, u); diff != "" {
		t.Errorf("CreateUser (-want +got):\n%s", diff)
	}
	if _, err := c.CreateUser(t.Context(), okta.CreateUserRequest{}); !errors.Is(err, okta.ErrInvalidArgument) {
		t.Errorf("CreateUser(no login) = %v, want ErrInvalidArgument", err)
	}
}

func TestProfileJSON(t *testing.T) {
	t.Parallel()
	p := okta.Profile{City: "Berlin", Extra: map[string]json.RawMessage{
		"state": json.RawMessage(`null`), "city": json.RawMessage(`"ignored"`), "custom": json.RawMessage(`[1,2]`),
	}}
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(b), `{"city":"Berlin","custom":[1,2],"state":null}`; got != want {
		t.Errorf("Marshal = %s, want %s", got, want)
	}
	var back okta.Profile
	if err := json.Unmarshal([]byte(`{"city":"Berlin","state":null,"custom":[1,2]}`), &back); err != nil {
		t.Fatal(err)
	}
	want := okta.Profile{City: "Berlin", Extra: map[string]json.RawMessage{"custom": json.RawMessage(`[1,2]`)}}
	if diff := cmp.Diff(want, back); diff != "" {
		t.Errorf("Unmarshal (-want +got):\n%s", diff)
	}
	if err := json.Unmarshal([]byte(`{"city":7}`), &back); err == nil || !strings.Contains(err.Error(), `"city"`) {
		t.Errorf("Unmarshal(city 7) = %v, want an error naming city", err)
	}
	bad := okta.Profile{Extra: map[string]json.RawMessage{"x": json.RawMessage(`{`)}}
	if _, err := json.Marshal(bad); err == nil {
		t.Error("Marshal(invalid extra) = nil error")
	}
}

func TestUpdateProfilePartial(t *testing.T) {
	t.Parallel()
	c, mt, _ := newTestClient(t)
	var got string
	mt.RegisterResponder("POST", org+"/api/v1/users/00u1", func(r *http.Request) (*http.Response, error) {
		b, _ := io.ReadAll(r.Body)
		got = string(b)
		return testhttp.JSONResponse(200, `{"id":"00u1","status":"ACTIVE","profile":{"login":"a@example.com","zipCode":"10115"}}`), nil
	})
	u, err := c.UpdateProfile(t.Context(), "00u1", okta.Profile{ZipCode: "10115", Extra: map[string]json.RawMessage{"state": json.RawMessage("null")}})
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"profile":{"state":null,"zipCode":"10115"}}`; got != want {
		t.Errorf("body = %s, want %s", got, want)
	}
	if u.Profile.ZipCode != "10115" {
		t.Errorf("ZipCode = %q", u.Profile.ZipCode)
	}
}

func TestPathArgumentsValidated(t *testing.T) {
	t.Parallel()
	c, mt, _ := newTestClient(t)
	ctx := t.Context()
	calls := map[string]error{
		"GetUser empty":       func() error { _, err := c.GetUser(ctx, ""); return err }(),
		"GetUser slash":       func() error { _, err := c.GetUser(ctx, "a/b"); return err }(),
		"GetUser dotdot":      func() error { _, err := c.GetUser(ctx, ".."); return err }(),
		"ActivateUser ctl":    c.ActivateUser(ctx, "00u\x00", false),
		"AddUserToGroup":      c.AddUserToGroup(ctx, "", "00u1"),
		"MarkError":           c.MarkError(ctx, "00u1", ""),
		"DeleteEnrollment":    c.DeleteEnrollment(ctx, "00u1", "../x"),
		"SendPIN":             c.SendPIN(ctx, okta.SendPINRequest{UserID: "00u1"}),
		"InitiateFulfillment": c.InitiateFulfillment(ctx, okta.FulfillmentRequest{UserID: "00u1"}),
		"Initiate no product": c.InitiateFulfillment(ctx, okta.FulfillmentRequest{UserID: "00u1", FulfillmentData: okta.FulfillmentData{{}}}),
		"Enroll no rp":        func() error { _, err := c.Enroll(ctx, okta.EnrollRequest{UserID: "00u1"}); return err }(),
		"Enroll bad key": func() error {
			_, err := c.Enroll(ctx, okta.EnrollRequest{UserID: "00u1", RPIDs: []string{"x"}})
			return err
		}(),
		"Activate no serial":   func() error { _, err := c.Activate(ctx, okta.ActivateRequest{UserID: "00u1"}); return err }(),
		"Authenticate":         func() error { _, err := c.Authenticate(ctx, okta.AuthnRequest{}); return err }(),
		"ChallengeWebAuthn":    func() error { _, err := c.ChallengeWebAuthnFactor(ctx, "", "f"); return err }(),
		"VerifyWebAuthnFactor": func() error { _, err := c.VerifyWebAuthnFactor(ctx, "st", "f", okta.WebAuthnAssertion{}); return err }(),
	}
	for name, err := range calls {
		if !errors.Is(err, okta.ErrInvalidArgument) {
			t.Errorf("%s = %v, want ErrInvalidArgument", name, err)
		}
	}
	if n := mt.GetTotalCallCount(); n != 0 {
		t.Errorf("%d requests sent for invalid arguments, want 0", n)
	}
}

func TestAPIErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		status int
		body   string
		want   *okta.APIError
		is     error
	}{
		{
			name: "404", status: 404,
			body: `{"errorCode":"E0000007","errorSummary":"Not found: Resource not found: nobody (User)","errorLink":"E0000007","errorId":"oaeX","errorCauses":[]}`,
			want: &okta.APIError{StatusCode: 404, ErrorCode: "E0000007", ErrorSummary: "Not found: Resource not found: nobody (User)",
				ErrorLink: "E0000007", ErrorID: "oaeX", Causes: okta.Causes{}, RequestID: "reqA", Attempts: 1, Op: "get user"},
			is: okta.ErrNotFound,
		},
		{
			name: "400 causes array", status: 400,
			body: `{"errorCode":"E0000001","errorSummary":"Api validation failed: login","errorLink":"E0000001","errorId":"oaeY",
				"errorCauses":[{"errorSummary":"login: An object with this field already exists in the current organization"}]}`,
			want: &okta.APIError{StatusCode: 400, ErrorCode: "E0000001", ErrorSummary: "Api validation failed: login", ErrorLink: "E0000001",
				ErrorID: "oaeY", Causes: okta.Causes{{ErrorSummary: "login: An object with this field already exists in the current organization"}},
				RequestID: "reqA", Attempts: 1, Op: "get user"},
			is: okta.ErrValidation,
		},
		{
			name: "400 causes object", status: 400,
			body: `{"errorCode":"E0000001","errorSummary":"Api validation failed: webAuthnPreregistrationPinRequest|webAuthnPreregistrationCredentialRequest",
				"errorLink":"E0000001","errorId":"oaehk3rssXQmOWDRsaFfxe8A","errorCauses":{"errorSummary":"There was an unexpected internal error. Please try again."}}`,
			want: &okta.APIError{StatusCode: 400, ErrorCode: "E0000001",
				ErrorSummary: "Api validation failed: webAuthnPreregistrationPinRequest|webAuthnPreregistrationCredentialRequest",
				ErrorLink:    "E0000001", ErrorID: "oaehk3rssXQmOWDRsaFfxe8A",
				Causes:    okta.Causes{{ErrorSummary: "There was an unexpected internal error. Please try again."}},
				RequestID: "reqA", Attempts: 1, Op: "get user"},
			is: okta.ErrValidation,
		},
		{
			name: "401", status: 401,
			body: `{"errorCode":"E0000011","errorSummary":"Invalid token provided","errorLink":"E0000011","errorId":"oaeZ","errorCauses":[]}`,
			want: &okta.APIError{StatusCode: 401, ErrorCode: "E0000011", ErrorSummary: "Invalid token provided", ErrorLink: "E0000011",
				ErrorID: "oaeZ", Causes: okta.Causes{}, RequestID: "reqA", Attempts: 1, Op: "get user"},
			is: okta.ErrUnauthorized,
		},
		{
			name: "403", status: 403,
			body: `{"errorCode":"E0000006","errorSummary":"You do not have permission to perform the requested action","errorLink":"E0000006","errorId":"sampleNUSD_8fdkFd8fs8SDBK","errorCauses":[]}`,
			want: &okta.APIError{StatusCode: 403, ErrorCode: "E0000006", ErrorSummary: "You do not have permission to perform the requested action",
				ErrorLink: "E0000006", ErrorID: "sampleNUSD_8fdkFd8fs8SDBK", Causes: okta.Causes{}, RequestID: "reqA", Attempts: 1, Op: "get user"},
			is: okta.ErrForbidden,
		},
		{
			name: "409", status: 409, body: `{"errorCode":"E0000112","errorSummary":"Cannot update this user because they are still being activated."}`,
			want: &okta.APIError{StatusCode: 409, ErrorCode: "E0000112", ErrorSummary: "Cannot update this user because they are still being activated.",
				RequestID: "reqA", Attempts: 1, Op: "get user"},
			is: okta.ErrConflict,
		},
		{
			name: "502 html", status: 502, body: `<html>bad gateway</html>`,
			want: &okta.APIError{StatusCode: 502, ErrorSummary: "Bad Gateway", RequestID: "reqA", Attempts: 3, Op: "get user"},
			is:   okta.ErrServer,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, mt, _ := newTestClient(t)
			mt.RegisterResponder("GET", org+"/api/v1/users/x", func(*http.Request) (*http.Response, error) {
				return testhttp.JSONResponse(tc.status, tc.body, "X-Okta-Request-Id", "reqA"), nil
			})
			_, err := c.GetUser(t.Context(), "x")
			if !errors.Is(err, tc.is) {
				t.Errorf("errors.Is(%v, %v) = false", err, tc.is)
			}
			var ae *okta.APIError
			if !errors.As(err, &ae) {
				t.Fatalf("GetUser error %T is not *APIError", err)
			}
			tc.want.Body = []byte(tc.body)
			if diff := cmp.Diff(tc.want, ae); diff != "" {
				t.Errorf("APIError (-want +got):\n%s", diff)
			}
			if strings.Contains(err.Error(), token) {
				t.Errorf("error %q contains the token", err)
			}
		})
	}
}

func TestErrorBodyBounded(t *testing.T) {
	t.Parallel()
	c, mt, _ := newTestClient(t, okta.WithRetryPolicy(okta.NoRetries()))
	big := `{"errorCode":"E0000009","errorSummary":"` + strings.Repeat("x", 100_000) + `"}`
	mt.RegisterResponder("GET", org+"/api/v1/users/x", httpmock.NewStringResponder(500, big))
	_, err := c.GetUser(t.Context(), "x")
	var ae *okta.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("err = %v", err)
	}
	if len(ae.Body) > 8<<10 {
		t.Errorf("len(Body) = %d, want <= 8 KiB", len(ae.Body))
	}
	if ae.ErrorCode != "E0000009" || len(ae.ErrorSummary) > 1<<10+len("…") {
		t.Errorf("ErrorCode %q, len(ErrorSummary) %d; want E0000009 (decoded past the 8 KiB kept in Body), at most 1 KiB", ae.ErrorCode, len(ae.ErrorSummary))
	}
}

func TestResponseBodyLimit(t *testing.T) {
	t.Parallel()
	c, mt, _ := newTestClient(t, okta.WithMaxBodySize(64))
	mt.RegisterResponder("GET", org+"/api/v1/users/x", httpmock.NewStringResponder(200, `{"id":"x","profile":{"login":"`+strings.Repeat("a", 100)+`"}}`))
	if _, err := c.GetUser(t.Context(), "x"); err == nil || !strings.Contains(err.Error(), "64 bytes") {
		t.Errorf("GetUser(large body) = %v, want a size error", err)
	}
}

func TestRateLimit429Waits(t *testing.T) {
	t.Parallel()
	c, mt, clk := newTestClient(t)
	var n int
	var retryFor, retryCount string
	date := epoch.Add(-time.Hour) // the server's clock is an hour behind ours: skew must not matter
	mt.RegisterResponder("GET", org+"/api/v1/users/x", func(r *http.Request) (*http.Response, error) {
		n++
		if n == 1 {
			return testhttp.JSONResponse(429, `{"errorCode":"E0000047","errorSummary":"API call exceeded rate limit due to too many requests.","errorLink":"E0000047","errorId":"oae1","errorCauses":[]}`,
				"Date", date.Format(http.TimeFormat), "X-Rate-Limit-Limit", "600", "X-Rate-Limit-Remaining", "0",
				"X-Rate-Limit-Reset", fmt.Sprint(date.Add(30*time.Second).Unix()), "X-Okta-Request-Id", "req429"), nil
		}
		retryFor, retryCount = r.Header.Get("X-Okta-Retry-For"), r.Header.Get("X-Okta-Retry-Count")
		return testhttp.JSONResponse(200, `{"id":"x","status":"ACTIVE","profile":{}}`), nil
	})
	if _, err := c.GetUser(t.Context(), "x"); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]time.Duration{31 * time.Second}, clk.Sleeps()); diff != "" {
		t.Errorf("waits (-want +got):\n%s", diff)
	}
	if retryFor != "req429" || retryCount != "1" {
		t.Errorf("retry headers = %q, %q; want req429, 1", retryFor, retryCount)
	}
}

// RateLimitJitter spreads 429 waits over [reset+1s, reset+1s+jitter).
func TestRateLimitJitter(t *testing.T) {
	t.Parallel()
	seen := map[time.Duration]bool{}
	for range 20 {
		c, mt, clk := newTestClient(t, okta.WithRetryPolicy(okta.RetryPolicy{MaxRetries: 1, RateLimitJitter: 2 * time.Second}))
		mt.RegisterResponder("GET", org+"/api/v1/users/x", httpmock.ResponderFromMultipleResponses([]*http.Response{
			testhttp.JSONResponse(429, `{"errorCode":"E0000047"}`, "Date", epoch.Format(http.TimeFormat),
				"X-Rate-Limit-Limit", "0", "X-Rate-Limit-Remaining", "0", "X-Rate-Limit-Reset", fmt.Sprint(epoch.Add(30*time.Second).Unix())),
			testhttp.JSONResponse(200, `{"id":"x","profile":{}}`),
		}))
		if _, err := c.GetUser(t.Context(), "x"); err != nil {
			t.Fatal(err)
		}
		sl := clk.Sleeps()
		if len(sl) != 1 || sl[0] < 31*time.Second || sl[0] >= 33*time.Second {
			t.Fatalf("waits = %v, want one in [31s, 33s)", sl)
		}
		seen[sl[0]] = true
	}
	if len(seen) < 2 {
		t.Errorf("20 waits all equal %v; want jitter", seen)
	}
	if _, err := okta.NewClient(org, token, okta.WithRetryPolicy(okta.RetryPolicy{RateLimitJitter: -1})); !errors.Is(err, okta.ErrInvalidArgument) {
		t.Errorf("negative RateLimitJitter: %v, want ErrInvalidArgument", err)
	}
}

func TestRateLimit429NotRetriedPastLimits(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		policy    okta.RetryPolicy
		resetIn   time.Duration
		wantCalls int
		wantWaits int
	}{
		{"no retries", okta.NoRetries(), 10 * time.Second, 1, 0},
		{"reset too far", okta.RetryPolicy{MaxRetries: 3, MaxRateLimitWait: 20 * time.Second}, 50 * time.Second, 1, 0},
		{"retries exhausted", okta.RetryPolicy{MaxRetries: 2}, 5 * time.Second, 3, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, mt, clk := newTestClient(t, okta.WithRetryPolicy(tc.policy))
			mt.RegisterResponder("POST", org+"/webauthn-registration/api/v1/send-pin", func(*http.Request) (*http.Response, error) {
				now := clk.Now()
				return testhttp.JSONResponse(429, `{"errorCode":"E0000047","errorSummary":"API call exceeded rate limit due to too many requests.","errorLink":"E0000047","errorId":"oae1","errorCauses":[]}`,
					"Date", now.Format(http.TimeFormat), "X-Rate-Limit-Limit", "10", "X-Rate-Limit-Remaining", "0",
					"X-Rate-Limit-Reset", fmt.Sprint(now.Add(tc.resetIn).Unix())), nil
			})
			err := c.SendPIN(t.Context(), okta.SendPINRequest{UserID: "00u1", AuthenticatorEnrollmentID: "fwf1"})
			if !errors.Is(err, okta.ErrRateLimited) {
				t.Fatalf("SendPIN = %v, want ErrRateLimited", err)
			}
			var ae *okta.APIError
			if !errors.As(err, &ae) || ae.RetryAfter != tc.resetIn+time.Second || ae.Attempts != tc.wantCalls {
				t.Errorf("APIError = %+v, want RetryAfter %v, Attempts %d", ae, tc.resetIn+time.Second, tc.wantCalls)
			}
			if got := mt.GetTotalCallCount(); got != tc.wantCalls {
				t.Errorf("calls = %d, want %d", got, tc.wantCalls)
			}
			if got := len(clk.Sleeps()); got != tc.wantWaits {
				t.Errorf("waits = %d, want %d", got, tc.wantWaits)
			}
		})
	}
}

func TestServerErrorsRetriedOnlyWhenIdempotent(t *testing.T) {
	t.Parallel()
	c, mt, clk := newTestClient(t)
	mt.RegisterResponder("GET", org+"/webauthn-registration/api/v1/users/00u1/enrollments",
		httpmock.ResponderFromMultipleResponses([]*http.Response{
			testhttp.JSONResponse(503, `{"errorCode":"E0000010","errorSummary":"Service is in read only mode"}`),
			testhttp.JSONResponse(500, `{"errorCode":"E0000009","errorSummary":"Internal Server Error"}`),
			testhttp.JSONResponse(200, `[]`),
		}))
	mt.RegisterResponder("POST", org+"/webauthn-registration/api/v1/enroll", httpmock.NewStringResponder(500, `{"errorCode":"E0000009"}`))
	if _, err := c.ListEnrollments(t.Context(), "00u1"); err != nil {
		t.Fatalf("ListEnrollments = %v, want success after two retries", err)
	}
	if diff := cmp.Diff([]time.Duration{time.Second, 2 * time.Second}, clk.Sleeps()); diff != "" {
		t.Errorf("backoff (-want +got):\n%s", diff)
	}
	tk, err := webauthn.GenerateKey(nil, "k", webauthn.UseEncryption)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Enroll(t.Context(), okta.EnrollRequest{UserID: "00u1", RPIDs: []string{"example.okta.com"}, TransportKey: tk.Public()})
	if !errors.Is(err, okta.ErrServer) {
		t.Errorf("Enroll = %v, want ErrServer", err)
	}
	if got := mt.GetCallCountInfo()["POST "+org+"/webauthn-registration/api/v1/enroll"]; got != 1 {
		t.Errorf("enroll sent %d times, want 1 (not idempotent)", got)
	}
}

func TestTransportErrorRetried(t *testing.T) {
	t.Parallel()
	c, mt, _ := newTestClient(t)
	mt.RegisterResponder("GET", org+"/api/v1/users/x", httpmock.ResponderFromMultipleResponses(
		[]*http.Response{testhttp.JSONResponse(200, `{"id":"x","profile":{}}`)}))
	var n int
	mt.RegisterResponder("GET", org+"/api/v1/users/y", func(*http.Request) (*http.Response, error) {
		n++
		if n < 3 {
			return nil, io.ErrUnexpectedEOF
		}
		return testhttp.JSONResponse(200, `{"id":"y","profile":{}}`), nil
	})
	u, err := c.GetUser(t.Context(), "y")
	if err != nil || u.ID != "y" || n != 3 {
		t.Errorf("GetUser = %+v, %v after %d attempts; want y after 3", u, err, n)
	}
}

func TestThrottleAhead(t *testing.T) {
	t.Parallel()
	c, mt, clk := newTestClient(t, okta.WithRetryPolicy(okta.RetryPolicy{Reserve: 1}))
	mt.RegisterResponder("GET", `=~^https://example\.okta\.com/api/v1/users/`, func(*http.Request) (*http.Response, error) {
		now := clk.Now()
		return testhttp.JSONResponse(200, `{"id":"x","profile":{}}`, "Date", now.Format(http.TimeFormat),
			"X-Rate-Limit-Limit", "600", "X-Rate-Limit-Remaining", "1", "X-Rate-Limit-Reset", fmt.Sprint(now.Add(12*time.Second).Unix())), nil
	})
	for _, id := range []string{"a", "b"} {
		if _, err := c.GetUser(t.Context(), id); err != nil {
			t.Fatal(err)
		}
	}
	if diff := cmp.Diff([]time.Duration{12 * time.Second}, clk.Sleeps()); diff != "" {
		t.Errorf("throttle waits (-want +got):\n%s", diff)
	}
	rl, ok := c.RateLimit("GET /api/v1/users/{id}")
	if !ok || rl.Limit != 600 || rl.Remaining != 1 {
		t.Errorf("RateLimit = %+v, %v", rl, ok)
	}
}

func TestWaitHonoursContext(t *testing.T) {
	t.Parallel()
	mt := httpmock.NewMockTransport()
	c, err := okta.NewClient(org, token, okta.WithHTTPClient(&http.Client{Transport: mt})) // real clock
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	mt.RegisterResponder("GET", org+"/api/v1/users/x", func(*http.Request) (*http.Response, error) {
		cancel() // the wait for the 60 s reset must end with the context, not with the timer
		now := time.Now()
		return testhttp.JSONResponse(429, `{"errorCode":"E0000047"}`, "Date", now.Format(http.TimeFormat),
			"X-Rate-Limit-Reset", fmt.Sprint(now.Add(60*time.Second).Unix())), nil
	})
	start := time.Now()
	_, err = c.GetUser(ctx, "x")
	if !errors.Is(err, context.Canceled) {
		t.Errorf("GetUser = %v, want context.Canceled", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("GetUser took %v after cancel", d)
	}
}

func TestListGroupMembersPaginates(t *testing.T) {
	t.Parallel()
	c, mt, _ := newTestClient(t)
	mt.RegisterResponderWithQuery("GET", org+"/api/v1/groups/00g1/users", "limit=200", func(*http.Request) (*http.Response, error) {
		return testhttp.JSONResponse(200, `[{"id":"00u1","profile":{"login":"a"}},{"id":"00u2","profile":{"login":"b"}}]`,
			"Link", `<`+org+`/api/v1/groups/00g1/users?limit=200>; rel="self", <`+org+`/api/v1/groups/00g1/users?after=00u2&limit=200>; rel="next"`), nil
	})
	mt.RegisterResponderWithQuery("GET", org+"/api/v1/groups/00g1/users", "after=00u2&limit=200", func(*http.Request) (*http.Response, error) {
		return testhttp.JSONResponse(200, `[{"id":"00u3","profile":{"login":"c"}}]`, "Link", `<`+org+`/api/v1/groups/00g1/users?after=00u2&limit=200>; rel="self"`), nil
	})
	var got []string
	for u, err := range c.ListGroupMembers(t.Context(), "00g1") {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, u.ID)
	}
	if diff := cmp.Diff([]string{"00u1", "00u2", "00u3"}, got); diff != "" {
		t.Errorf("members (-want +got):\n%s", diff)
	}
	// Breaking early fetches no further page.
	mt.ZeroCallCounters()
	for range c.ListGroupMembers(t.Context(), "00g1") {
		break
	}
	if n := mt.GetTotalCallCount(); n != 1 {
		t.Errorf("early break made %d requests, want 1", n)
	}
}

func TestListGroupMembersRefusesForeignNextLink(t *testing.T) {
	t.Parallel()
	c, mt, _ := newTestClient(t)
	mt.RegisterResponder("GET", org+"/api/v1/groups/00g1/users", func(*http.Request) (*http.Response, error) {
		return testhttp.JSONResponse(200, `[]`, "Link", `<https://evil.example/steal>; rel="next"`), nil
	})
	var lastErr error
	for _, err := range c.ListGroupMembers(t.Context(), "00g1") {
		lastErr = err
	}
	if lastErr == nil || !strings.Contains(lastErr.Error(), "outside the org") {
		t.Errorf("error = %v, want outside-the-org error", lastErr)
	}
}

func TestFulfillmentDataForms(t *testing.T) {
	t.Parallel()
	want := okta.FulfillmentData{{ProductID: "55", CustomizationID: "RXJN83", InventoryProductID: "106"}}
	for _, in := range []string{
		`[{"productId":"55","customizationId":"RXJN83","inventoryProductId":"106"}]`,
		`{"productId":"55","customizationId":"RXJN83","inventoryProductId":"106"}`,
	} {
		var got okta.FulfillmentData
		if err := json.Unmarshal([]byte(in), &got); err != nil {
			t.Fatalf("Unmarshal(%s) = %v", in, err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("Unmarshal(%s) (-want +got):\n%s", in, diff)
		}
	}
	c, mt, _ := newTestClient(t)
	var body string
	mt.RegisterResponder("POST", org+"/webauthn-registration/api/v1/initiate-fulfillment-request", func(r *http.Request) (*http.Response, error) {
		b, _ := io.ReadAll(r.Body)
		body = string(b)
		return httpmock.NewStringResponse(204, ""), nil
	})
	if err := c.InitiateFulfillment(t.Context(), okta.FulfillmentRequest{UserID: "00us2hPODQncCkxef0g3", FulfillmentData: want}); err != nil {
		t.Fatal(err)
	}
	wantBody := `{"userId":"00us2hPODQncCkxef0g3","fulfillmentProvider":"yubico","fulfillmentData":[{"productId":"55","inventoryProductId":"106","customizationId":"RXJN83"}]}`
	if body != wantBody {
		t.Errorf("body = %s\nwant   %s", body, wantBody)
	}
}

func TestListEnrollmentsTolerant(t *testing.T) {
	t.Parallel()
	c, mt, _ := newTestClient(t)
	mt.RegisterResponder("GET", org+"/webauthn-registration/api/v1/users/00u15s1KDETTQMQYABRL/enrollments", httpmock.NewStringResponder(200,
		`[{"id":"fwf23789dfs9asdf782","factorType":"webauthn","provider":"FIDO","vendorName":"FIDO","fulfillmentProvider":"yubico","status":"ACTIVE",
		  "created":"2018-05-24T20:43:19.000Z","lastUpdated":"2018-05-24T21:43:32.000Z",
		  "profile":{"credentialId":"l3Br0n","authenticatorName":"YubiKey 5C","presetPinAvailable":true,"newThing":1},
		  "_links":{"self":{"href":"https://example.okta.com/x","hints":{"allow":["DELETE"]}}}},
		 {"id":"fwf2","status":"SOMETHING_NEW","surprise":{"x":[1]}}]`))
	got, err := c.ListEnrollments(t.Context(), "00u15s1KDETTQMQYABRL")
	if err != nil {
		t.Fatal(err)
	}
	want := []okta.Enrollment{
		{ID: "fwf23789dfs9asdf782", FactorType: "webauthn", Provider: "FIDO", VendorName: "FIDO", FulfillmentProvider: "yubico",
			Status: okta.StatusActive, Created: time.Date(2018, 5, 24, 20, 43, 19, 0, time.UTC), LastUpdated: time.Date(2018, 5, 24, 21, 43, 32, 0, time.UTC),
			Profile: okta.EnrollmentProfile{CredentialID: "l3Br0n", AuthenticatorName: "YubiKey 5C", PresetPINAvailable: true}},
		{ID: "fwf2", Status: "SOMETHING_NEW"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ListEnrollments (-want +got):\n%s", diff)
	}
	if got[1].Status.Known() || !got[0].Status.Known() {
		t.Errorf("Known() wrong for %q/%q", got[0].Status, got[1].Status)
	}
}

func TestMarkErrorSendsNoBody(t *testing.T) {
	t.Parallel()
	c, mt, _ := newTestClient(t)
	var cl int64 = -1
	var ct string
	mt.RegisterResponder("POST", org+"/webauthn-registration/api/v1/users/00u1/enrollments/fwf1/mark-error", func(r *http.Request) (*http.Response, error) {
		cl, ct = r.ContentLength, r.Header.Get("Content-Type")
		return httpmock.NewStringResponse(204, ""), nil
	})
	if err := c.MarkError(t.Context(), "00u1", "fwf1"); err != nil {
		t.Fatal(err)
	}
	if cl != 0 || ct != "" {
		t.Errorf("ContentLength = %d, Content-Type = %q; want 0 and none", cl, ct)
	}
}

func TestAuthnFlowWire(t *testing.T) {
	t.Parallel()
	c, mt, _ := newTestClient(t)
	var authHeaders []string
	var verifyBody map[string]string
	mt.RegisterResponder("POST", org+"/api/v1/authn", func(r *http.Request) (*http.Response, error) {
		authHeaders = append(authHeaders, r.Header.Get("Authorization"))
		return testhttp.JSONResponse(200, `{"stateToken":"st1","expiresAt":"2026-03-01T12:05:00.000Z","status":"MFA_REQUIRED",
			"_embedded":{"user":{"id":"00u1","profile":{"login":"a@example.com"}},
			"factors":[{"id":"fwf1","factorType":"webauthn","provider":"FIDO","vendorName":"FIDO","profile":{"credentialId":"Y3JlZA","authenticatorName":"YubiKey 5 NFC"}},
			           {"id":"sms1","factorType":"sms","provider":"OKTA"}]}}`), nil
	})
	var n int
	mt.RegisterResponder("POST", org+"/api/v1/authn/factors/fwf1/verify", func(r *http.Request) (*http.Response, error) {
		n++
		authHeaders = append(authHeaders, r.Header.Get("Authorization"))
		if n == 1 {
			return testhttp.JSONResponse(200, `{"stateToken":"st1","status":"MFA_CHALLENGE","factorResult":"CHALLENGE",
				"_embedded":{"factor":{"id":"fwf1","factorType":"webauthn","provider":"FIDO","profile":{"credentialId":"Y3JlZA"},
				"_embedded":{"challenge":{"challenge":"Y2hhbGxlbmdl","userVerification":"required","extensions":{}}}}}}`), nil
		}
		if err := json.NewDecoder(r.Body).Decode(&verifyBody); err != nil {
			return nil, err
		}
		return testhttp.JSONResponse(200, `{"status":"SUCCESS","sessionToken":"sess1","_embedded":{"user":{"id":"00u1","profile":{"login":"a@example.com"}}}}`), nil
	})
	tx, err := c.Authenticate(t.Context(), okta.AuthnRequest{Username: "a@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	fs := tx.WebAuthnFactors()
	if tx.Status != okta.AuthnMFARequired || len(fs) != 1 || fs[0].ID != "fwf1" || tx.User.ID != "00u1" {
		t.Fatalf("Authenticate = %+v", tx)
	}
	ch, err := c.ChallengeWebAuthnFactor(t.Context(), tx.StateToken, fs[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	opts, err := ch.WebAuthnRequestOptions("example.okta.com")
	if err != nil {
		t.Fatal(err)
	}
	wantOpts := `{"publicKey":{"challenge":"Y2hhbGxlbmdl","rpId":"example.okta.com","allowCredentials":[{"type":"public-key","id":"Y3JlZA"}],"userVerification":"required"}}`
	if string(opts) != wantOpts {
		t.Errorf("options = %s\nwant      %s", opts, wantOpts)
	}
	if def, err := c.WebAuthnRequestOptions(ch, ""); err != nil || !strings.Contains(string(def), `"rpId":"example.okta.com"`) {
		t.Errorf("default RP ID options = %s, %v", def, err)
	}
	a, err := okta.ParseWebAuthnAssertion([]byte(`{"id":"Y3JlZA","rawId":"Y3JlZA","type":"public-key",
		"response":{"clientDataJSON":"eyJ0eXBlIjoid2ViYXV0aG4uZ2V0In0","authenticatorData":"AQID","signature":"BAUG","userHandle":"dQ"}}`))
	if err != nil {
		t.Fatal(err)
	}
	done, err := c.VerifyWebAuthnFactor(t.Context(), ch.StateToken, "fwf1", a)
	if err != nil {
		t.Fatal(err)
	}
	if done.Status != okta.AuthnSuccess || done.SessionToken.Reveal() != "sess1" {
		t.Errorf("Verify = %+v", done)
	}
	wantBody := map[string]string{"stateToken": "st1", "clientData": "eyJ0eXBlIjoid2ViYXV0aG4uZ2V0In0=", "authenticatorData": "AQID", "signatureData": "BAUG"}
	if diff := cmp.Diff(wantBody, verifyBody); diff != "" {
		t.Errorf("verify body (-want +got):\n%s", diff)
	}
	for _, h := range authHeaders {
		if h != "" {
			t.Errorf("Authn request carried Authorization %q; the API token must not be sent", h)
		}
	}
	if _, err := (okta.AuthnTransaction{}).WebAuthnRequestOptions("x"); err == nil {
		t.Error("WebAuthnRequestOptions without challenge = nil error")
	}
}

func TestParseWebAuthnAssertionErrors(t *testing.T) {
	t.Parallel()
	for _, in := range []string{
		`{`,
		`{"type":"password"}`,
		`{"type":"public-key","response":{"clientDataJSON":"","authenticatorData":"AQID","signature":"AQ"}}`,
		`{"type":"public-key","response":{"clientDataJSON":"e30","authenticatorData":"!!","signature":"AQ"}}`,
	} {
		if _, err := okta.ParseWebAuthnAssertion([]byte(in)); err == nil {
			t.Errorf("ParseWebAuthnAssertion(%s) = nil error", in)
		}
	}
}

// TestThrottleRefusesLongWait: a wait for the bucket's reset (40 s away)
// longer than MaxRateLimitWait, or one on the wall clock that would outlast
// the caller's deadline, is refused at once with ErrRateLimited, before
// sending, instead of sleeping. On a fake clock, whose waits take no wall
// time, the same deadline refuses nothing: the call waits for the reset.
func TestThrottleRefusesLongWait(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name        string
		wall        bool          // the wall clock instead of the test clock
		maxWait     time.Duration // RetryPolicy.MaxRateLimitWait
		deadline    time.Duration // the call's timeout; 0 for none
		wantRefused bool
	}{
		{"longer than MaxRateLimitWait", false, 10 * time.Second, 0, true},
		{"past the call's deadline on the wall clock", true, time.Minute, 5 * time.Second, true},
		{"past the call's deadline on a fake clock", false, time.Minute, 5 * time.Second, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, mt, clk := newTestClient(t, okta.WithRetryPolicy(okta.RetryPolicy{Reserve: 0, MaxRateLimitWait: tc.maxWait}))
			now := clk.Now
			if tc.wall {
				var err error
				if c, err = okta.NewClient(org, token, okta.WithHTTPClient(&http.Client{Transport: mt}),
					okta.WithRetryPolicy(okta.RetryPolicy{Reserve: 0, MaxRateLimitWait: tc.maxWait})); err != nil {
					t.Fatal(err)
				}
				now = time.Now
			}
			mt.RegisterResponder("GET", org+"/api/v1/users/a", func(*http.Request) (*http.Response, error) {
				now := now()
				return testhttp.JSONResponse(200, `{"id":"a","profile":{}}`, "Date", now.Format(http.TimeFormat),
					"X-Rate-Limit-Limit", "10", "X-Rate-Limit-Remaining", "0", "X-Rate-Limit-Reset", fmt.Sprint(now.Add(40*time.Second).Unix())), nil
			})
			if _, err := c.GetUser(t.Context(), "a"); err != nil {
				t.Fatal(err)
			}
			ctx := t.Context()
			if tc.deadline > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tc.deadline)
				defer cancel()
			}
			_, err := c.GetUser(ctx, "a")
			if !tc.wantRefused {
				if err != nil {
					t.Fatal(err)
				}
				if got := clk.Sleeps(); len(got) != 1 || got[0] < 39*time.Second {
					t.Errorf("waits %v, want one of about 40s", got)
				}
				return
			}
			if !errors.Is(err, okta.ErrRateLimited) {
				t.Fatalf("GetUser with an exhausted bucket = %v, want ErrRateLimited", err)
			}
			if n := mt.GetTotalCallCount(); n != 1 {
				t.Errorf("%d requests sent, want 1 (the second is refused before sending)", n)
			}
			// (The wall-clock client does not use clk: that case is
			// checked by the single request and ErrRateLimited above.)
			if !tc.wall && len(clk.Sleeps()) != 0 {
				t.Errorf("waited %v, want no wait", clk.Sleeps())
			}
		})
	}
}
