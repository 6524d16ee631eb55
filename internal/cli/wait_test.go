package cli

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/preenroll/preenroll/okta/oktatest"
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
