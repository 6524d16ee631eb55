package yubico_test

import (
	"errors"
	"io"
	"net/http"
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

	t.Run("503 then success, same key", func(t *testing.T) {
		t.Parallel()
		c, mt := newMockClient(t, yubico.WithRetryPolicy(policy))
		rec := &keyRecorder{then: []httpmock.Responder{httpmock.NewStringResponder(503, ``), created}}
		mt.RegisterResponder("POST", testBase+"/fpr/shipments", rec.responder)
		s, err := c.CreateFPRShipment(t.Context(), fprReq("k-1"))
		if err != nil || s.ID != "F1" {
			t.Fatalf("CreateFPRShipment() = %+v, %v; want F1", s, err)
		}
		keys, bodies := rec.seen()
		if len(keys) != 2 || keys[0] != "k-1" || keys[1] != "k-1" || bodies[0] != bodies[1] {
			t.Errorf("attempts sent keys %q; want two attempts with key k-1 and the same body", keys)
		}
	})
	t.Run("transport error and 429 then success", func(t *testing.T) {
		t.Parallel()
		c, mt := newMockClient(t, yubico.WithRetryPolicy(policy))
		rec := &keyRecorder{then: []httpmock.Responder{httpmock.ConnectionFailure, httpmock.NewStringResponder(429, ``), created}}
		mt.RegisterResponder("POST", testBase+"/fpr/shipments", rec.responder)
		if _, err := c.CreateFPRShipment(t.Context(), fprReq("k-2")); err != nil {
			t.Fatalf("CreateFPRShipment: %v", err)
		}
		if keys, _ := rec.seen(); len(keys) != 3 {
			t.Errorf("attempts = %d, want 3", len(keys))
		}
	})
	t.Run("gives up after the policy's attempts", func(t *testing.T) {
		t.Parallel()
		c, mt := newMockClient(t, yubico.WithRetryPolicy(policy))
		rec := &keyRecorder{then: []httpmock.Responder{httpmock.NewStringResponder(502, ``)}}
		mt.RegisterResponder("POST", testBase+"/fpr/shipments", rec.responder)
		_, err := c.CreateFPRShipment(t.Context(), fprReq("k-3"))
		if !errors.Is(err, yubico.ErrServer) || !strings.Contains(err.Error(), "after 3 attempts") {
			t.Errorf("error = %v, want ErrServer after 3 attempts", err)
		}
	})
	for _, tc := range []struct {
		name string
		resp httpmock.Responder
	}{
		{"503", httpmock.NewStringResponder(503, ``)},
		{"transport error", httpmock.ConnectionFailure},
	} {
		t.Run("no key, "+tc.name+" not retried", func(t *testing.T) {
			t.Parallel()
			c, mt := newMockClient(t, yubico.WithRetryPolicy(policy))
			rec := &keyRecorder{then: []httpmock.Responder{tc.resp, created}}
			mt.RegisterResponder("POST", testBase+"/fpr/shipments", rec.responder)
			if _, err := c.CreateFPRShipment(t.Context(), fprReq("")); err == nil {
				t.Fatal("CreateFPRShipment succeeded; want the first failure returned")
			}
			if keys, _ := rec.seen(); len(keys) != 1 || keys[0] != "<none>" {
				t.Errorf("attempts sent %q, want one attempt without a key", keys)
			}
		})
	}
	t.Run("422 key reused is a conflict, not retried", func(t *testing.T) {
		t.Parallel()
		c, mt := newMockClient(t, yubico.WithRetryPolicy(policy))
		rec := &keyRecorder{then: []httpmock.Responder{httpmock.NewStringResponder(422,
			`{"error_code":"idempotency_key_reused","message":"Idempotency-Key \"k-4\" was already used for a different request"}`), created}}
		mt.RegisterResponder("POST", testBase+"/fpr/shipments", rec.responder)
		_, err := c.CreateFPRShipment(t.Context(), fprReq("k-4"))
		if !errors.Is(err, yubico.ErrConflict) || errors.Is(err, yubico.ErrValidation) {
			t.Errorf("error = %v, want ErrConflict only", err)
		}
		if keys, _ := rec.seen(); len(keys) != 1 {
			t.Errorf("attempts = %d, want 1", len(keys))
		}
	})
	t.Run("update ignores the key and is not retried", func(t *testing.T) {
		t.Parallel()
		c, mt := newMockClient(t, yubico.WithRetryPolicy(policy))
		rec := &keyRecorder{then: []httpmock.Responder{httpmock.NewStringResponder(503, ``), created}}
		mt.RegisterResponder("PUT", testBase+"/shipments_exact/abc", rec.responder)
		if _, err := c.UpdateShipment(t.Context(), "abc", yubico.ShipmentRequest{IdempotencyKey: "k-5"}); !errors.Is(err, yubico.ErrServer) {
			t.Errorf("error = %v, want ErrServer", err)
		}
		if keys, _ := rec.seen(); len(keys) != 1 || keys[0] != "<none>" {
			t.Errorf("attempts sent %q, want one attempt without a key", keys)
		}
	})
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
