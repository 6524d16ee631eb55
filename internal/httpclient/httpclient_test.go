package httpclient

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
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

// TestSleepPastDeadline: a wait that would end after ctx's deadline is
// refused at once; a done ctx still reports its own error.
func TestSleepPastDeadline(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), time.Hour)
	defer cancel()
	start := time.Now()
	if err := Sleep(ctx, 2*time.Hour); !errors.Is(err, ErrPastDeadline) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Sleep(2h) with 1h left = %v, want ErrPastDeadline wrapping context.DeadlineExceeded", err)
	}
	if d := time.Since(start); d > time.Minute {
		t.Errorf("Sleep took %v, want an immediate refusal", d)
	}
	cancel()
	if err := Sleep(ctx, 2*time.Hour); !errors.Is(err, context.Canceled) {
		t.Errorf("Sleep on a canceled ctx = %v, want context.Canceled", err)
	}
}
