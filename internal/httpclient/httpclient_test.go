package httpclient

import (
	"strings"
	"testing"
)

func TestParseURL(t *testing.T) {
	for _, tc := range []struct {
		raw     string
		wantErr string // "" for success
	}{
		{"https://example.okta.com", ""},
		{"https://example.okta.com/v1?x=1", ""}, // path and query are the caller's to refuse
		{"http://127.0.0.1:8080", ""},
		{"http://localhost:1", ""},
		{"http://[::1]:9/v1", ""},
		{"", "is not an absolute https URL"},
		{"example.okta.com", "is not an absolute https URL"},
		{"ftp://example.okta.com", "is not an absolute https URL"},
		{"http://example.okta.com", "plain http is only allowed for loopback hosts"},
		{"https://user:hunter2@example.okta.com", "must not contain user information"},
		{"ftp://user:hunter2@example.okta.com", "is not an absolute https URL"},
	} {
		u, err := ParseURL(tc.raw)
		switch {
		case tc.wantErr == "" && (err != nil || u == nil):
			t.Errorf("ParseURL(%q) = %v, %v; want a URL", tc.raw, u, err)
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("ParseURL(%q) error = %v, want %q", tc.raw, err, tc.wantErr)
		case err != nil && strings.Contains(err.Error(), "hunter2"):
			t.Errorf("ParseURL(%q) error %q reveals the password", tc.raw, err)
		}
	}
}
