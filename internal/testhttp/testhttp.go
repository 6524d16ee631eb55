// Package testhttp holds the small helpers that the tests of the clients
// (okta, yubico), of their fakes (oktatest, yubicotest) and of the event
// hook's receivers (fulfillment, serve) share: sending a
// request by hand and reading its whole answer, marshalling JSON, and
// catching the t.Fatal of a fake's constructor, and timing one exchange
// in a benchmark against bare net/http's. Every failure fails the test.
package testhttp

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jarcoal/httpmock"

	"github.com/preenroll/preenroll/internal/cputime"
)

// Do sends req with http.DefaultClient and returns the response, its body
// already read in full (the returned bytes) and closed.
func Do(t testing.TB, req *http.Request) (*http.Response, []byte) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

// Get is [Do] of a GET of url under t's context.
func Get(t testing.TB, url string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	return Do(t, req)
}

// PostJSON is [Do] of a POST of body to url under t's context, as an
// application/json request with the Authorization header auth (none when
// auth is empty): an event hook delivery as Okta sends it.
func PostJSON(t testing.TB, url, auth string, body []byte) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	return Do(t, req)
}

// MustJSON returns the JSON encoding of v.
func MustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// JSONResponse is a canned response for an httpmock responder: status, a
// JSON Content-Type, body and the headers hdr names (name, value, ...).
func JSONResponse(status int, body string, hdr ...string) *http.Response {
	r := httpmock.NewStringResponse(status, body)
	r.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Set(hdr[i], hdr[i+1])
	}
	return r
}

// Fatal runs f, in a goroutine of its own, with a testing.TB that is t but
// for Fatal and Fatalf: they record their message and end f, as the real
// ones end a test's goroutine. It returns the message, or "" if f returned
// without calling them: what a constructor such as NewServer(t, opts...)
// would fail the test with.
func Fatal(t testing.TB, f func(testing.TB)) string {
	t.Helper()
	tb := &fatalTB{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		f(tb)
	}()
	<-done
	return tb.msg
}

// fatalTB is the testing.TB of [Fatal].
type fatalTB struct {
	testing.TB
	msg string // set before the goroutine of f ends
}

func (f *fatalTB) Fatal(args ...any) {
	f.msg = fmt.Sprint(args...)
	runtime.Goexit()
}

func (f *fatalTB) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// Exchange is one exchange a benchmark times (see [BenchExchanges]): its
// name, the call, which fails b when the answer is wrong and returns the
// client's error, and Size, the length of the body the call's response
// carries (0: no floor is measured for it).
type Exchange struct {
	Name string
	Call func(b *testing.B) error
	Size int
}

// BenchExchanges runs each exchange as a sub-benchmark, "<name>/ours", and,
// for one with a Size, its floor right after it, "<name>/net-http" (see
// [Floor]), so that a -count above 1 alternates the two. Each runs once
// untimed (the connection is open before timing), then b.N times,
// reporting B/op, allocs/op and cpu-ns/op, the process's CPU time per
// exchange (client, server and collector), which a machine shared with
// other work does not inflate as it does ns/op.
func BenchExchanges(b *testing.B, exchanges ...Exchange) {
	for _, x := range exchanges {
		b.Run(x.Name, func(b *testing.B) {
			b.Run("ours", func(b *testing.B) { benchExchange(b, x.Call) })
			if x.Size > 0 {
				floor := Floor(b, x.Size)
				b.Run("net-http", func(b *testing.B) { benchExchange(b, floor) })
			}
		})
	}
}

func benchExchange(b *testing.B, call func(b *testing.B) error) {
	if err := call(b); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	cpu0 := cputime.Process()
	for b.Loop() {
		if err := call(b); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64((cputime.Process()-cpu0)/time.Nanosecond)/float64(b.N), "cpu-ns/op")
}

// BodySize returns the length of the body a GET of url answers with
// (Authorization set when authorization is not empty), failing tb unless
// it is 200: the Size of an [Exchange].
func BodySize(tb testing.TB, url, authorization string) int {
	tb.Helper()
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, url, nil)
	if err != nil {
		tb.Fatal(err)
	}
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	resp, body := Do(tb, req)
	if resp.StatusCode != http.StatusOK {
		tb.Fatalf("GET %s = %s", url, resp.Status)
	}
	return len(body)
}

// Floor returns the bare net/http exchange an exchange of ours is set
// against: a GET over loopback to an httptest server (closed when tb
// ends) whose handler writes a JSON body of size bytes with its
// Content-Type and Content-Length and nothing else, sent by a plain
// http.Client (no timeout, no wrapping transport) over a keep-alive
// http.Transport, the body read in full into one buffer sized from
// Content-Length as the clients read theirs. What it costs is what any
// client and server of net/http pay for such an exchange on this machine:
// the rest of ours is our client's and our fake's.
func Floor(tb testing.TB, size int) func(b *testing.B) error {
	tb.Helper()
	if size < len(`{"p":""}`) {
		tb.Fatalf("testhttp.Floor: size %d is below the smallest body", size)
	}
	body := []byte(`{"p":"` + strings.Repeat("x", size-len(`{"p":""}`)) + `"}`)
	length := []string{strconv.Itoa(size)}
	ctype := []string{"application/json"}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		h := w.Header()
		h["Content-Type"] = ctype
		h["Content-Length"] = length
		_, _ = w.Write(body)
	}))
	tb.Cleanup(srv.Close)
	tr := &http.Transport{}
	tb.Cleanup(tr.CloseIdleConnections)
	hc := &http.Client{Transport: tr}
	return func(b *testing.B) error {
		req, err := http.NewRequestWithContext(b.Context(), http.MethodGet, srv.URL, nil)
		if err != nil {
			return err
		}
		resp, err := hc.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		data := make([]byte, resp.ContentLength+1)
		n, err := io.ReadFull(resp.Body, data)
		if err != io.ErrUnexpectedEOF { // the read past the body sees its end
			return fmt.Errorf("testhttp: floor read %d of %d bytes: %v", n, resp.ContentLength, err)
		}
		if n != size {
			b.Fatalf("floor body = %d bytes, want %d", n, size)
		}
		return nil
	}
}
