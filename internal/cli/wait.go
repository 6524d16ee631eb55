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
// slowAfter, and every wait of the client, for the reason the client gives
// in the ctx of its Sleep (httpclient.WaitReasonOf). It is the HTTP
// transport and the clock of one client (Okta or Yubico). Only the method
// and path of a request are printed: never a header, a query or a body.
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
	paced   bool      // pacing has been announced
	waitEnd time.Time // when the last rate-limit wait announced ends

	retried  string    // the problem of the last retry announced
	retryEnd time.Time // when that retry's wait ends
}

// paceNoticeAfter is the shortest wait for a rate-limit window's reset
// announced, and how close the ends of two such waits are for them to be
// the same reset. The okta client paces a bucket's requests over its
// window (okta.RetryPolicy), so a batch waits a little before most
// requests once Okta's X-Rate-Limit-* headers are known: that is announced
// once a command, not once a wait. A wait for the window's reset (its
// budget is used up, by this command or by others sharing the org's
// bucket, or a 429 blocked it) is announced once, not again by every
// request that waits for the same reset.
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
//
// The reason is the client's (see httpclient.WaitReason); the text of a
// retry is the client's last failed attempt, which need not be the one
// retried (the clock cannot know which request waits), so a retry after
// another request's success is told without it.
func (r *waitReporter) Sleep(ctx context.Context, d time.Duration) error {
	r.mu.Lock()
	problem := r.problem
	r.mu.Unlock()
	why := httpclient.WaitReasonOf(ctx)
	if problem == "" {
		switch why {
		case httpclient.WaitRateLimited:
			problem = fmt.Sprintf("%s refused a request with HTTP 429 (rate limit)", r.service)
		case httpclient.WaitRetry:
			problem = fmt.Sprintf("a request to %s failed", r.service)
		}
	}
	wait := d.Round(time.Millisecond)
	_, wall := r.clock.(httpclient.WallClock)
	if wall && httpclient.Outlasts(ctx, d) {
		switch why {
		case httpclient.WaitPacing:
			r.print(fmt.Sprintf("not waiting %v to pace requests within %s's rate limit: that is past the command's deadline", wait, r.service))
		case httpclient.WaitReset:
			r.print(fmt.Sprintf("not waiting %v for %s's rate limit to reset: that is past the command's deadline", wait, r.service))
		case httpclient.WaitRateLimited, httpclient.WaitRetry:
			r.print(fmt.Sprintf("%s; not retrying in %v: that is past the command's deadline", problem, wait))
		default:
			r.print(fmt.Sprintf("not waiting %v before the next request to %s: that is past the command's deadline", wait, r.service))
		}
		return r.clock.Sleep(ctx, d)
	}
	switch why {
	case httpclient.WaitPacing:
		if r.announcePacing() {
			r.print(fmt.Sprintf("pacing requests to stay within %s's rate limit (waits before most requests)", r.service))
		}
	case httpclient.WaitReset:
		if r.announceWait(d, paceNoticeAfter) {
			r.print(fmt.Sprintf("waiting %v for %s's rate limit to reset", wait, r.service))
		}
	case httpclient.WaitRateLimited:
		if r.announceWait(d, 0) {
			r.print(fmt.Sprintf("%s; retrying in %v", problem, wait))
		}
	case httpclient.WaitRetry:
		if r.announceRetry(problem, d) {
			r.print(fmt.Sprintf("%s; retrying in %v", problem, wait))
		}
	default:
		if r.announceWait(d, paceNoticeAfter) {
			r.print(fmt.Sprintf("waiting %v before the next request to %s", wait, r.service))
		}
	}
	return r.clock.Sleep(ctx, d)
}

// announcePacing reports whether pacing is to be announced: the first time
// only.
func (r *waitReporter) announcePacing() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	first := !r.paced
	r.paced = true
	return first
}

// announceWait reports whether a wait of d, from now, for a rate limit's
// reset is worth a notice: at least shortest, and not ending within
// paceNoticeAfter of the last one announced (the same reset, which the
// batch's other requests wait for too: after a 429 the okta client's
// other requests wait for it, their ends spread by the 429's jitter, and
// the yubico client's requests refused together wait out the same
// Retry-After).
func (r *waitReporter) announceWait(d, shortest time.Duration) bool {
	if d < shortest {
		return false
	}
	end := r.clock.Now().Add(d)
	r.mu.Lock()
	defer r.mu.Unlock()
	if sameEnd(end, r.waitEnd) {
		return false
	}
	r.waitEnd = end
	return true
}

// announceRetry reports whether a wait of d, from now, before a retry
// after problem is worth a notice: not if a wait after the same problem
// was announced, is still going on and ends within paceNoticeAfter of this
// one (requests that failed alike at once, retried together). A retry that
// starts after the announced wait has ended is announced again.
func (r *waitReporter) announceRetry(problem string, d time.Duration) bool {
	now := r.clock.Now()
	end := now.Add(d)
	r.mu.Lock()
	defer r.mu.Unlock()
	if problem == r.retried && now.Before(r.retryEnd) && sameEnd(end, r.retryEnd) {
		return false
	}
	r.retried, r.retryEnd = problem, end
	return true
}

// sameEnd reports whether waits ending at a and b end within
// paceNoticeAfter of each other: they wait for the same thing.
func sameEnd(a, b time.Time) bool {
	return a.After(b.Add(-paceNoticeAfter)) && a.Before(b.Add(paceNoticeAfter))
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
