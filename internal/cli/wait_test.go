package cli

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/preenroll/preenroll/okta/oktatest"
	"github.com/preenroll/preenroll/webauthn"
)

// orgClock is the clock of a fake org: a wait advances the org's time, so
// that its rate-limit windows reset as the client waits for them. It counts
// the waits.
type orgClock struct {
	srv   *oktatest.Server
	mu    sync.Mutex
	waits int
}

func (c *orgClock) Now() time.Time { return c.srv.Now() }

func (c *orgClock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	c.waits++
	c.mu.Unlock()
	return c.srv.Advance(max(d, 0))
}

// A batch paced below one request a second (a bucket of 6 a minute) waits
// seconds before most requests: the command says once that it paces them,
// not once a wait as a rate-limit reset, and announces at most one reset a
// window.
func TestBatchPacedBelowOneRequestASecond(t *testing.T) {
	t.Parallel()
	const users = 8
	o := newOrg(t, oktatest.WithRateLimit("/api/v1/users", 6))
	var csv strings.Builder
	csv.WriteString("login\n")
	for i := range users {
		login := fmt.Sprintf("p%d@example.com", i)
		o.addUser(t, login)
		csv.WriteString(login + "\n")
	}
	csvFile := writeFile(t, "users.csv", csv.String())
	clock := &orgClock{srv: o.srv}
	start := o.srv.Now()
	var stdout, stderr bytes.Buffer
	d := &deps{getenv: func(string) string { return "" }, clock: clock, slowAfter: time.Hour}
	code := run(t.Context(), append([]string{"batch", "-csv", csvFile, "-customization", "C1", "-concurrency", "1"}, o.args()...),
		strings.NewReader(""), &stdout, &stderr, d)
	windows := int(o.srv.Now().Sub(start)/time.Minute) + 1
	pacing := strings.Count(stderr.String(), "preenroll: pacing requests to stay within Okta's rate limit")
	resets := strings.Count(stderr.String(), "for Okta's rate limit to reset")
	if code != 0 || !strings.Contains(stdout.String(), fmt.Sprintf("batch: %d rows: %d ordered", users, users)) ||
		pacing != 1 || resets > windows || clock.waits <= windows {
		t.Errorf("exit %d, %d waits in %d windows, %d pacing and %d reset notices, want 1 and at most one a window\nstdout:\n%s\nstderr:\n%s",
			code, clock.waits, windows, pacing, resets, stdout.String(), stderr.String())
	}
}

// A Yubico 429 is announced like an Okta 429: once for the wait its
// Retry-After asks for, not again by another request waiting out the same
// reset (the yubico client tells its clock that a 429's wait is a rate
// limit's, not a retry's). The two requests are made one after the other
// on a clock that stands still, as if they had waited together.
func TestYubico429AnnouncedOncePerReset(t *testing.T) {
	t.Parallel()
	var (
		mu   sync.Mutex
		seen = map[string]bool{}
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		again := seen[r.URL.Path]
		seen[r.URL.Path] = true
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if !again {
			w.Header().Set("Retry-After", "3")
			w.WriteHeader(http.StatusTooManyRequests)
			fmt.Fprint(w, `{"message":"slow down"}`)
			return
		}
		fmt.Fprintf(w, `{"shipment_id":%q,"shipment_state_id":10}`, path.Base(r.URL.Path))
	}))
	t.Cleanup(srv.Close)
	var stderr bytes.Buffer
	inv := &Invocation{
		Config: &Config{YubicoAPI: srv.URL, yubicoToken: webauthn.Secret("yubico-token")},
		Stderr: &stderr,
		deps:   &deps{clock: &concurrentClock{now: testStart}, slowAfter: time.Hour},
	}
	c, err := newYubicoClient(inv)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"a", "b"} {
		if _, err := c.Shipment(t.Context(), id); err != nil {
			t.Fatal(err)
		}
	}
	want := "preenroll: Yubico answered GET /shipments_exact/a with HTTP 429; retrying in 3s\n"
	if diff := cmp.Diff(want, stderr.String()); diff != "" {
		t.Errorf("notices (-want +got):\n%s", diff)
	}
}
