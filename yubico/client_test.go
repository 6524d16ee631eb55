package yubico_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jarcoal/httpmock"

	"github.com/preenroll/preenroll/internal/httpclient/clienttest"
	"github.com/preenroll/preenroll/internal/testclock"
	"github.com/preenroll/preenroll/internal/testhttp"
	"github.com/preenroll/preenroll/webauthn"
	"github.com/preenroll/preenroll/yubico"
)

const (
	testBase  = "https://api.example.test/v1"
	testToken = "eyJhbGciOiJub25lIn0.secret-token-value"
)

// newMockClient returns a client whose transport is a fresh MockTransport.
func newMockClient(t *testing.T, opts ...yubico.Option) (*yubico.Client, *httpmock.MockTransport) {
	t.Helper()
	mt := httpmock.NewMockTransport()
	opts = append([]yubico.Option{yubico.WithHTTPClient(&http.Client{Transport: mt}), yubico.WithRetryPolicy(yubico.NoRetries())}, opts...)
	c, err := yubico.NewClient(testBase, testToken, opts...)
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	return c, mt
}

// recorder captures requests seen by a responder.
type recorder struct {
	mu   sync.Mutex
	reqs []recorded
}

type recorded struct {
	Method, URL, Auth, UA, ContentType string
	Body                               map[string]any
}

func (r *recorder) wrap(status int, body string, hdr ...string) httpmock.Responder {
	return func(req *http.Request) (*http.Response, error) {
		if err := r.record(req); err != nil {
			return nil, err
		}
		return testhttp.JSONResponse(status, body, hdr...), nil
	}
}

// record adds req to the recorded requests; its body, if any, must be JSON.
func (r *recorder) record(req *http.Request) error {
	rec := recorded{Method: req.Method, URL: req.URL.String(), Auth: req.Header.Get("Authorization"),
		UA: req.Header.Get("User-Agent"), ContentType: req.Header.Get("Content-Type")}
	if req.Body != nil {
		b, _ := io.ReadAll(req.Body)
		if len(b) > 0 {
			if err := json.Unmarshal(b, &rec.Body); err != nil {
				return fmt.Errorf("request body is not JSON: %v", err)
			}
		}
	}
	r.mu.Lock()
	r.reqs = append(r.reqs, rec)
	r.mu.Unlock()
	return nil
}

func (r *recorder) all() []recorded {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]recorded(nil), r.reqs...)
}

func TestNewClientValidation(t *testing.T) {
	t.Parallel()
	type tc = clienttest.NewClientCase[yubico.Option]
	clienttest.CheckNewClient(t, yubico.NewClient, yubico.WithHTTPClient, yubico.ErrInvalidArgument, []tc{
		{Name: "ok", URL: testBase, Token: testToken},
		{Name: "trailing slash", URL: testBase + "/", Token: testToken},
		{Name: "http loopback", URL: "http://127.0.0.1:1234/v1", Token: testToken},
		{Name: "http localhost", URL: "http://localhost:1234/v1", Token: testToken},
		{Name: "http ipv6 loopback", URL: "http://[::1]:1234/v1", Token: testToken},
		{Name: "http remote", URL: "http://api.console.yubico.com/v1", Token: testToken, WantErr: true},
		{Name: "http remote jwks", URL: testBase, Token: testToken, Opts: []yubico.Option{yubico.WithJWKSBaseURL("http://console.yubico.com")}, WantErr: true},
		{Name: "empty base", URL: "", Token: testToken, WantErr: true},
		{Name: "relative", URL: "/v1", Token: testToken, WantErr: true},
		{Name: "ftp", URL: "ftp://x/v1", Token: testToken, WantErr: true},
		{Name: "query", URL: testBase + "?x=1", Token: testToken, WantErr: true},
		{Name: "userinfo", URL: "https://u:p@x/v1", Token: testToken, WantErr: true},
		{Name: "empty token", URL: testBase, Token: "", WantErr: true},
		{Name: "token with newline", URL: testBase, Token: "abc\ndef", WantErr: true},
		{Name: "nil http client", URL: testBase, Token: testToken, Opts: []yubico.Option{yubico.WithHTTPClient(nil)}, WantErr: true},
		{Name: "empty user agent", URL: testBase, Token: testToken, Opts: []yubico.Option{yubico.WithUserAgent("")}},
		{Name: "user agent newline", URL: testBase, Token: testToken, Opts: []yubico.Option{yubico.WithUserAgent("a\r\nX-Evil: 1")}, WantErr: true},
		{Name: "negative retries", URL: testBase, Token: testToken, Opts: []yubico.Option{yubico.WithRetryPolicy(yubico.RetryPolicy{MaxRetries: -1})}, WantErr: true},
		{Name: "negative rate-limit wait", URL: testBase, Token: testToken, Opts: []yubico.Option{yubico.WithRetryPolicy(yubico.RetryPolicy{MaxRateLimitWait: -time.Second})}, WantErr: true},
		{Name: "nil clock", URL: testBase, Token: testToken, Opts: []yubico.Option{yubico.WithClock(nil)}, WantErr: true},
		{Name: "zero body limit", URL: testBase, Token: testToken, Opts: []yubico.Option{yubico.WithMaxBodySize(0)}, WantErr: true},
		{Name: "bad jwks base", URL: testBase, Token: testToken, Opts: []yubico.Option{yubico.WithJWKSBaseURL("console.yubico.com")}, WantErr: true},
		{Name: "nil option", URL: testBase, Token: testToken, Opts: []yubico.Option{nil}, WantErr: true},
	})
}

// TestOptionErrors: an option NewClient refuses is an error that matches
// ErrInvalidArgument and names the option, the argument and the problem.
func TestOptionErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		opt  []yubico.Option
		want string
	}{
		{[]yubico.Option{yubico.WithUserAgent("x"), nil}, "yubico: invalid argument: option 1 is nil"},
		{[]yubico.Option{yubico.WithHTTPClient(nil)}, "yubico: invalid argument: WithHTTPClient: HTTP client is nil"},
		{[]yubico.Option{yubico.WithUserAgent("a\nb")}, "yubico: invalid argument: WithUserAgent: user agent contains a line break"},
		{[]yubico.Option{yubico.WithClock(nil)}, "yubico: invalid argument: WithClock: clock is nil"},
		{[]yubico.Option{yubico.WithMaxBodySize(-2)}, "yubico: invalid argument: WithMaxBodySize: size -2 is not positive"},
		{[]yubico.Option{yubico.WithRetryPolicy(yubico.RetryPolicy{MaxRetries: -1})}, "yubico: invalid argument: WithRetryPolicy: MaxRetries -1 is negative"},
		{[]yubico.Option{yubico.WithRetryPolicy(yubico.RetryPolicy{MaxRateLimitWait: -time.Second})}, "yubico: invalid argument: WithRetryPolicy: MaxRateLimitWait -1s is negative"},
	} {
		_, err := yubico.NewClient(testBase, testToken, tc.opt...)
		if !errors.Is(err, yubico.ErrInvalidArgument) {
			t.Errorf("NewClient(%s): err = %v, want one matching ErrInvalidArgument", tc.want, err)
			continue
		}
		if got := err.Error(); got != tc.want {
			t.Errorf("NewClient: err = %q, want %q", got, tc.want)
		}
	}
}

func TestTokenNeverPrinted(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t)
	mt.RegisterResponder("GET", testBase+"/shipments_exact/abc", httpmock.NewStringResponder(401, `{"message":"bad token"}`))
	_, err := c.Shipment(t.Context(), "abc")
	if !errors.Is(err, yubico.ErrUnauthorized) {
		t.Fatalf("Shipment() error = %v, want ErrUnauthorized", err)
	}
	for _, s := range []string{fmt.Sprint(c), fmt.Sprintf("%v %+v %#v %s %q", c, c, c, c, c), err.Error(), fmt.Sprintf("%#v", err)} {
		if strings.Contains(s, "secret-token") {
			t.Errorf("printed form %q contains the token", s)
		}
	}
}

func TestCreateShipmentWire(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t, yubico.WithUserAgent("test-agent/2"))
	var rec recorder
	mt.RegisterResponder("POST", testBase+"/shipments_exact", rec.wrap(200, `{
		"shipment_id":"U89bvfKKCtQfhnqaFBrAZW","shipment_state_id":3,"shipment_state_message":"Awaiting Validation",
		"country_code_2":"US","street_line1":"7788 Foxrun Street","city":"Dedham","region":"MA","postal_code":"02026",
		"shipment_request_date":"2026-11-29T10:00:00Z","delivered_date":null,"unknown_member":{"x":1},
		"shipment_messages":["one",{"message":"two"},{"description":"three"}],
		"shipment_items":[{"product_id":1,"inventory_product_id":15,"shipment_product_quantity":2,"product_name":"YubiKey 5 NFC"}]}`))
	req := yubico.ShipmentRequest{
		DeliveryType: yubico.DeliveryNormal,
		Recipient:    "Example Inc.",
		Address: yubico.Address{StreetLine1: "7788 Foxrun Street", City: "Dedham", Region: "MA",
			PostalCode: "02026", CountryCode: "US"},
		Items: []yubico.ItemRequest{{ProductID: 1, InventoryProductID: 15, Quantity: 2}},
	}
	got, err := c.CreateShipment(t.Context(), req)
	if err != nil {
		t.Fatalf("CreateShipment: %v", err)
	}
	want := yubico.Shipment{
		ID: "U89bvfKKCtQfhnqaFBrAZW", State: yubico.StateAwaitingValidation, StateMessage: "Awaiting Validation",
		Messages: yubico.Messages{"one", "two", "three"},
		Address: yubico.Address{StreetLine1: "7788 Foxrun Street", City: "Dedham", Region: "MA",
			PostalCode: "02026", CountryCode: "US"},
		RequestDate: time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC),
		Items:       []yubico.ShipmentItem{{ProductID: 1, InventoryProductID: 15, Quantity: 2, ProductName: "YubiKey 5 NFC"}},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("CreateShipment() mismatch (-want +got):\n%s", d)
	}
	reqs := rec.all()
	if len(reqs) != 1 {
		t.Fatalf("got %d requests, want 1", len(reqs))
	}
	wantReq := recorded{
		Method: "POST", URL: testBase + "/shipments_exact", Auth: "Bearer " + testToken, UA: "test-agent/2 preenroll-yubico " + runtime.Version(),
		ContentType: "application/json",
		Body: map[string]any{
			"channelpartner_id": 0.0, "delivery_type": 1.0, "recipient": "Example Inc.",
			"street_line1": "7788 Foxrun Street", "city": "Dedham", "region": "MA", "postal_code": "02026",
			"country_code_2": "US",
			"shipment_items": []any{map[string]any{"product_id": 1.0, "inventory_product_id": 15.0, "shipment_product_quantity": 2.0}},
		},
	}
	if d := cmp.Diff(wantReq, reqs[0]); d != "" {
		t.Errorf("request mismatch (-want +got):\n%s", d)
	}
}

func TestErrorMapping(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		call   func(*yubico.Client, context.Context) error
		method string
		path   string
		status int
		body   string
		want   []error
		not    []error
	}{
		{"401", getShipment, "GET", "/shipments_exact/abc", 401, ``, []error{yubico.ErrUnauthorized}, []error{yubico.ErrNotFound}},
		{"403", getShipment, "GET", "/shipments_exact/abc", 403, ``, []error{yubico.ErrForbidden}, []error{yubico.ErrUnauthorized}},
		{"404", getShipment, "GET", "/shipments_exact/abc", 404, `{}`, []error{yubico.ErrNotFound}, nil},
		{"400 on get by id", getShipment, "GET", "/shipments_exact/abc", 400, ``, []error{yubico.ErrNotFound}, []error{yubico.ErrValidation}},
		{"400 invalid id code on delete", deleteShipment, "DELETE", "/shipments_exact/abc", 400, `{"error_code":"invalid_shipment_id"}`, []error{yubico.ErrNotFound}, nil},
		{"409 not editable", deleteShipment, "DELETE", "/shipments_exact/abc", 409, `{"error_code":"shipment_not_editable","message":"state 103"}`, []error{yubico.ErrConflict}, []error{yubico.ErrValidation}},
		{"400 not editable code", updateShipment, "PUT", "/shipments_exact/abc", 400, `{"error_code":"shipment_not_editable"}`, []error{yubico.ErrConflict}, nil},
		{"400 validation on create", createShipment, "POST", "/shipments_exact", 400, `{"error_code":"validation_failed","details":[{"field":"city","description":"required"}]}`, []error{yubico.ErrValidation}, []error{yubico.ErrNotFound}},
		{"422", createShipment, "POST", "/shipments_exact", 422, `{"error":"bad"}`, []error{yubico.ErrValidation}, nil},
		{"429", getShipment, "GET", "/shipments_exact/abc", 429, ``, []error{yubico.ErrRateLimited}, nil},
		{"500", getShipment, "GET", "/shipments_exact/abc", 500, `not json`, []error{yubico.ErrServer}, nil},
		{"503", createShipment, "POST", "/shipments_exact", 503, ``, []error{yubico.ErrServer}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, mt := newMockClient(t)
			mt.RegisterResponder(tt.method, testBase+tt.path, httpmock.NewStringResponder(tt.status, tt.body))
			err := tt.call(c, t.Context())
			var ae *yubico.APIError
			if !errors.As(err, &ae) {
				t.Fatalf("error = %v, want *APIError", err)
			}
			if ae.StatusCode != tt.status || ae.Method != tt.method || ae.Path != tt.path {
				t.Errorf("APIError = %d %s %s, want %d %s %s", ae.StatusCode, ae.Method, ae.Path, tt.status, tt.method, tt.path)
			}
			for _, w := range tt.want {
				if !errors.Is(err, w) {
					t.Errorf("errors.Is(%v, %v) = false, want true", err, w)
				}
			}
			for _, w := range tt.not {
				if errors.Is(err, w) {
					t.Errorf("errors.Is(%v, %v) = true, want false", err, w)
				}
			}
		})
	}
}

// failFirst answers status n times, then 200 with body.
func failFirst(n, status int, body string) httpmock.Responder {
	var mu sync.Mutex
	calls := 0
	return func(*http.Request) (*http.Response, error) {
		mu.Lock()
		defer mu.Unlock()
		calls++
		if calls <= n {
			return httpmock.NewStringResponse(status, ``), nil
		}
		return httpmock.NewStringResponse(200, body), nil
	}
}

func getShipment(c *yubico.Client, ctx context.Context) error {
	_, err := c.Shipment(ctx, "abc")
	return err
}

func deleteShipment(c *yubico.Client, ctx context.Context) error { return c.DeleteShipment(ctx, "abc") }

func updateShipment(c *yubico.Client, ctx context.Context) error {
	_, err := c.UpdateShipment(ctx, "abc", yubico.ShipmentRequest{})
	return err
}

func createShipment(c *yubico.Client, ctx context.Context) error {
	_, err := c.CreateShipment(ctx, yubico.ShipmentRequest{})
	return err
}

func TestAPIErrorFields(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t, yubico.WithClock(testclock.New(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))))
	resp := httpmock.NewStringResponse(400, `{"error_code":"validation_failed","message":"invalid shipment request",
		"details":[{"field":"region","description":"required for US"},{"field":"city","description":"required"}]}`)
	resp.Header.Set("X-Request-Id", "req-1")
	resp.Header.Set("Retry-After", "Thu, 01 Jan 2026 00:00:30 GMT")
	mt.RegisterResponder("POST", testBase+"/shipments_exact", httpmock.ResponderFromResponse(resp))
	err := createShipment(c, t.Context())
	var ae *yubico.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("error = %v, want *APIError", err)
	}
	got := *ae
	got.Body = nil
	want := yubico.APIError{Method: "POST", Path: "/shipments_exact", StatusCode: 400, Code: "validation_failed",
		Message: "invalid shipment request", RequestID: "req-1", RetryAfter: 30 * time.Second, Attempts: 1,
		Details: []yubico.ErrorDetail{{Field: "region", Description: "required for US"}, {Field: "city", Description: "required"}}}
	if d := cmp.Diff(want, got, cmp.AllowUnexported(yubico.APIError{})); d != "" {
		t.Errorf("APIError mismatch (-want +got):\n%s", d)
	}
	wantMsg := `yubico: POST /shipments_exact: 400 Bad Request: validation_failed: invalid shipment request; region: required for US; city: required`
	if err.Error() != wantMsg {
		t.Errorf("Error() = %q, want %q", err.Error(), wantMsg)
	}
}

// A long error body is decoded whole (code and details kept, details
// capped) while APIError.Body keeps only its first 4 KiB.
func TestAPIErrorLongBody(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t)
	var details []string
	for i := range 300 {
		details = append(details, fmt.Sprintf(`{"field":"shipment_items[%d].product_id","description":"required"}`, i))
	}
	body := `{"error_code":"validation_failed","message":"invalid shipment request","details":[` + strings.Join(details, ",") + `]}`
	mt.RegisterResponder("GET", testBase+"/shipments_exact/abc", httpmock.NewStringResponder(400, body))
	err := getShipment(c, t.Context())
	var ae *yubico.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("error = %v, want *APIError", err)
	}
	if ae.Code != yubico.CodeValidationFailed || len(ae.Details) != 100 || len(ae.Body) != 4<<10 {
		t.Errorf("APIError code %q, %d details, %d body bytes; want %q, 100, %d", ae.Code, len(ae.Details), len(ae.Body), yubico.CodeValidationFailed, 4<<10)
	}
	if errors.Is(err, yubico.ErrNotFound) || !errors.Is(err, yubico.ErrValidation) {
		t.Errorf("errors.Is(%v): want ErrValidation, not ErrNotFound", err)
	}
}

func TestDefaultBackoff(t *testing.T) {
	t.Parallel()
	seen := map[time.Duration]bool{}
	for n := 1; n <= 7; n++ {
		full := min(10*time.Second, 500*time.Millisecond<<(n-1))
		for range 50 {
			wait := yubico.DefaultBackoff(n)
			if wait < full/2 || wait > full {
				t.Fatalf("DefaultBackoff(%d) = %v, want %v to %v", n, wait, full/2, full)
			}
			seen[wait] = true
		}
	}
	if len(seen) < 10 {
		t.Errorf("350 waits took only %d values; want jitter", len(seen))
	}
	if w := yubico.DefaultBackoff(100); w < 5*time.Second || w > 10*time.Second {
		t.Errorf("DefaultBackoff(100) = %v, want 5s to 10s", w)
	}
}

func TestDefaultRetryPolicy(t *testing.T) {
	t.Parallel()
	p := yubico.DefaultRetryPolicy()
	if p.MaxRetries != 2 || p.MaxRateLimitWait != yubico.DefaultMaxRateLimitWait || p.Backoff == nil {
		t.Errorf("DefaultRetryPolicy() = %+v, want 2 retries, %v, DefaultBackoff", p, yubico.DefaultMaxRateLimitWait)
	}
	if d := cmp.Diff(yubico.RetryPolicy{}, yubico.NoRetries()); d != "" {
		t.Errorf("NoRetries() is not the zero policy (-want +got):\n%s", d)
	}
}

func TestRetries(t *testing.T) {
	t.Parallel()
	const step = 100 * time.Millisecond
	policy := yubico.RetryPolicy{MaxRetries: 2, Backoff: func(n int) time.Duration { return time.Duration(n) * step }}
	newClient := func(t *testing.T, p yubico.RetryPolicy) (*yubico.Client, *httpmock.MockTransport, *testclock.Clock) {
		clock := testclock.New(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
		c, mt := newMockClient(t, yubico.WithRetryPolicy(p), yubico.WithClock(clock))
		return c, mt, clock
	}

	t.Run("GET retried until success", func(t *testing.T) {
		t.Parallel()
		c, mt, clock := newClient(t, policy)
		mt.RegisterResponder("GET", testBase+"/shipments_exact/abc", failFirst(2, 503, `{"shipment_id":"abc","shipment_state_id":10}`))
		s, err := c.Shipment(t.Context(), "abc")
		if err != nil {
			t.Fatalf("Shipment: %v", err)
		}
		if s.State != yubico.StateSentToFulfillment {
			t.Errorf("State = %v, want %v", s.State, yubico.StateSentToFulfillment)
		}
		if n := mt.GetTotalCallCount(); n != 3 {
			t.Errorf("calls = %d, want 3", n)
		}
		if d := cmp.Diff([]time.Duration{step, 2 * step}, clock.Sleeps()); d != "" {
			t.Errorf("waits (-want +got):\n%s", d)
		}
	})
	t.Run("GET gives up after max attempts", func(t *testing.T) {
		t.Parallel()
		c, mt, _ := newClient(t, policy)
		mt.RegisterResponder("GET", testBase+"/shipments_exact/abc", httpmock.NewStringResponder(502, ``))
		_, err := c.Shipment(t.Context(), "abc")
		var ae *yubico.APIError
		if !errors.Is(err, yubico.ErrServer) || !errors.As(err, &ae) || ae.Attempts != 3 || !strings.HasSuffix(err.Error(), "after 3 attempts") {
			t.Errorf("error = %v, want ErrServer after 3 attempts", err)
		}
		if n := mt.GetTotalCallCount(); n != 3 {
			t.Errorf("calls = %d, want 3", n)
		}
	})
	for status, want := range map[int]error{404: yubico.ErrNotFound, 501: yubico.ErrServer} {
		t.Run(fmt.Sprintf("%d not retried", status), func(t *testing.T) {
			t.Parallel()
			c, mt, _ := newClient(t, policy)
			mt.RegisterResponder("GET", testBase+"/shipments_exact/abc", httpmock.NewStringResponder(status, ``))
			if _, err := c.Shipment(t.Context(), "abc"); !errors.Is(err, want) {
				t.Errorf("error = %v, want %v", err, want)
			}
			if n := mt.GetTotalCallCount(); n != 1 {
				t.Errorf("calls = %d, want 1", n)
			}
		})
	}
	t.Run("POST never retried", func(t *testing.T) {
		t.Parallel()
		c, mt, _ := newClient(t, policy)
		mt.RegisterResponder("POST", testBase+"/shipments_exact", httpmock.NewStringResponder(503, ``))
		if err := createShipment(c, t.Context()); !errors.Is(err, yubico.ErrServer) {
			t.Errorf("error = %v, want ErrServer", err)
		}
		if n := mt.GetTotalCallCount(); n != 1 {
			t.Errorf("calls = %d, want 1", n)
		}
	})
	t.Run("transport error retried", func(t *testing.T) {
		t.Parallel()
		c, mt, _ := newClient(t, policy)
		mt.RegisterResponder("GET", testBase+"/shipments_exact/abc",
			httpmock.Responder(httpmock.ConnectionFailure).Times(1).Then(httpmock.NewStringResponder(200, `{"shipment_id":"abc"}`)))
		if _, err := c.Shipment(t.Context(), "abc"); err != nil {
			t.Errorf("Shipment: %v", err)
		}
	})
	t.Run("Retry-After longer than backoff is waited for", func(t *testing.T) {
		t.Parallel()
		c, mt, clock := newClient(t, policy)
		mt.RegisterResponder("GET", testBase+"/shipments_exact/abc",
			httpmock.NewStringResponder(429, ``).HeaderSet(http.Header{"Retry-After": {"3"}}).Times(1).
				Then(httpmock.NewStringResponder(200, `{"shipment_id":"abc"}`)))
		if _, err := c.Shipment(t.Context(), "abc"); err != nil {
			t.Fatalf("Shipment: %v", err)
		}
		if d := cmp.Diff([]time.Duration{3 * time.Second}, clock.Sleeps()); d != "" {
			t.Errorf("waits (-want +got):\n%s", d)
		}
	})
	t.Run("long Retry-After not waited", func(t *testing.T) {
		t.Parallel()
		p := policy
		p.MaxRateLimitWait = time.Second
		c, mt, clock := newClient(t, p)
		mt.RegisterResponder("GET", testBase+"/shipments_exact/abc",
			httpmock.NewStringResponder(429, ``).HeaderSet(http.Header{"Retry-After": {"120"}}))
		_, err := c.Shipment(t.Context(), "abc")
		var ae *yubico.APIError
		if !errors.As(err, &ae) || ae.RetryAfter != 2*time.Minute || !errors.Is(err, yubico.ErrRateLimited) {
			t.Errorf("error = %v, want ErrRateLimited with RetryAfter 2m", err)
		}
		if n := mt.GetTotalCallCount(); n != 1 {
			t.Errorf("calls = %d, want 1", n)
		}
		if w := clock.Sleeps(); len(w) != 0 {
			t.Errorf("waited %v, want no wait", w)
		}
	})
	t.Run("context cancelled while waiting", func(t *testing.T) {
		t.Parallel()
		// The wall clock: its Sleep must end when the context does.
		c, mt := newMockClient(t, yubico.WithRetryPolicy(yubico.RetryPolicy{MaxRetries: 2, Backoff: func(int) time.Duration { return time.Hour }}))
		ctx, cancel := context.WithCancel(t.Context())
		mt.RegisterResponder("GET", testBase+"/shipments_exact/abc", func(*http.Request) (*http.Response, error) {
			cancel()
			return httpmock.NewStringResponse(503, ``), nil
		})
		_, err := c.Shipment(ctx, "abc")
		if !errors.Is(err, context.Canceled) {
			t.Errorf("error = %v, want context.Canceled", err)
		}
	})
}

func TestShipmentsPaginates(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t)
	const total = 250
	var rec recorder
	mt.RegisterResponder("GET", testBase+"/shipments_exact", func(req *http.Request) (*http.Response, error) {
		q := req.URL.Query()
		var limit, offset int
		fmt.Sscan(q.Get("limit"), &limit)
		fmt.Sscan(q.Get("offset"), &offset)
		rec.mu.Lock()
		rec.reqs = append(rec.reqs, recorded{URL: req.URL.RawQuery})
		rec.mu.Unlock()
		var items []string
		for i := offset; i < min(offset+limit, total); i++ {
			items = append(items, fmt.Sprintf(`{"shipment_id":"s%03d","shipment_state_id":99}`, i))
		}
		return httpmock.NewStringResponse(200, fmt.Sprintf(`{"count":%d,"total_count":%d,"shipments":[%s]}`,
			len(items), total, strings.Join(items, ","))), nil
	})
	var ids []string
	for s, err := range c.SearchShipments(t.Context(), "shipment_state_id", "99") {
		if err != nil {
			t.Fatalf("Shipments: %v", err)
		}
		ids = append(ids, s.ID)
	}
	if len(ids) != total || ids[0] != "s000" || ids[total-1] != "s249" {
		t.Errorf("got %d ids (%v ... %v), want %d s000..s249", len(ids), ids[0], ids[len(ids)-1], total)
	}
	var queries []string
	for _, r := range rec.all() {
		queries = append(queries, r.URL)
	}
	want := []string{
		"limit=100&offset=0&search=99&search_field=shipment_state_id",
		"limit=100&offset=100&search=99&search_field=shipment_state_id",
		"limit=100&offset=200&search=99&search_field=shipment_state_id",
	}
	if d := cmp.Diff(want, queries); d != "" {
		t.Errorf("queries mismatch (-want +got):\n%s", d)
	}

	// Stopping early fetches no further page.
	mt.ZeroCallCounters()
	for range c.Shipments(t.Context(), yubico.ListOptions{}) {
		break
	}
	if n := mt.GetTotalCallCount(); n != 1 {
		t.Errorf("calls after break = %d, want 1", n)
	}
}

func TestListOptionsValidation(t *testing.T) {
	t.Parallel()
	c, _ := newMockClient(t)
	for _, o := range []yubico.ListOptions{{Limit: 101}, {Limit: -1}, {Offset: -1}, {Search: "x"}} {
		if _, err := c.ListShipments(t.Context(), o); err == nil {
			t.Errorf("ListShipments(%+v) succeeded, want error", o)
		}
	}
}

func TestInventoryProductsCountries(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t)
	mt.RegisterResponder("GET", testBase+"/inventory", httpmock.NewStringResponder(200, `{"count":1,"total_count":1,
		"organization_product_inventory":[{"organization_product_inventory_id":"Cym9","organization_product_quantity":978,
		"product_id":15,"inventory_type":3,"product_name":"Primary Subscr - Adv. Tier: Initial","product_tier":2,
		"is_subscription_product":true,"is_virtual_product":true,"product_mapping":[1,2,3]}]}`))
	mt.RegisterResponder("GET", testBase+"/products", httpmock.NewStringResponder(200, `{"count":2,"total_count":2,
		"products":[{"product_id":1,"product_name":"YubiKey 5 NFC"},{"product_id":29,"product_name":"YubiKey 5C NFC"}]}`))
	mt.RegisterResponder("GET", testBase+"/products/29", httpmock.NewStringResponder(200, `{"product_id":29,"product_name":"YubiKey 5C NFC"}`))
	mt.RegisterResponder("GET", testBase+"/products/6", httpmock.NewStringResponder(400, ``))
	mt.RegisterResponder("GET", testBase+"/countries", httpmock.NewStringResponder(200, `[{"country_code_2":"US","country_name":"United States"}]`))
	mt.RegisterResponder("GET", testBase+"/shippablekeys", httpmock.NewStringResponder(200, `{"count":1,"total_count":1,"shippable_keys":[{"product_id":1,"product_name":"YubiKey 5 NFC","organization_product_quantity":0}]}`))

	inv, err := c.Inventory(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	wantInv := []yubico.InventoryItem{{ID: "Cym9", Quantity: 978, ProductID: 15, InventoryType: 3,
		ProductName: "Primary Subscr - Adv. Tier: Initial", ProductTier: 2, IsSubscription: true, IsVirtual: true, ProductMapping: []int{1, 2, 3}}}
	if d := cmp.Diff(wantInv, inv); d != "" {
		t.Errorf("Inventory mismatch (-want +got):\n%s", d)
	}
	prods, err := c.Products(t.Context())
	if err != nil || len(prods) != 2 || prods[1].ID != 29 {
		t.Errorf("Products() = %+v, %v", prods, err)
	}
	p, err := c.Product(t.Context(), 29)
	if err != nil || p.Name != "YubiKey 5C NFC" {
		t.Errorf("Product(29) = %+v, %v", p, err)
	}
	if _, err := c.Product(t.Context(), 6); !errors.Is(err, yubico.ErrNotFound) {
		t.Errorf("Product(6) error = %v, want ErrNotFound", err)
	}
	if _, err := c.Product(t.Context(), 0); err == nil {
		t.Errorf("Product(0) succeeded")
	}
	cs, err := c.Countries(t.Context())
	if d := cmp.Diff([]yubico.Country{{Code: "US", Name: "United States"}}, cs); d != "" || err != nil {
		t.Errorf("Countries() err %v mismatch (-want +got):\n%s", err, d)
	}
	keys, err := c.ShippableKeys(t.Context())
	if err != nil || len(keys) != 1 || keys[0].ProductID != 1 {
		t.Errorf("ShippableKeys() = %+v, %v", keys, err)
	}
}

func TestValidateAddress(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t)
	mt.RegisterResponder("POST", testBase+"/validate-address", func(req *http.Request) (*http.Response, error) {
		var a yubico.Address
		if err := json.NewDecoder(req.Body).Decode(&a); err != nil {
			return nil, err
		}
		if a.StreetLine1 == "123 XYZ" {
			return httpmock.NewStringResponse(400, `{"status":"undeliverable","details":[{"description":"address not found"}]}`), nil
		}
		if a.City == "" {
			return httpmock.NewStringResponse(400, `{"error_code":"validation_failed","details":[{"field":"city","description":"required"}]}`), nil
		}
		return httpmock.NewStringResponse(200, `{"status":"deliverable"}`), nil
	})
	tests := []struct {
		name    string
		addr    yubico.Address
		want    yubico.AddressCheck
		wantErr error
	}{
		{"deliverable", yubico.Address{StreetLine1: "1 Main St", City: "Dedham", Region: "MA", PostalCode: "02026", CountryCode: "US"},
			yubico.AddressCheck{Deliverable: true, Status: "deliverable"}, nil},
		{"undeliverable", yubico.Address{StreetLine1: "123 XYZ", City: "Nowhere", PostalCode: "11111", CountryCode: "US"},
			yubico.AddressCheck{Status: "undeliverable", Details: []string{"address not found"}}, nil},
		{"invalid", yubico.Address{StreetLine1: "1 Main St"}, yubico.AddressCheck{}, yubico.ErrValidation},
	}
	for _, tt := range tests {
		got, err := c.ValidateAddress(t.Context(), tt.addr)
		if !errors.Is(err, tt.wantErr) {
			t.Errorf("%s: ValidateAddress error = %v, want %v", tt.name, err, tt.wantErr)
		}
		if d := cmp.Diff(tt.want, got); d != "" {
			t.Errorf("%s: ValidateAddress mismatch (-want +got):\n%s", tt.name, d)
		}
	}
}

func TestFPRShipment(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t)
	var rec recorder
	mt.RegisterResponder("POST", testBase+"/fpr/shipments", rec.wrap(200, `{"shipment_id":"F1","shipment_state":{"shipment_state_id":3}}`))
	mt.RegisterResponder("GET", testBase+"/fpr/shipments/F1", httpmock.NewStringResponder(200, `{"shipment_id":"F1",
		"shipment_state":{"shipment_state_id":103,"shipment_state_message":"Shipment Shipped"},
		"shipment_items":[{"product_id":1,"product_quantity":1,"product_data":[{"serial_number":12345678,
		"firmware_version":"5.7.1","fido_pin_response":"pin.jwe","fido_credential_responses":["c1.jwe","c2.jwe"]}]}]}`))
	mt.RegisterResponder("GET", testBase+"/fpr/shipments/F2", httpmock.NewStringResponder(200, `{"shipment_id":"F2",
		"shipment_state":{"shipment_state_id":104},"shipment_items":[{"product_id":1}]}`))
	mt.RegisterResponder("DELETE", testBase+"/fpr/shipments/F1", httpmock.NewStringResponder(409, `{"error_code":"shipment_not_editable"}`))
	mt.RegisterResponder("DELETE", testBase+"/fpr/shipments/F3", httpmock.NewStringResponder(204, ``))

	req := yubico.NewFPRShipmentRequest(yubico.FPRRecipient{Company: "Example Inc.", Email: "jan@example.com"},
		yubico.Address{StreetLine1: "1 Main St", City: "Dedham", Region: "MA", PostalCode: "02026", CountryCode: "US"},
		1, 106, "CID-1", "pin.req", []string{"cred.req"})
	s, err := c.CreateFPRShipment(t.Context(), req)
	if err != nil || s.ID != "F1" || s.State.ID != yubico.StateAwaitingValidation {
		t.Fatalf("CreateFPRShipment() = %+v, %v", s, err)
	}
	wantBody := map[string]any{
		"delivery_type": 1.0,
		"recipient":     map[string]any{"recipient_company": "Example Inc.", "recipient_email": "jan@example.com"},
		"mailing_address": map[string]any{"street_line1": "1 Main St", "city": "Dedham", "region": "MA",
			"postal_code": "02026", "country_code_2": "US"},
		"shipment_items": []any{map[string]any{"product_id": 1.0, "inventory_product_id": 106.0, "product_quantity": 1.0,
			"customization_id": "CID-1", "product_customizations": []any{map[string]any{
				"fido_pin_request": "pin.req", "fido_credential_requests": []any{"cred.req"}}}}},
	}
	if d := cmp.Diff(wantBody, rec.all()[0].Body); d != "" {
		t.Errorf("request body mismatch (-want +got):\n%s", d)
	}

	got, err := c.FPRShipment(t.Context(), "F1")
	if err != nil {
		t.Fatalf("FPRShipment: %v", err)
	}
	pd, ok := got.ProductData()
	want := yubico.ProductData{SerialNumber: "12345678", FirmwareVersion: "5.7.1", PINResponse: "pin.jwe",
		CredentialResponses: []string{"c1.jwe", "c2.jwe"}}
	if d := cmp.Diff(want, pd); d != "" || !ok {
		t.Errorf("ProductData() ok=%v mismatch (-want +got):\n%s", ok, d)
	}
	if _, err := c.FPRShipment(t.Context(), "F2"); err == nil {
		t.Errorf("FPRShipment(F2) without product data at 104 succeeded")
	}
	if err := c.CancelFPRShipment(t.Context(), "F1"); !errors.Is(err, yubico.ErrConflict) {
		t.Errorf("CancelFPRShipment(F1) error = %v, want ErrConflict", err)
	}
	if err := c.CancelFPRShipment(t.Context(), "F3"); err != nil {
		t.Errorf("CancelFPRShipment(F3): %v", err)
	}
	for _, id := range []string{"", "a/b", "a?b", "a b", ".", "..", strings.Repeat("x", 300)} {
		if _, err := c.FPRShipment(t.Context(), id); !errors.Is(err, yubico.ErrInvalidArgument) {
			t.Errorf("FPRShipment(%q) error = %v, want ErrInvalidArgument", id, err)
		}
	}
}

func testJWK(t *testing.T, kid, use string) webauthn.PublicJWK {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P384(), fixedReader{})
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 48)
	return webauthn.PublicJWK{Kty: "EC", Crv: "P-384", Kid: kid, Use: use,
		X: base64.RawURLEncoding.EncodeToString(k.X.FillBytes(b)),
		Y: base64.RawURLEncoding.EncodeToString(k.Y.FillBytes(make([]byte, 48)))}
}

// fixedReader is a deterministic byte source (only the stream, not its
// secrecy, matters in these tests).
type fixedReader struct{}

func (fixedReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(i*7 + 1)
	}
	return len(p), nil
}

func TestJWKS(t *testing.T) {
	t.Parallel()
	enc := testJWK(t, "trans-1", "enc")
	sig := testJWK(t, "sign-1", "sig")
	encDoc, _ := json.Marshal(map[string]any{"keys": []any{enc}})
	// Members the client does not keep (x5c, unknown ones) are ignored.
	sigDoc := []byte(strings.Replace(string(testhttp.MustJSON(t, webauthn.JWKS{Keys: []webauthn.PublicJWK{sig}})), `"use":"sig"`, `"use":"sig","x5c":["MIIB"],"extra":true`, 1))

	c, mt := newMockClient(t)
	var rec recorder
	// By default the keys come from Yubico's console host, not the API host.
	mt.RegisterResponder("GET", "https://console.yubico.com/.well-known/yubico-transport-keys.jwks", rec.wrap(200, string(encDoc)))
	mt.RegisterResponder("GET", "https://console.yubico.com/.well-known/yubico-sign.jwks", rec.wrap(200, string(sigDoc)))
	got, err := c.TransportKeys(t.Context())
	if d := cmp.Diff([]webauthn.PublicJWK{enc}, got); d != "" || err != nil {
		t.Errorf("TransportKeys() err %v mismatch (-want +got):\n%s", err, d)
	}
	gotSig, err := c.SigningKeys(t.Context())
	if d := cmp.Diff([]webauthn.PublicJWK{sig}, gotSig); d != "" || err != nil {
		t.Errorf("SigningKeys() err %v mismatch (-want +got):\n%s", err, d)
	}
	for _, r := range rec.all() {
		if r.Auth != "" {
			t.Errorf("JWKS request %s carried Authorization %q", r.URL, r.Auth)
		}
	}

	// A base URL without a path, serving the keys itself: the token still
	// never goes to /.well-known.
	mt3 := httpmock.NewMockTransport()
	var rec3 recorder
	mt3.RegisterResponder("GET", "https://root.example.test/.well-known/yubico-transport-keys.jwks", rec3.wrap(200, string(encDoc)))
	c3, err := yubico.NewClient("https://root.example.test", testToken, yubico.WithHTTPClient(&http.Client{Transport: mt3}),
		yubico.WithJWKSBaseURL("https://root.example.test"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c3.TransportKeys(t.Context()); err != nil {
		t.Fatal(err)
	}
	if auth := rec3.all()[0].Auth; auth != "" {
		t.Errorf("JWKS request on the API host carried Authorization %q", auth)
	}

	// Wrong use is refused.
	c2, mt2 := newMockClient(t, yubico.WithJWKSBaseURL("https://console.example.test"))
	mt2.RegisterResponder("GET", "https://console.example.test/.well-known/yubico-sign.jwks", httpmock.NewBytesResponder(200, encDoc))
	if _, err := c2.SigningKeys(t.Context()); err == nil {
		t.Errorf("SigningKeys accepted an enc key")
	}
	// A key published without "use" gets the use of its endpoint.
	noUse := enc
	noUse.Use = ""
	mt2.RegisterResponder("GET", "https://console.example.test/.well-known/yubico-transport-keys.jwks",
		httpmock.NewBytesResponder(200, testhttp.MustJSON(t, webauthn.JWKS{Keys: []webauthn.PublicJWK{noUse}})))
	if got, err := c2.TransportKeys(t.Context()); err != nil || len(got) != 1 || got[0].Use != "enc" {
		t.Errorf("TransportKeys() of a key without use = %+v, %v; want use \"enc\"", got, err)
	}
}

// jwksServer is a loopback server publishing encDoc as Yubico's transport
// JWKS and counting every request and every Authorization header it sees.
type jwksServer struct {
	*httptest.Server
	mu           sync.Mutex
	jwks, authed int
}

func newJWKSServer(t *testing.T, encDoc []byte) *jwksServer {
	t.Helper()
	s := &jwksServer{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		if r.Header.Get("Authorization") != "" {
			s.authed++
		}
		if r.URL.Path == yubico.TransportKeysPath {
			s.jwks++
		}
		s.mu.Unlock()
		if r.URL.Path != yubico.TransportKeysPath {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(encDoc)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *jwksServer) counts() (jwks, authed int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.jwks, s.authed
}

// The JWKS location: Yubico's console host by default, whatever the API
// base URL is, and whatever WithJWKSBaseURL names otherwise.
func TestJWKSLocation(t *testing.T) {
	t.Parallel()
	encDoc := testhttp.MustJSON(t, webauthn.JWKS{Keys: []webauthn.PublicJWK{testJWK(t, "trans-1", "enc")}})

	const consoleJWKS = "https://console.yubico.com/.well-known/yubico-transport-keys.jwks"
	t.Run("production default is the console host", func(t *testing.T) {
		t.Parallel()
		// Route every request to a loopback server, recording the URL asked for.
		srv := newJWKSServer(t, encDoc)
		rt := &urlRecorder{send: func(r *http.Request) (*http.Response, error) {
			r = r.Clone(r.Context())
			r.URL.Scheme, r.URL.Host = "http", srv.Listener.Addr().String()
			return http.DefaultTransport.RoundTrip(r)
		}}
		c, err := yubico.NewClient(yubico.DefaultBaseURL, testToken, yubico.WithHTTPClient(&http.Client{Transport: rt}))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.TransportKeys(t.Context()); err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff([]string{consoleJWKS}, rt.urls()); d != "" {
			t.Errorf("JWKS URL (-want +got):\n%s", d)
		}
		if _, authed := srv.counts(); authed != 0 {
			t.Errorf("%d JWKS requests carried Authorization", authed)
		}
	})
	t.Run("loopback API base still defaults to the console host", func(t *testing.T) {
		t.Parallel()
		// A fake API on loopback does not move the JWKS: without
		// WithJWKSBaseURL the client asks the console host, never the API host.
		api := newJWKSServer(t, encDoc)
		rt := &urlRecorder{send: func(r *http.Request) (*http.Response, error) {
			if r.URL.Host != api.Listener.Addr().String() {
				return nil, errors.New("not reachable in this test")
			}
			return http.DefaultTransport.RoundTrip(r)
		}}
		c, err := yubico.NewClient(api.URL+"/v1", testToken, yubico.WithRetryPolicy(yubico.NoRetries()),
			yubico.WithHTTPClient(&http.Client{Transport: rt}))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.TransportKeys(t.Context()); err == nil {
			t.Fatal("TransportKeys succeeded; want the unreachable console host to fail")
		}
		if jwks, _ := api.counts(); jwks != 0 {
			t.Errorf("API host saw %d JWKS requests, want 0", jwks)
		}
		if d := cmp.Diff([]string{consoleJWKS}, rt.urls()); d != "" {
			t.Errorf("JWKS URL (-want +got):\n%s", d)
		}
	})
	t.Run("WithJWKSBaseURL overrides", func(t *testing.T) {
		t.Parallel()
		api := newJWKSServer(t, encDoc)
		console := newJWKSServer(t, encDoc)
		c, err := yubico.NewClient(api.URL+"/v1", testToken, yubico.WithRetryPolicy(yubico.NoRetries()),
			yubico.WithJWKSBaseURL(console.URL))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.TransportKeys(t.Context()); err != nil {
			t.Fatal(err)
		}
		if jwks, _ := api.counts(); jwks != 0 {
			t.Errorf("API host saw %d JWKS requests, want 0", jwks)
		}
		if jwks, authed := console.counts(); jwks != 1 || authed != 0 {
			t.Errorf("console host saw %d JWKS requests (%d with Authorization); want 1 (0)", jwks, authed)
		}
	})
}

// urlRecorder is a transport that records every request and sends it
// with send.
type urlRecorder struct {
	recorder
	send func(*http.Request) (*http.Response, error)
}

func (u *urlRecorder) RoundTrip(r *http.Request) (*http.Response, error) {
	if err := u.record(r); err != nil {
		return nil, err
	}
	return u.send(r)
}

// urls returns the URLs asked for so far.
func (u *urlRecorder) urls() []string {
	var urls []string
	for _, r := range u.all() {
		urls = append(urls, r.URL)
	}
	return urls
}

func TestJWKSRejects(t *testing.T) {
	t.Parallel()
	good := testJWK(t, "k", "enc")
	offCurve := good
	offCurve.Y = good.X
	p256 := good
	p256.Crv = "P-256"
	short := good
	short.X = "AAAA"
	noKid := good
	noKid.Kid = ""
	sig := good
	sig.Use = "sig"
	tests := map[string]any{
		"not json":  "x",
		"no keys":   webauthn.JWKS{},
		"off curve": webauthn.JWKS{Keys: []webauthn.PublicJWK{offCurve}},
		"P-256":     webauthn.JWKS{Keys: []webauthn.PublicJWK{p256}},
		"short x":   webauthn.JWKS{Keys: []webauthn.PublicJWK{short}},
		"no kid":    webauthn.JWKS{Keys: []webauthn.PublicJWK{noKid}},
		"duplicate": webauthn.JWKS{Keys: []webauthn.PublicJWK{good, good}},
		"wrong use": webauthn.JWKS{Keys: []webauthn.PublicJWK{good, sig}},
	}
	for name, doc := range tests {
		data := testhttp.MustJSON(t, doc)
		if s, ok := doc.(string); ok {
			data = []byte(s)
		}
		c, mt := newMockClient(t)
		mt.RegisterResponder("GET", yubico.DefaultJWKSBaseURL+yubico.TransportKeysPath, httpmock.NewBytesResponder(200, data))
		if keys, err := c.TransportKeys(t.Context()); err == nil {
			t.Errorf("%s: TransportKeys() = %+v, want error", name, keys)
		}
	}
}

func TestBodyLimit(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t, yubico.WithMaxBodySize(64))
	mt.RegisterResponder("GET", testBase+"/shipments_exact/abc", httpmock.NewStringResponder(200, `{"shipment_id":"`+strings.Repeat("a", 100)+`"}`))
	if _, err := c.Shipment(t.Context(), "abc"); err == nil || !strings.Contains(err.Error(), "more than 64 bytes") {
		t.Errorf("Shipment() error = %v, want body limit error", err)
	}
}

func TestShipmentStateHelpers(t *testing.T) {
	t.Parallel()
	type row struct {
		Name                           string
		Known, Editable, Ready, Failed bool
	}
	var got []row
	for _, s := range []yubico.ShipmentState{-1, 0, 1, 3, 7, 9, 10, 42, 99, 103, 104, 105, 106} {
		got = append(got, row{s.String(), s.Known(), s.Editable(), s.ResponsesReady(), s.Failed()})
	}
	want := []row{
		{"state -1", false, false, false, false},
		{"state 0", false, true, false, false},
		{"Incomplete Shipping Request", true, true, false, true},
		{"Awaiting Validation", true, true, false, false},
		{"Address is undeliverable or could not be understood", true, true, false, true},
		{"Error: DPL Match", true, true, false, true},
		{"Sent to Fulfillment", true, false, false, false},
		{"state 42", false, false, false, false},
		{"Error: Shipping error, contact Support", true, false, false, true},
		{"Shipment Shipped", true, false, true, false},
		{"Delivered", true, false, true, false},
		{"Shipment Lost/Missing", true, false, false, true},
		{"Delivery Exception", true, false, false, true},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("state helpers mismatch (-want +got):\n%s", d)
	}
}
