package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/preenroll/preenroll/internal/httpclient"
	"github.com/preenroll/preenroll/okta"
)

// waitReporter tells the administrator what a command is waiting for,
// instead of minutes of silence: a request that has had no answer for
// slowAfter, and every wait before a retry with the problem that caused
// it. It is the HTTP transport and the clock of one client (Okta or
// Yubico). Only the method and path of a request are printed: never a
// header, a query or a body.
type waitReporter struct {
	service   string // "Okta"
	w         io.Writer
	base      http.RoundTripper
	clock     okta.Clock
	slowAfter time.Duration
	timeout   time.Duration // the client's per-request timeout, for the notice

	mu      sync.Mutex
	problem string // the last failed attempt, "" after a success
	last    string // the last notice printed
	lastAt  time.Time
	waitEnd time.Time // when the last rate-limit wait announced ends

	retried  string    // the problem of the last retry announced
	retryEnd time.Time // when that retry's wait ends
}

// paceNoticeAfter is the shortest rate-limit wait announced. The okta
// client paces a bucket's requests over its window (okta.RetryPolicy), so
// a batch waits a little before most requests once Okta's X-Rate-Limit-*
// headers are known: a line for each of those would bury the batch's
// output. A longer wait (the window's budget is used up, by this command
// or by others sharing the org's bucket) is announced once, not again by
// every request that waits for the same reset.
const paceNoticeAfter = time.Second

// RoundTrip sends req and notes how it failed.
func (r *waitReporter) RoundTrip(req *http.Request) (*http.Response, error) {
	what := req.Method + " " + req.URL.EscapedPath()
	t := time.AfterFunc(r.slowAfter, func() {
		r.notice(fmt.Sprintf("waiting for %s to answer %s: no answer after %v (each try gives up after %v)",
			r.service, what, r.slowAfter, r.timeout))
	})
	resp, err := r.base.RoundTrip(req)
	t.Stop()
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case err != nil:
		r.problem = fmt.Sprintf("%s %s failed: %s", r.service, what, transportProblem(err))
	case resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests:
		r.problem = fmt.Sprintf("%s answered %s with HTTP %d", r.service, what, resp.StatusCode)
	default:
		r.problem = ""
	}
	return resp, err
}

// transportProblem is the cause of a transport error, without the URL
// (which the notice already names).
func transportProblem(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return "no answer in time"
	}
	return safe(err.Error())
}

// Now is the wrapped clock's.
func (r *waitReporter) Now() time.Time { return r.clock.Now() }

// Sleep says why the client waits, then waits. A wait the wall clock
// refuses (it would pass the command's deadline, see httpclient.Sleep) is
// reported as not made.
func (r *waitReporter) Sleep(ctx context.Context, d time.Duration) error {
	r.mu.Lock()
	problem := r.problem
	r.mu.Unlock()
	wait := d.Round(time.Millisecond)
	_, wall := r.clock.(httpclient.WallClock)
	refused := wall && httpclient.Outlasts(ctx, d)
	switch {
	case refused && problem == "":
		r.print(fmt.Sprintf("not waiting %v for %s's rate limit to reset: that is past the command's deadline", wait, r.service))
	case refused:
		r.print(fmt.Sprintf("%s; not retrying in %v: that is past the command's deadline", problem, wait))
	case problem == "":
		if r.announceWait(d) {
			r.print(fmt.Sprintf("waiting %v for %s's rate limit to reset", wait, r.service))
		}
	default:
		if r.announceRetry(problem, d) {
			r.print(fmt.Sprintf("%s; retrying in %v", problem, wait))
		}
	}
	return r.clock.Sleep(ctx, d)
}

// announceWait reports whether a rate-limit wait of d, from now, is worth
// a notice: at least paceNoticeAfter, and not ending within
// paceNoticeAfter of the last one announced (the same reset, which the
// batch's other requests wait for too).
func (r *waitReporter) announceWait(d time.Duration) bool {
	if d < paceNoticeAfter {
		return false
	}
	end := r.clock.Now().Add(d)
	r.mu.Lock()
	defer r.mu.Unlock()
	if end.Before(r.waitEnd.Add(paceNoticeAfter)) {
		return false
	}
	r.waitEnd = end
	return true
}

// announceRetry reports whether a wait of d, from now, after problem is
// worth a notice: not if a wait after the same problem was announced, is
// still going on and ends within paceNoticeAfter of this one. problem is
// the client's last failed attempt, not this goroutine's: after a 429 the
// okta client's other requests wait for the same reset (the 429's jitter
// spreads their ends over up to a second), and each of them would
// otherwise be announced as a retry of the refused request. A retry that
// starts after the announced wait has ended is announced again.
func (r *waitReporter) announceRetry(problem string, d time.Duration) bool {
	now := r.clock.Now()
	end := now.Add(d)
	r.mu.Lock()
	defer r.mu.Unlock()
	if problem == r.retried && now.Before(r.retryEnd) &&
		end.After(r.retryEnd.Add(-paceNoticeAfter)) && end.Before(r.retryEnd.Add(paceNoticeAfter)) {
		return false
	}
	r.retried, r.retryEnd = problem, end
	return true
}

// noticeRepeat is how long an identical slow-request notice is not
// repeated (several users of a batch wait on the same request at once).
const noticeRepeat = 5 * time.Second

// notice prints a slow-request notice, unless it repeats the previous one
// within noticeRepeat.
func (r *waitReporter) notice(msg string) {
	r.mu.Lock()
	now := r.clock.Now()
	if msg == r.last && now.Sub(r.lastAt) < noticeRepeat {
		r.mu.Unlock()
		return
	}
	r.last, r.lastAt = msg, now
	r.mu.Unlock()
	r.print(msg)
}

// print prints one notice line.
func (r *waitReporter) print(msg string) {
	fmt.Fprintf(r.w, "preenroll: %s\n", msg)
}
