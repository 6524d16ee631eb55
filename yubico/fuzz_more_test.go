package yubico_test

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/preenroll/preenroll/internal/testclock"
	"github.com/preenroll/preenroll/yubico"
)

// headerTransport answers every request with a fuzzed status, Retry-After
// header and body.
type headerTransport struct {
	status     int
	retryAfter string
	body       []byte
}

func (h headerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	hd := http.Header{}
	hd.Set("Retry-After", h.retryAfter)
	hd.Set("Content-Type", "application/json")
	return &http.Response{StatusCode: h.status, Header: hd, Body: io.NopCloser(bytes.NewReader(h.body)), Request: r}, nil
}

// FuzzRetryAfterAndRetries feeds arbitrary statuses, Retry-After headers
// and bodies to a client with the default retry policy on a keyed create
// and a GET: no panic, a bounded number of attempts, RetryAfter never
// negative nor longer than a day, and the token never in an error.
func FuzzRetryAfterAndRetries(f *testing.F) {
	f.Add(429, "1", []byte(`{"error_code":"rate_limited"}`))
	f.Add(503, "Wed, 21 Oct 2015 07:28:00 GMT", []byte(`{}`))
	f.Add(503, "-5", []byte(``))
	f.Add(429, "99999999999999999999", []byte(`{"error_code":7}`))
	f.Add(500, "1e3", []byte(`<html>`))
	f.Fuzz(func(t *testing.T, status int, retryAfter string, body []byte) {
		if status < 200 || status > 599 {
			status = 200 + (status&0x7fffffff)%400
		}
		if strings.ContainsAny(retryAfter, "\r\n") {
			return
		}
		attempts := 0
		rt := headerTransport{status, retryAfter, body}
		c, err := yubico.NewClient(testBase, testToken, yubico.WithHTTPClient(&http.Client{Transport: countingRT{rt, &attempts}}),
			yubico.WithRetryPolicy(yubico.RetryPolicy{MaxRetries: 2, Backoff: func(int) time.Duration { return time.Microsecond }}),
			yubico.WithClock(testclock.New(time.Date(2015, 10, 21, 7, 0, 0, 0, time.UTC))))
		if err != nil {
			t.Fatal(err)
		}
		req := yubico.NewFPRShipmentRequest(yubico.FPRRecipient{Email: "a@example.com", FirstName: "A", LastName: "B"},
			yubico.Address{StreetLine1: "1 Main St", City: "Boston", Region: "MA", PostalCode: "02110", CountryCode: "US"},
			1, 106, "RXJN83", "a.b.c.d.e", []string{"a.b.c.d.e"})
		req.IdempotencyKey = "fuzz-key-1"
		_, err1 := c.CreateFPRShipment(t.Context(), req)
		_, err2 := c.FPRShipment(t.Context(), "abc")
		for _, err := range []error{err1, err2} {
			if err == nil {
				continue
			}
			if strings.Contains(err.Error(), testToken) {
				t.Fatalf("an error shows the token: %v", err)
			}
			var ae *yubico.APIError
			if errors.As(err, &ae) && (ae.RetryAfter < 0 || ae.RetryAfter > 24*time.Hour) {
				t.Fatalf("RetryAfter %v from %q", ae.RetryAfter, retryAfter)
			}
		}
		if attempts > 6 {
			t.Fatalf("%d attempts for two calls with at most 3 each", attempts)
		}
	})
}

type countingRT struct {
	rt http.RoundTripper
	n  *int
}

func (c countingRT) RoundTrip(r *http.Request) (*http.Response, error) {
	*c.n++
	return c.rt.RoundTrip(r)
}
