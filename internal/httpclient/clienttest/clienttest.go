// Package clienttest holds the test helpers the okta and yubico client tests
// share: one table-driven check of NewClient's argument validation, run by
// each client's own test with its own cases.
package clienttest

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"
)

// NewClientCase is one NewClient call: its URL, token and options, and
// whether the call must fail.
type NewClientCase[O any] struct {
	Name    string
	URL     string
	Token   string
	Opts    []O
	WantErr bool
}

// CheckNewClient runs every case through newClient, in parallel subtests. A
// case with WantErr must fail with an error wrapping invalid (the client's
// ErrInvalidArgument) that does not contain the token; any other case must
// return a non-nil client and no error. A last subtest checks that
// withHTTPClient (the client's WithHTTPClient) leaves the caller's
// http.Client as it was, with the URL and token of the first case that
// succeeds.
func CheckNewClient[O any, C comparable](t *testing.T, newClient func(url, token string, opts ...O) (C, error), withHTTPClient func(*http.Client) O, invalid error, cases []NewClientCase[O]) {
	t.Helper()
	var none C
	var ok *NewClientCase[O]
	for _, tc := range cases {
		if !tc.WantErr && ok == nil {
			ok = &tc
		}
		t.Run(tc.Name, func(t *testing.T) {
			t.Parallel()
			c, err := newClient(tc.URL, tc.Token, tc.Opts...)
			switch {
			case tc.WantErr && !errors.Is(err, invalid):
				t.Fatalf("NewClient(%q) = %v, %v; want an error wrapping %v", tc.URL, c, err, invalid)
			case tc.WantErr && tc.Token != "" && strings.Contains(err.Error(), tc.Token):
				t.Errorf("error %q contains the token", err)
			case !tc.WantErr && err != nil:
				t.Fatalf("NewClient(%q) error = %v, want nil", tc.URL, err)
			case !tc.WantErr && c == none:
				t.Fatal("NewClient returned a nil client and a nil error")
			}
		})
	}
	if ok == nil {
		t.Fatal("no case succeeds: nothing to check WithHTTPClient with")
	}
	t.Run("WithHTTPClient copies", func(t *testing.T) {
		t.Parallel()
		rt := http.RoundTripper(&http.Transport{})
		hc := &http.Client{Transport: rt, Timeout: 5 * time.Second}
		if _, err := newClient(ok.URL, ok.Token, withHTTPClient(hc)); err != nil {
			t.Fatal(err)
		}
		if hc.Transport != rt || hc.Timeout != 5*time.Second {
			t.Errorf("WithHTTPClient modified the caller's client: %+v", hc)
		}
	})
}
