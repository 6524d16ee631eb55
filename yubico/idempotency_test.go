package yubico_test

import (
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jarcoal/httpmock"

	"github.com/preenroll/preenroll/yubico"
)

// keyRecorder records the Idempotency-Key header and body of each request
// and answers with the responders in turn (the last one repeatedly).
type keyRecorder struct {
	mu     sync.Mutex
	keys   []string // header value; "<none>" when absent
	bodies []string
	then   []httpmock.Responder
}

func (k *keyRecorder) responder(req *http.Request) (*http.Response, error) {
	b, _ := io.ReadAll(req.Body)
	k.mu.Lock()
	key := "<none>"
	if v, ok := req.Header[yubico.IdempotencyKeyHeader]; ok {
		key = strings.Join(v, ",")
	}
	k.keys = append(k.keys, key)
	k.bodies = append(k.bodies, string(b))
	r := k.then[min(len(k.keys), len(k.then))-1]
	k.mu.Unlock()
	return r(req)
}

func (k *keyRecorder) seen() ([]string, []string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	return append([]string(nil), k.keys...), append([]string(nil), k.bodies...)
}

const fprCreated = `{"shipment_id":"F1","shipment_state":{"shipment_state_id":3}}`

func fprReq(key string) yubico.FPRShipmentRequest {
	r := yubico.NewFPRShipmentRequest(yubico.FPRRecipient{Company: "Example Inc.", Email: "jan@example.com"},
		yubico.Address{StreetLine1: "1 Main St", City: "Dedham", Region: "MA", PostalCode: "02026", CountryCode: "US"},
		1, 106, "CID-1", "pin.req", []string{"cred.req"})
	r.IdempotencyKey = key
	return r
}

func TestIdempotencyKeyHeader(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t)
	fpr := &keyRecorder{then: []httpmock.Responder{httpmock.NewStringResponder(200, fprCreated)}}
	exact := &keyRecorder{then: []httpmock.Responder{httpmock.NewStringResponder(200, `{"shipment_id":"S1","shipment_state_id":3}`)}}
	mt.RegisterResponder("POST", testBase+"/fpr/shipments", fpr.responder)
	mt.RegisterResponder("POST", testBase+"/shipments_exact", exact.responder)

	const key = "order-00u1-3f9c2a"
	if _, err := c.CreateFPRShipment(t.Context(), fprReq(key)); err != nil {
		t.Fatalf("CreateFPRShipment: %v", err)
	}
	if _, err := c.CreateFPRShipment(t.Context(), fprReq("")); err != nil {
		t.Fatalf("CreateFPRShipment without key: %v", err)
	}
	keys, bodies := fpr.seen()
	if want := []string{key, "<none>"}; strings.Join(keys, "|") != strings.Join(want, "|") {
		t.Errorf("FPR Idempotency-Key headers = %q, want %q", keys, want)
	}
	if bodies[0] != bodies[1] || strings.Contains(bodies[0], key) || strings.Contains(bodies[0], "dempotency") {
		t.Errorf("the key must change the header only; bodies:\n%s\n%s", bodies[0], bodies[1])
	}

	sr := yubico.ShipmentRequest{Recipient: "Example Inc.", IdempotencyKey: key}
	if _, err := c.CreateShipment(t.Context(), sr); err != nil {
		t.Fatalf("CreateShipment: %v", err)
	}
	if keys, bodies := exact.seen(); len(keys) != 1 || keys[0] != key || strings.Contains(bodies[0], key) {
		t.Errorf("shipments_exact headers = %q, body %s; want the key in the header only", keys, bodies)
	}
}

func TestIdempotentCreateRetries(t *testing.T) {
	t.Parallel()
	policy := yubico.RetryPolicy{MaxRetries: 2, Backoff: func(int) time.Duration { return time.Millisecond }}
	created := httpmock.NewStringResponder(200, fprCreated)
	status := func(code int) httpmock.Responder { return httpmock.NewStringResponder(code, ``) }
	reused := httpmock.NewStringResponder(422,
		`{"error_code":"idempotency_key_reused","message":"Idempotency-Key \"k-4\" was already used for a different request"}`)
	for _, tc := range []struct {
		name     string
		update   bool // UpdateShipment instead of CreateFPRShipment
		key      string
		then     []httpmock.Responder
		fails    bool
		wantErr  error  // the sentinel the error matches, if any
		notErr   error  // a sentinel the error must not match, if any
		errText  string // in the error, if any
		wantKeys []string
	}{
		{name: "503 then success, same key", key: "k-1", then: []httpmock.Responder{status(503), created},
			wantKeys: []string{"k-1", "k-1"}},
		{name: "transport error and 429 then success", key: "k-2", then: []httpmock.Responder{httpmock.ConnectionFailure, status(429), created},
			wantKeys: []string{"k-2", "k-2", "k-2"}},
		{name: "gives up after the policy's attempts", key: "k-3", then: []httpmock.Responder{status(502)},
			fails: true, wantErr: yubico.ErrServer, errText: "after 3 attempts", wantKeys: []string{"k-3", "k-3", "k-3"}},
		{name: "no key, 503 not retried", then: []httpmock.Responder{status(503), created},
			fails: true, wantKeys: []string{"<none>"}},
		{name: "no key, transport error not retried", then: []httpmock.Responder{httpmock.ConnectionFailure, created},
			fails: true, wantKeys: []string{"<none>"}},
		{name: "422 key reused is a conflict, not retried", key: "k-4", then: []httpmock.Responder{reused, created},
			fails: true, wantErr: yubico.ErrConflict, notErr: yubico.ErrValidation, wantKeys: []string{"k-4"}},
		{name: "409 in progress is retried with a key", key: "k-6", then: []httpmock.Responder{status(409), created},
			wantKeys: []string{"k-6", "k-6"}},
		{name: "400 after a 503: outcome unknown", key: "k-7", then: []httpmock.Responder{status(503), status(400)},
			fails: true, wantErr: yubico.ErrOutcomeUnknown, errText: "earlier attempt may have been applied", wantKeys: []string{"k-7", "k-7"}},
		{name: "422 after no answer: outcome unknown", key: "k-8", then: []httpmock.Responder{httpmock.ConnectionFailure, status(422)},
			fails: true, wantErr: yubico.ErrOutcomeUnknown, wantKeys: []string{"k-8", "k-8"}},
		{name: "409 until the attempts run out: outcome unknown", key: "k-9", then: []httpmock.Responder{status(409)},
			fails: true, wantErr: yubico.ErrOutcomeUnknown, wantKeys: []string{"k-9", "k-9", "k-9"}},
		{name: "400 at once is a plain refusal", key: "k-10", then: []httpmock.Responder{status(400)},
			fails: true, wantErr: yubico.ErrValidation, notErr: yubico.ErrOutcomeUnknown, wantKeys: []string{"k-10"}},
		{name: "400 after a 429 is a plain refusal (a 429 is answered before acting)", key: "k-11", then: []httpmock.Responder{status(429), status(400)},
			fails: true, wantErr: yubico.ErrValidation, notErr: yubico.ErrOutcomeUnknown, wantKeys: []string{"k-11", "k-11"}},
		{name: "no key, 409 not retried", then: []httpmock.Responder{status(409), created},
			fails: true, wantErr: yubico.ErrConflict, notErr: yubico.ErrOutcomeUnknown, wantKeys: []string{"<none>"}},
		{name: "update ignores the key and is not retried", update: true, key: "k-5", then: []httpmock.Responder{status(503), created},
			fails: true, wantErr: yubico.ErrServer, wantKeys: []string{"<none>"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, mt := newMockClient(t, yubico.WithRetryPolicy(policy))
			rec := &keyRecorder{then: tc.then}
			var err error
			if tc.update {
				mt.RegisterResponder("PUT", testBase+"/shipments_exact/abc", rec.responder)
				_, err = c.UpdateShipment(t.Context(), "abc", yubico.ShipmentRequest{IdempotencyKey: tc.key})
			} else {
				mt.RegisterResponder("POST", testBase+"/fpr/shipments", rec.responder)
				var s yubico.FPRShipment
				s, err = c.CreateFPRShipment(t.Context(), fprReq(tc.key))
				if err == nil && s.ID != "F1" {
					t.Errorf("CreateFPRShipment() = %+v, want F1", s)
				}
			}
			switch {
			case (err != nil) != tc.fails:
				t.Fatalf("error = %v, want failure %v", err, tc.fails)
			case tc.wantErr != nil && !errors.Is(err, tc.wantErr),
				tc.notErr != nil && errors.Is(err, tc.notErr),
				tc.errText != "" && !strings.Contains(err.Error(), tc.errText):
				t.Errorf("error = %v, want %v (not %v) saying %q", err, tc.wantErr, tc.notErr, tc.errText)
			}
			keys, bodies := rec.seen()
			if !slices.Equal(keys, tc.wantKeys) {
				t.Errorf("Idempotency-Key of each attempt = %q, want %q", keys, tc.wantKeys)
			}
			for i := 1; i < len(bodies); i++ {
				if bodies[i] != bodies[0] {
					t.Errorf("attempts sent different bodies:\n%s\n%s", bodies[0], bodies[i])
				}
			}
		})
	}
}

func TestInvalidIdempotencyKey(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t)
	mt.RegisterResponder("POST", testBase+"/fpr/shipments", httpmock.NewStringResponder(200, fprCreated))
	mt.RegisterResponder("POST", testBase+"/shipments_exact", httpmock.NewStringResponder(200, `{"shipment_id":"S1"}`))
	for _, key := range []string{
		strings.Repeat("k", yubico.MaxIdempotencyKeyLength+1),
		"has space", "tab\there", "new\nline", "nul\x00", "del\x7f", "café",
	} {
		_, err := c.CreateFPRShipment(t.Context(), fprReq(key))
		if !errors.Is(err, yubico.ErrInvalidIdempotencyKey) || !strings.Contains(err.Error(), "IdempotencyKey") {
			t.Errorf("CreateFPRShipment(key %q) error = %v, want ErrInvalidIdempotencyKey naming the field", key, err)
		} else if strings.Contains(err.Error(), key) {
			t.Errorf("error %q contains the key", err)
		}
		if _, err := c.CreateShipment(t.Context(), yubico.ShipmentRequest{IdempotencyKey: key}); !errors.Is(err, yubico.ErrInvalidIdempotencyKey) {
			t.Errorf("CreateShipment(key %q) error = %v, want ErrInvalidIdempotencyKey", key, err)
		}
	}
	if n := mt.GetTotalCallCount(); n != 0 {
		t.Errorf("%d requests sent with invalid keys, want 0", n)
	}
	longest := strings.Repeat("~", yubico.MaxIdempotencyKeyLength)
	if _, err := c.CreateFPRShipment(t.Context(), fprReq(longest)); err != nil {
		t.Errorf("CreateFPRShipment with a %d-byte key: %v", len(longest), err)
	}
	if err := yubico.CheckIdempotencyKey(""); err != nil {
		t.Errorf("CheckIdempotencyKey(\"\") = %v, want nil (no key)", err)
	}
}
