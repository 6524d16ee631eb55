package oktatest_test

import (
	"bufio"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/preenroll/preenroll/internal/testhttp"
	"github.com/preenroll/preenroll/okta"
	"github.com/preenroll/preenroll/okta/oktatest"
)

type x509Cert = x509.Certificate

func simulatorNow() time.Time { return time.Now() }

var cmpAPIError = cmpopts.IgnoreFields(okta.APIError{}, "ErrorID", "RequestID", "Body", "Attempts", "Op", "RetryAfter")

var errorIDRE = regexp.MustCompile(`^oae[0-9A-Za-z]{22}$`)

// raw sends a request without the okta client.
func raw(t *testing.T, srv *oktatest.Server, method, path, auth, body string) (int, http.Header, []byte) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, srv.URL()+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, b := testhttp.Do(t, req)
	return resp.StatusCode, resp.Header, b
}

// checkErrorBody compares an Okta error body member by member; errorId is
// checked for shape only.
func checkErrorBody(t *testing.T, got []byte, code, summary string, causes ...string) {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(got, &m); err != nil {
		t.Fatalf("error body %s: %v", got, err)
	}
	id, _ := m["errorId"].(string)
	if !errorIDRE.MatchString(id) {
		t.Errorf("errorId = %q", id)
	}
	delete(m, "errorId")
	cs := []any{}
	for _, c := range causes {
		cs = append(cs, map[string]any{"errorSummary": c})
	}
	want := map[string]any{"errorCode": code, "errorSummary": summary, "errorLink": code, "errorCauses": cs}
	if diff := cmp.Diff(want, m); diff != "" {
		t.Errorf("error body (-want +got):\n%s", diff)
	}
}

// newServerClient starts a fake with opts and returns it with a client
// authenticated by its API token.
func newServerClient(t *testing.T, opts ...oktatest.Option) (*oktatest.Server, *okta.Client) {
	t.Helper()
	srv := oktatest.NewServer(t, opts...)
	c, err := srv.Client()
	if err != nil {
		t.Fatal(err)
	}
	return srv, c
}

func seedUser(t *testing.T, srv *oktatest.Server, login string, status okta.UserStatus) okta.User {
	t.Helper()
	u, err := srv.AddUser(okta.Profile{Login: login, Email: login, FirstName: "First", LastName: "Last"}, status)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func TestErrorPaths(t *testing.T) {
	t.Parallel()
	srv := oktatest.NewServer(t)
	srv.AddToken("readonly-token", "okta.users.read")
	u := seedUser(t, srv, "dup@example.com", okta.UserActive)
	ssws := "SSWS " + srv.Token()
	coord := strings.Repeat("A", 64) // 48 bytes, base64url: a coordinate's size
	tests := []struct {
		name, method, path, auth, body string
		status                         int
		code, summary                  string
		causes                         []string
	}{
		{"no token", "GET", "/api/v1/users/" + u.ID, "", "", 401, "E0000011", "Invalid token provided", nil},
		{"unknown token", "GET", "/api/v1/users/" + u.ID, "SSWS nope", "", 401, "E0000011", "Invalid token provided", nil},
		{"basic scheme", "GET", "/api/v1/users/" + u.ID, "Basic " + srv.Token(), "", 401, "E0000011", "Invalid token provided", nil},
		{"bearer unknown", "GET", "/webauthn-registration/api/v1/users/" + u.ID + "/enrollments", "Bearer x", "", 401, "E0000011", "Invalid token provided", nil},
		{"read-only token writes", "POST", "/webauthn-registration/api/v1/send-pin", "SSWS readonly-token", `{"userId":"x"}`, 403, "E0000006", "You do not have permission to perform the requested action", nil},
		{"unknown user", "GET", "/api/v1/users/nobody", ssws, "", 404, "E0000007", "Not found: Resource not found: nobody (User)", nil},
		{"unknown user enrollments", "GET", "/webauthn-registration/api/v1/users/00uNope/enrollments", ssws, "", 404, "E0000007", "Not found: Resource not found: 00uNope (User)", nil},
		{"unknown enrollment", "POST", "/webauthn-registration/api/v1/users/" + u.ID + "/enrollments/fwfNope/mark-error", ssws, "{}", 404, "E0000007", "Not found: Resource not found: fwfNope (UserFactor)", nil},
		{"unknown group", "PUT", "/api/v1/groups/00gNope/users/" + u.ID, ssws, "{}", 404, "E0000007", "Not found: Resource not found: 00gNope (Group)", nil},
		{"duplicate login", "POST", "/api/v1/users?activate=false", ssws,
			`{"profile":{"login":"dup@example.com","email":"dup@example.com","firstName":"A","lastName":"B"}}`,
			400, "E0000001", "Api validation failed: login", []string{"login: An object with this field already exists in the current organization"}},
		{"profile causes", "POST", "/api/v1/users?activate=false", ssws, `{"profile":{"login":"x@example.com","email":"not-an-email","countryCode":"USA"}}`,
			400, "E0000001", "Api validation failed: firstName",
			[]string{"firstName: The field cannot be left blank", "lastName: The field cannot be left blank", "email: Does not match required pattern", "countryCode: The field is too long"}},
		{"malformed body", "POST", "/webauthn-registration/api/v1/enroll", ssws, `{"userId":`, 400, "E0000003", "The request body was not well-formed.", nil},
		{"wrong provider", "POST", "/webauthn-registration/api/v1/initiate-fulfillment-request", ssws,
			`{"userId":"` + u.ID + `","fulfillmentProvider":"acme","fulfillmentData":[{"productId":"1"}]}`,
			400, "E0000001", "Api validation failed: fulfillmentProvider", []string{`fulfillmentProvider: Invalid value "acme"; the only supported provider is "yubico"`}},
		{"transport key missing member", "POST", "/webauthn-registration/api/v1/enroll", ssws,
			`{"userId":"` + u.ID + `","fulfillmentProvider":"yubico","enrollmentRpIds":["example.okta.com"],"yubicoTransportKeyJWK":{"kty":"EC","crv":"P-384","kid":"k","use":"enc","x":"` + coord + `"}}`,
			400, "E0000001", "Api validation failed: yubicoTransportKeyJWK", []string{`yubicoTransportKeyJWK: jwk "k": y: missing`}},
		{"transport key wrong curve", "POST", "/webauthn-registration/api/v1/enroll", ssws,
			`{"userId":"` + u.ID + `","fulfillmentProvider":"yubico","enrollmentRpIds":["example.okta.com"],"yubicoTransportKeyJWK":{"kty":"EC","crv":"P-256","kid":"k","use":"enc","x":"AA","y":"AA"}}`,
			400, "E0000001", "Api validation failed: yubicoTransportKeyJWK", []string{`yubicoTransportKeyJWK: jwk "k": crv: "P-256" not supported, want "P-384"`}},
		{"signing key short coordinate", "POST", "/webauthn-registration/api/v1/activate", ssws,
			`{"userId":"` + u.ID + `","fulfillmentProvider":"yubico","serial":"1","version":"5.7.1","pinResponseJwe":"p","credResponses":[{"authenticatorEnrollmentId":"e","credResponseJwe":"c"}],` +
				`"yubicoSigningJwks":[{"kty":"EC","crv":"P-384","kid":"s1","use":"sig","x":"AA","y":"` + coord + `"}]}`,
			400, "E0000001", "Api validation failed: yubicoSigningJwks", []string{`yubicoSigningJwks: jwk "s1": x: 1 bytes, want 48`}},
		{"signing key not a JWK", "POST", "/webauthn-registration/api/v1/activate", ssws,
			`{"userId":"` + u.ID + `","fulfillmentProvider":"yubico","serial":"1","version":"5.7.1","pinResponseJwe":"p","credResponses":[{"authenticatorEnrollmentId":"e","credResponseJwe":"c"}],` +
				`"yubicoSigningJwks":[{"kty":"EC","kid":7}]}`,
			400, "E0000001", "Api validation failed: yubicoSigningJwks", []string{"yubicoSigningJwks: Does not match required pattern"}},
		{"profile attribute not a string", "POST", "/api/v1/users/" + u.ID, ssws, `{"profile":{"firstName":5}}`,
			400, "E0000001", "Api validation failed: firstName", []string{"firstName: Does not match required pattern"}},
		{"profile extra attribute null, named one an object", "POST", "/api/v1/users/" + u.ID, ssws, `{"profile":{"nickName":null,"city":{"a":1}}}`,
			400, "E0000001", "Api validation failed: city", []string{"city: Does not match required pattern"}},
		{"send-pin unknown enrollment", "POST", "/webauthn-registration/api/v1/send-pin", ssws,
			`{"userId":"` + u.ID + `","fulfillmentProvider":"yubico","authenticatorEnrollmentId":"fwfNope"}`,
			404, "E0000007", "Not found: Resource not found: fwfNope (UserFactor)", nil},
		{"already active", "POST", "/api/v1/users/" + u.ID + "/lifecycle/activate?sendEmail=false", ssws, "{}", 403, "E0000016", "Activation failed because the user is already active", nil},
		{"wrong method", "PATCH", "/api/v1/users/" + u.ID, ssws, "", 405, "E0000022", "The endpoint does not support the provided HTTP method", nil},
		{"authn staged or unknown", "POST", "/api/v1/authn", "", `{"username":"ghost@example.com"}`, 401, "E0000004", "Authentication failed", nil},
		{"authn bad state token", "POST", "/api/v1/authn/factors/fwf1/verify", "", `{"stateToken":"nope"}`, 401, "E0000011", "Invalid token provided", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, hdr, body := raw(t, srv, tc.method, tc.path, tc.auth, tc.body)
			if status != tc.status {
				t.Fatalf("status = %d, want %d; body %s", status, tc.status, body)
			}
			checkErrorBody(t, body, tc.code, tc.summary, tc.causes...)
			if hdr.Get("Content-Type") != "application/json" || hdr.Get("X-Okta-Request-Id") == "" || hdr.Get("Date") == "" {
				t.Errorf("headers = %v", hdr)
			}
		})
	}
}

func TestRateLimitBuckets(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 5, 4, 10, 0, 30, 0, time.UTC)
	srv := oktatest.NewServer(t, oktatest.WithNow(start), oktatest.WithRateLimit("/api/v1/users", 2))
	u := seedUser(t, srv, "rl@example.com", okta.UserActive)
	ssws := "SSWS " + srv.Token()
	for i, wantRemaining := range []string{"1", "0"} {
		status, hdr, _ := raw(t, srv, "GET", "/api/v1/users/"+u.ID, ssws, "")
		if status != 200 || hdr.Get("X-Rate-Limit-Limit") != "2" || hdr.Get("X-Rate-Limit-Remaining") != wantRemaining {
			t.Fatalf("request %d: %d %v", i, status, hdr)
		}
	}
	status, hdr, body := raw(t, srv, "GET", "/api/v1/users/"+u.ID, ssws, "")
	if status != 429 {
		t.Fatalf("third request = %d, want 429", status)
	}
	checkErrorBody(t, body, "E0000047", "API call exceeded rate limit due to too many requests.")
	wantHdr := map[string]string{
		"X-Rate-Limit-Limit": "2", "X-Rate-Limit-Remaining": "0",
		"X-Rate-Limit-Reset": fmt.Sprint(start.Add(time.Minute).Unix()), "Date": "Mon, 04 May 2026 10:00:30 GMT",
	}
	for k, v := range wantHdr {
		if hdr.Get(k) != v {
			t.Errorf("%s = %q, want %q", k, hdr.Get(k), v)
		}
	}
	// Another bucket is unaffected; .well-known is never limited.
	if status, hdr, _ := raw(t, srv, "GET", "/webauthn-registration/api/v1/users/"+u.ID+"/enrollments", ssws, ""); status != 200 || hdr.Get("X-Rate-Limit-Limit") != "600" {
		t.Errorf("enrollments bucket: %d %v", status, hdr)
	}
	if status, hdr, _ := raw(t, srv, "GET", "/.well-known/openid-configuration", "", ""); status != 200 || hdr.Get("X-Rate-Limit-Limit") != "" {
		t.Errorf("well-known: %d %v", status, hdr)
	}
	// The window resets 60 s after it started.
	must(t, srv.Advance(time.Minute))
	if status, hdr, _ := raw(t, srv, "GET", "/api/v1/users/"+u.ID, ssws, ""); status != 200 || hdr.Get("X-Rate-Limit-Remaining") != "1" {
		t.Errorf("after reset: %d %v", status, hdr)
	}
}

func TestClientWaitsOutRateLimit(t *testing.T) {
	t.Parallel()
	srv := oktatest.NewServer(t, oktatest.WithRateLimit("/api/v1/users", 1))
	u := seedUser(t, srv, "wait@example.com", okta.UserActive)
	c, err := srv.Client(okta.WithRetryPolicy(okta.RetryPolicy{MaxRetries: 2, Reserve: -1}))
	if err != nil {
		t.Fatal(err)
	}
	start := srv.Now()
	for range 2 {
		if _, err := c.GetUser(t.Context(), u.ID); err != nil {
			t.Fatalf("GetUser: %v", err)
		}
	}
	log := srv.RequestLog()
	if len(log) != 3 || log[1].Status != 429 || log[2].Status != 200 {
		t.Fatalf("log = %+v", log)
	}
	if log[2].RetryFor != log[1].RequestID || log[2].RetryCount != "1" {
		t.Errorf("retry headers = %q %q, want %q 1", log[2].RetryFor, log[2].RetryCount, log[1].RequestID)
	}
	if waited := srv.Now().Sub(start); waited != 61*time.Second {
		t.Errorf("client waited %v of fake time, want 61s (reset + 1s)", waited)
	}
	// With the default policy the client throttles ahead instead of hitting 429.
	srv2 := oktatest.NewServer(t, oktatest.WithRateLimit("/api/v1/users", 2))
	u2 := seedUser(t, srv2, "ahead@example.com", okta.UserActive)
	c2, err := srv2.Client()
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if _, err := c2.GetUser(t.Context(), u2.ID); err != nil {
			t.Fatal(err)
		}
	}
	for _, r := range srv2.RequestLog() {
		if r.Status == 429 {
			t.Errorf("throttling client hit 429: %+v", srv2.RequestLog())
		}
	}
}

func TestBearerToken(t *testing.T) {
	t.Parallel()
	srv := oktatest.NewServer(t)
	srv.AddToken("eyJ.access.token", "okta.users.read")
	u := seedUser(t, srv, "bearer@example.com", okta.UserActive)
	c, err := okta.NewClient(srv.URL(), "eyJ.access.token", okta.WithOAuthBearer(), okta.WithRetryPolicy(okta.NoRetries()))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetUser(t.Context(), u.ID); err != nil {
		t.Errorf("GetUser with a read-scoped bearer token = %v", err)
	}
	if err := c.MarkError(t.Context(), u.ID, "fwfX"); !errors.Is(err, okta.ErrForbidden) {
		t.Errorf("MarkError with a read-scoped token = %v, want ErrForbidden", err)
	}
	srv.RevokeToken("eyJ.access.token")
	if _, err := c.GetUser(t.Context(), u.ID); !errors.Is(err, okta.ErrUnauthorized) {
		t.Errorf("GetUser with a revoked token = %v, want ErrUnauthorized", err)
	}
	// SSWS with a bearer token value is still the same token to the fake.
	sswsClient, err := okta.NewClient(srv.URL(), srv.Token())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sswsClient.GetUser(t.Context(), u.Profile.Login); err != nil {
		t.Errorf("GetUser(login) with SSWS = %v", err)
	}
}

func TestLengthRequired(t *testing.T) {
	t.Parallel()
	srv := oktatest.NewServer(t)
	u := seedUser(t, srv, "len@example.com", okta.UserActive)
	addr := strings.TrimPrefix(srv.URL(), "http://")
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /webauthn-registration/api/v1/users/%s/enrollments/fwfX/mark-error HTTP/1.1\r\nHost: %s\r\nAuthorization: SSWS %s\r\n\r\n", u.ID, addr, srv.Token())
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusLengthRequired {
		t.Errorf("POST without Content-Length = %d, want 411", resp.StatusCode)
	}
	// The client sends Content-Length: 0 and gets past the check (to a 404 here).
	c, err := srv.Client()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.MarkError(t.Context(), u.ID, "fwfX"); !errors.Is(err, okta.ErrNotFound) {
		t.Errorf("MarkError = %v, want ErrNotFound", err)
	}
}

func TestFaults(t *testing.T) {
	t.Parallel()
	srv := oktatest.NewServer(t)
	u := seedUser(t, srv, "fault@example.com", okta.UserActive)
	c, err := srv.Client(okta.WithRetryPolicy(okta.RetryPolicy{MaxRetries: 2, Backoff: func(int) time.Duration { return time.Second }}))
	if err != nil {
		t.Fatal(err)
	}
	noRetry, err := srv.Client(okta.WithRetryPolicy(okta.NoRetries()))
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()

	must(t, srv.FailNext(2, 503))
	if _, err := c.GetUser(ctx, u.ID); err != nil {
		t.Errorf("GetUser after 2 injected 503s = %v, want success on the third attempt", err)
	}
	must(t, srv.FailNext(1, 500))
	if _, err := noRetry.GetUser(ctx, u.ID); !errors.Is(err, okta.ErrServer) {
		t.Errorf("GetUser = %v, want ErrServer", err)
	}
	must(t, srv.InjectHTTPFault(oktatest.HTTPFaultRule{Method: "POST", PathPrefix: "/webauthn-registration/", Status: 500}))
	if err := c.SendPIN(ctx, okta.SendPINRequest{UserID: u.ID, AuthenticatorEnrollmentID: "fwfX"}); !errors.Is(err, okta.ErrServer) {
		t.Errorf("SendPIN = %v, want ErrServer (not retried)", err)
	}
	// Count 2: net/http itself retries a GET once when a reused connection
	// closes before the response.
	must(t, srv.InjectHTTPFault(oktatest.HTTPFaultRule{Drop: true, Count: 2}))
	if _, err := noRetry.GetUser(ctx, u.ID); err == nil {
		t.Error("GetUser over a dropped connection = nil error")
	} else if strings.Contains(err.Error(), srv.Token()) {
		t.Errorf("error %q contains the token", err)
	}
	must(t, srv.InjectHTTPFault(oktatest.HTTPFaultRule{Drop: true}))
	if _, err := c.GetUser(ctx, u.ID); err != nil {
		t.Errorf("GetUser retried after a dropped connection = %v", err)
	}
	must(t, srv.InjectHTTPFault(oktatest.HTTPFaultRule{Status: 429}))
	if _, err := noRetry.GetUser(ctx, u.ID); !errors.Is(err, okta.ErrRateLimited) {
		t.Errorf("GetUser = %v, want ErrRateLimited", err)
	}
	must(t, srv.InjectHTTPFault(oktatest.HTTPFaultRule{Latency: 20 * time.Millisecond}))
	begin := time.Now()
	if _, err := c.GetUser(ctx, u.ID); err != nil || time.Since(begin) < 20*time.Millisecond {
		t.Errorf("GetUser with latency: %v after %v", err, time.Since(begin))
	}
}

func TestUsersAndGroupsContract(t *testing.T) {
	t.Parallel()
	srv, c := newServerClient(t, oktatest.WithMaxPageSize(2))
	ctx := t.Context()
	p := okta.Profile{Login: "new.hire@example.com", Email: "new.hire@example.com", SecondEmail: "hire@home.example",
		FirstName: "New", LastName: "Hire", CountryCode: "DE", City: "Berlin",
		Extra: map[string]json.RawMessage{"costCenter": json.RawMessage(`"42"`)}}
	u, err := c.CreateUser(ctx, okta.CreateUserRequest{Profile: p})
	if err != nil {
		t.Fatal(err)
	}
	if u.Status != okta.UserStaged || len(u.ID) != 20 || !strings.HasPrefix(u.ID, "00u") || !u.Activated.IsZero() {
		t.Fatalf("CreateUser = %+v", u)
	}
	if diff := cmp.Diff(p, u.Profile); diff != "" {
		t.Errorf("profile (-want +got):\n%s", diff)
	}
	for _, key := range []string{u.ID, "new.hire@example.com", "new.hire"} {
		got, err := c.GetUser(ctx, key)
		if err != nil || got.ID != u.ID {
			t.Errorf("GetUser(%q) = %+v, %v", key, got, err)
		}
	}
	upd, err := c.UpdateProfile(ctx, u.ID, okta.Profile{ZipCode: "10115", Extra: map[string]json.RawMessage{"city": json.RawMessage("null")}})
	if err != nil {
		t.Fatal(err)
	}
	if upd.Profile.ZipCode != "10115" || upd.Profile.City != "" || upd.Profile.CountryCode != "DE" || string(upd.Profile.Extra["costCenter"]) != `"42"` {
		t.Errorf("UpdateProfile = %+v", upd.Profile)
	}
	if _, err := c.UpdateProfile(ctx, u.ID, okta.Profile{CountryCode: "DEU"}); !errors.Is(err, okta.ErrValidation) {
		t.Errorf("UpdateProfile(countryCode DEU) = %v, want ErrValidation", err)
	}
	if err := c.ActivateUser(ctx, u.ID, true); err != nil {
		t.Fatal(err)
	}
	// A STAGED user's welcome email goes to the primary and the secondary email.
	if out := srv.Outbox(); len(out) != 2 || out[0].To != "new.hire@example.com" || out[1].To != "hire@home.example" {
		t.Errorf("activation email = %+v, want one to new.hire@example.com and one to hire@home.example", out)
	}
	if err := c.ActivateUser(ctx, u.ID, true); !errors.Is(err, okta.ErrForbidden) {
		t.Errorf("second ActivateUser = %v, want ErrForbidden", err)
	}
	gid := srv.AddGroup("YubiKey 5 NFC")
	var want []string
	for i := range 5 {
		m := seedUser(t, srv, fmt.Sprintf("m%d@example.com", i), okta.UserActive)
		if err := c.AddUserToGroup(ctx, gid, m.ID); err != nil {
			t.Fatal(err)
		}
		want = append(want, m.ID)
	}
	if err := c.AddUserToGroup(ctx, gid, want[0]); err != nil {
		t.Errorf("re-adding a member = %v, want nil", err)
	}
	var got []string
	for m, err := range c.ListGroupMembers(ctx, gid) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, m.ID)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("members (-want +got):\n%s", diff)
	}
	var pages int
	for _, r := range srv.RequestLog() {
		if strings.HasSuffix(r.Path, "/users") && strings.Contains(r.Path, gid) {
			pages++
		}
	}
	if pages != 3 {
		t.Errorf("listed in %d pages, want 3", pages)
	}
	iss, err := c.Issuer(ctx)
	if err != nil || iss != srv.URL() {
		t.Errorf("Issuer = %q, %v", iss, err)
	}
}

func TestEventHook(t *testing.T) {
	t.Parallel()
	const hookAuth = "Bearer hook-secret"
	got := make(chan hookDelivery, 4)
	hookSrv := newHookReceiver(t, hookAuth, func(r hookDelivery) { got <- r })
	srv := oktatest.NewServer(t)
	if _, err := srv.AddEventHook(t.Context(), hookSrv+"/wrong", hookAuth); err == nil {
		t.Fatal("AddEventHook to an endpoint that does not echo the challenge = nil error")
	}
	if _, err := srv.AddEventHook(t.Context(), hookSrv+"/hook", hookAuth); err != nil {
		t.Fatal(err)
	}
	u := seedUser(t, srv, "hook@example.com", okta.UserStaged)
	c, err := srv.Client()
	if err != nil {
		t.Fatal(err)
	}
	order := okta.FulfillmentOrder{ProductID: "55", InventoryProductID: "106", CustomizationID: "RXJN83"}
	if err := c.InitiateFulfillment(t.Context(), okta.FulfillmentRequest{UserID: u.ID, FulfillmentData: okta.FulfillmentData{order}}); err != nil {
		t.Fatal(err)
	}
	ds, err := srv.AwaitDeliveries(t.Context(), 1)
	if err != nil {
		t.Fatal(err)
	}
	if ds[0].Status != 200 || ds[0].EventType != okta.EventTypePreregisterInitiate {
		t.Fatalf("delivery = %+v", ds[0])
	}
	r := <-got
	if r.method != "POST" || r.auth != hookAuth {
		t.Errorf("delivery %s with Authorization %q", r.method, r.auth)
	}
	var p struct {
		EventType          string `json:"eventType"`
		CloudEventsVersion string `json:"cloudEventsVersion"`
		ContentType        string `json:"contentType"`
		Data               struct {
			Events []struct {
				UUID      string `json:"uuid"`
				Published string `json:"published"`
				EventType string `json:"eventType"`
				Target    []struct {
					ID          string            `json:"id"`
					Type        string            `json:"type"`
					AlternateID string            `json:"alternateId"`
					DetailEntry map[string]string `json:"detailEntry"`
				} `json:"target"`
				DebugContext struct {
					DebugData map[string]string `json:"debugData"`
				} `json:"debugContext"`
			} `json:"events"`
		} `json:"data"`
	}
	if err := json.Unmarshal(r.body, &p); err != nil {
		t.Fatal(err)
	}
	if p.EventType != "com.okta.event_hook" || p.CloudEventsVersion != "0.1" || p.ContentType != "application/json" || len(p.Data.Events) != 1 {
		t.Fatalf("payload = %s", r.body)
	}
	ev := p.Data.Events[0]
	events := srv.Events()
	if ev.EventType != okta.EventTypePreregisterInitiate || ev.UUID != events[0].UUID || ev.Published == "" {
		t.Errorf("event = %+v", ev)
	}
	if len(ev.Target) < 2 || ev.Target[0].Type != "User" || ev.Target[0].ID != u.ID || ev.Target[0].AlternateID != u.Profile.Login {
		t.Errorf("targets = %+v", ev.Target)
	}
	wantDetail := map[string]string{"fulfillmentProvider": "yubico", "yubicoProductId": "55", "yubicoInventoryProductId": "106", "yubicoCustomizationId": "RXJN83"}
	if diff := cmp.Diff(wantDetail, ev.Target[1].DetailEntry); diff != "" {
		t.Errorf("detail (-want +got):\n%s", diff)
	}
	if ev.DebugContext.DebugData["yubicoProductId"] != "55" {
		t.Errorf("debugData = %v", ev.DebugContext.DebugData)
	}
}

// newHookReceiver serves an Okta event-hook endpoint at /hook that answers
// the verification challenge and reports deliveries.
type hookDelivery struct {
	method, auth string
	body         []byte
}

func newHookReceiver(t *testing.T, auth string, report func(hookDelivery)) string {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /hook", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != auth {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]string{"verification": r.Header.Get("X-Okta-Verification-Challenge")})
	})
	mux.HandleFunc("GET /wrong", func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]string{"verification": "something else"})
	})
	mux.HandleFunc("POST /hook", func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		report(hookDelivery{r.Method, r.Header.Get("Authorization"), b})
		w.WriteHeader(200)
	})
	hs := httptest.NewServer(mux)
	t.Cleanup(hs.Close)
	return hs.URL
}

func TestStartOptionsAndUnknownRoute(t *testing.T) {
	t.Parallel()
	for name, opt := range map[string]oktatest.Option{
		"rand":       oktatest.WithRand(nil),
		"token":      oktatest.WithToken("a b"),
		"issuer":     oktatest.WithIssuer("not a url"),
		"rate limit": oktatest.WithRateLimit("api", 1),
		"window":     oktatest.WithRateLimitWindow(time.Millisecond),
		"page":       oktatest.WithMaxPageSize(0),
		"ttl":        oktatest.WithChallengeTimeout(0),
		"roots":      oktatest.WithAttestationRoots(nil),
		"hook":       oktatest.WithHookClient(nil),
		"log limit":  oktatest.WithRequestLogLimit(0),
	} {
		if srv, err := oktatest.Start(opt); err == nil {
			srv.Close()
			t.Errorf("Start(%s) = nil error", name)
		}
	}
	srv, err := oktatest.Start(oktatest.WithToken("fixed-token"), oktatest.WithIssuer("https://example.okta.com"))
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	// Nothing yet: nil, not an empty slice (a caller's cmp.Diff against
	// nil, or JSON null).
	if ev, log := srv.Events(), srv.RequestLog(); ev != nil || log != nil {
		t.Errorf("a new server: Events() = %#v, RequestLog() = %#v, want nil", ev, log)
	}
	status, _, body := raw(t, srv, "GET", "/api/v1/nothing-here", "SSWS fixed-token", "")
	if status != 404 {
		t.Fatalf("unknown route = %d", status)
	}
	checkErrorBody(t, body, "E0000008", "The requested path was not found")
	c, err := srv.Client()
	if err != nil {
		t.Fatal(err)
	}
	if iss, err := c.Issuer(t.Context()); err != nil || iss != "https://example.okta.com" {
		t.Errorf("Issuer = %q, %v", iss, err)
	}
	if rp, err := c.DefaultRPID(t.Context()); err != nil || rp != "example.okta.com" {
		t.Errorf("DefaultRPID = %q, %v", rp, err)
	}
}

func TestDeterministicIDs(t *testing.T) {
	t.Parallel()
	ids := func() []string {
		srv := oktatest.NewServer(t, oktatest.WithRand(mrand.NewChaCha8([32]byte{7})))
		var out []string
		for _, l := range []string{"a@example.com", "b@example.com"} {
			out = append(out, seedUser(t, srv, l, okta.UserActive).ID)
		}
		return append(out, srv.AddGroup("g"), srv.Token())
	}
	first, second := ids(), ids()
	if diff := cmp.Diff(first, second); diff != "" {
		t.Errorf("IDs differ between runs with the same seed (-first +second):\n%s", diff)
	}
	if !strings.HasPrefix(first[0], "00u") || len(first[0]) != 20 || !strings.HasPrefix(first[2], "00g") || len(first[2]) != 20 {
		t.Errorf("IDs = %v", first)
	}
}

// must fails the test on an error from a fake's control method.
func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
