package httpclient

import (
	"net/http"
	"testing"
	"time"
)

func TestRetryAfter(t *testing.T) {
	now := time.Date(2015, 10, 21, 7, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name       string
		retryAfter string
		date       string
		want       time.Duration
		ok         bool
	}{
		{"absent", "", "", 0, false},
		{"seconds", "7", "", 7 * time.Second, true},
		{"seconds past a day", "172800", "", MaxServerWait, true},
		{"negative seconds", "-3", "", 0, false},
		{"date from the response's Date", "Wed, 21 Oct 2015 07:00:30 GMT", "Wed, 21 Oct 2015 07:00:10 GMT", 20 * time.Second, true},
		{"date without Date: from now", "Wed, 21 Oct 2015 07:00:30 GMT", "", 30 * time.Second, true},
		{"date in the past", "Wed, 21 Oct 2015 06:00:00 GMT", "", 0, true},
		// Found by FuzzRetryAfterAndRetries (yubico): a date years ahead
		// was believed as a two-year wait.
		{"date years ahead", "Wed, 01 OCt 2017 0:00:00 GMT", "", MaxServerWait, true},
		{"malformed", "soon", "", 0, false},
	} {
		h := http.Header{}
		if tc.retryAfter != "" {
			h.Set("Retry-After", tc.retryAfter)
		}
		if tc.date != "" {
			h.Set("Date", tc.date)
		}
		if got, ok := RetryAfter(h, now); got != tc.want || ok != tc.ok {
			t.Errorf("%s: RetryAfter = %v, %v; want %v, %v", tc.name, got, ok, tc.want, tc.ok)
		}
	}
}
