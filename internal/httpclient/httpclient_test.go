package httpclient

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"testing/iotest"
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

func TestReadBounded(t *testing.T) {
	body := strings.Repeat("x", 1000)
	for _, tc := range []struct {
		name      string
		size      int64 // the declared length
		limit     int64
		want      int // bytes returned
		wantLarge bool
	}{
		{"unknown length", -1, 4096, 1000, false},
		{"declared length", 1000, 4096, 1000, false},
		{"declared length short of the body", 10, 4096, 1000, false},
		{"declared length over the limit", 1000, 999, 999, true},
		{"unknown length over the limit", -1, 10, 10, true},
		{"exactly the limit", 1000, 1000, 1000, false},
		{"empty", 0, 10, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := body
			if tc.size == 0 {
				r = ""
			}
			got, err := ReadBounded(strings.NewReader(r), tc.size, tc.limit)
			if len(got) != tc.want || string(got) != r[:tc.want] {
				t.Errorf("read %d bytes, want the first %d", len(got), tc.want)
			}
			if errors.Is(err, ErrBodyTooLarge) != tc.wantLarge || (err != nil && !tc.wantLarge) {
				t.Errorf("error = %v, want ErrBodyTooLarge: %v", err, tc.wantLarge)
			}
		})
	}
	failing := io.MultiReader(strings.NewReader("abc"), iotest.ErrReader(io.ErrUnexpectedEOF))
	if got, err := ReadBounded(failing, 10, 100); !errors.Is(err, io.ErrUnexpectedEOF) || string(got) != "abc" {
		t.Errorf("ReadBounded(failing reader) = %q, %v; want \"abc\" and its error", got, err)
	}
}

// TestReadAtMost: the first n bytes of the body, whatever the first
// buffer's capacity, as io.ReadAll(io.LimitReader(r, n)) reads them.
func TestReadAtMost(t *testing.T) {
	body := strings.Repeat("0123456789", 100)
	for _, c := range []int64{0, 1, 10, 999, 1000, 1001, 4096} {
		for _, n := range []int64{1, 10, 999, 1000, 1001, 4096} {
			got, err := ReadAtMost(iotest.HalfReader(strings.NewReader(body)), c, n)
			want, _ := io.ReadAll(io.LimitReader(strings.NewReader(body), n))
			if err != nil || string(got) != string(want) {
				t.Errorf("ReadAtMost(c=%d, n=%d) = %d bytes, %v; want the first %d", c, n, len(got), err, len(want))
			}
		}
	}
}

// BenchmarkReadBounded reads a 300 KB body (a page of 200 Okta users is
// about that) with and without its length declared.
func BenchmarkReadBounded(b *testing.B) {
	body := strings.Repeat("x", 300_000)
	for _, size := range []int64{-1, int64(len(body))} {
		b.Run(fmt.Sprintf("size=%d", size), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := ReadBounded(strings.NewReader(body), size, DefaultMaxBodySize); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
