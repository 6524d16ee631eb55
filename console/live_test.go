package console

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/preenroll/preenroll/fulfillment"
	"github.com/preenroll/preenroll/fulfillment/fulfillmenttest"
)

// The event stream over HTTP, with a browser that stops reading. Over TCP
// the kernel's buffers would take the server's writes for a while, so
// when the queue overflows would depend on their size; over an in-memory
// pipe (net.Pipe) a write waits until the client reads it, so a client
// that stops reading stops the stream's writes at once, and the test
// decides exactly which events queue up and which are lost.

// pipeServer serves the rig's console over in-memory pipes: client's
// requests to the rig's address (so its cookie jar sends the session)
// reach the console through a pipe.
type pipeServer struct {
	client *http.Client
	// writes gets a value (if it has room) whenever the server starts a
	// write to a client: once the client has read all it was sent, the
	// next value means the stream is writing, and, the client not
	// reading, waits there.
	writes chan struct{}
	// served gets the path of every request whose handler has returned.
	served chan string

	conns  chan net.Conn
	closed chan struct{}
	once   sync.Once

	// mu guards stopped and open: after stopReading the server's write
	// deadlines apply to the pipes (see signalingConn.SetWriteDeadline).
	mu      sync.Mutex
	stopped bool
	open    []*signalingConn
}

// servePipes starts a server of r's console on pipes for the session in
// jar's client hc; it stops at the end of the test.
func servePipes(t *testing.T, r *rig, hc *http.Client) *pipeServer {
	t.Helper()
	p := &pipeServer{
		writes: make(chan struct{}, 1),
		served: make(chan string, 16),
		conns:  make(chan net.Conn),
		closed: make(chan struct{}),
	}
	h := r.c.routes()
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		h.ServeHTTP(w, req)
		select {
		case p.served <- req.URL.Path:
		default: // nobody waits for it: a test makes fewer requests than served holds
		}
	})}
	go func() { _ = srv.Serve(p) }() // http.ErrServerClosed once srv.Close ends it
	tr := &http.Transport{DialContext: p.dial}
	p.client = &http.Client{Jar: hc.Jar, Transport: tr, CheckRedirect: hc.CheckRedirect}
	t.Cleanup(func() {
		tr.CloseIdleConnections()
		srv.Close()
	})
	return p
}

// Accept, Close and Addr make p the server's net.Listener.
func (p *pipeServer) Accept() (net.Conn, error) {
	select {
	case c := <-p.conns:
		return c, nil
	case <-p.closed:
		return nil, net.ErrClosed
	}
}

func (p *pipeServer) Close() error {
	p.once.Do(func() { close(p.closed) })
	return nil
}

func (p *pipeServer) Addr() net.Addr { return pipeAddr{} }

type pipeAddr struct{}

func (pipeAddr) Network() string { return "pipe" }
func (pipeAddr) String() string  { return "pipe" }

// dial is the client's DialContext: a new pipe, whose server end the
// server accepts.
func (p *pipeServer) dial(ctx context.Context, _, _ string) (net.Conn, error) {
	server, client := net.Pipe()
	c := &signalingConn{Conn: server, writes: p.writes, p: p}
	p.mu.Lock()
	p.open = append(p.open, c)
	p.mu.Unlock()
	select {
	case p.conns <- c:
		return client, nil
	case <-p.closed:
		return nil, net.ErrClosed
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// signalingConn is the server's end of a pipe, which reports the start of
// each write, and holds the server's write deadlines back until the test
// says the client stopped reading (pipeServer.stopReading).
type signalingConn struct {
	net.Conn
	writes chan<- struct{}
	p      *pipeServer

	mu   sync.Mutex
	held time.Time // the deadline last set before stopReading
}

// SetWriteDeadline sets the pipe's write deadline once the client has
// stopped reading; before, it holds it back. A deadline is wall time: a
// short one (TestStreamEndsWhenTheBrowserTakesNothing's 50 ms) must bound
// only the write that nobody reads, not a write that the client reads but
// that a loaded machine does not schedule within the deadline.
func (c *signalingConn) SetWriteDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.p.mu.Lock()
	stopped := c.p.stopped
	c.p.mu.Unlock()
	if !stopped && !t.IsZero() {
		c.held = t
		return nil
	}
	c.held = time.Time{}
	return c.Conn.SetWriteDeadline(t)
}

// stopReading tells the pipes that their client reads no more: the write
// deadlines the server sets from now on apply, and so does the one it set
// last, for a write already waiting.
func (p *pipeServer) stopReading() {
	p.mu.Lock()
	p.stopped = true
	open := slices.Clone(p.open)
	p.mu.Unlock()
	for _, c := range open {
		c.mu.Lock()
		if !c.held.IsZero() {
			_ = c.Conn.SetWriteDeadline(c.held)
			c.held = time.Time{}
		}
		c.mu.Unlock()
	}
}

func (c *signalingConn) Write(b []byte) (int, error) {
	select {
	case c.writes <- struct{}{}:
	default:
	}
	return c.Conn.Write(b)
}

// stream opens the events endpoint through the pipes; the stream is then
// idle, waiting for events, and p.writes empty.
func (p *pipeServer) stream(t *testing.T, ctx context.Context, r *rig) (*http.Response, *bufio.Reader) {
	t.Helper()
	resp, rd := openStream(t, ctx, p.client, r.srv.URL+"/events")
	select { // the writes up to here, all read
	case <-p.writes:
	default:
	}
	return resp, rd
}

// openStream opens the event stream at url with hc's session and reads up
// to its ": connected" comment. The response is closed at the end of t.
func openStream(t *testing.T, ctx context.Context, hc *http.Client, url string) (*http.Response, *bufio.Reader) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "text/event-stream")
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("GET %s = %d %q, want 200 text/event-stream", url, resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	rd := bufio.NewReader(resp.Body)
	for line := ""; line != ": connected\n"; {
		if line, err = rd.ReadString('\n'); err != nil {
			t.Fatalf("the stream before ': connected': %v", err)
		}
	}
	return resp, rd
}

// writing waits until the server starts a write to the client (which
// has read all it was sent before).
func (p *pipeServer) writing(t *testing.T, ctx context.Context) {
	t.Helper()
	select {
	case <-p.writes:
	case <-ctx.Done():
		t.Fatal("the event stream wrote nothing")
	}
}

// handlerReturned waits until the handler of a request for path returns.
func (p *pipeServer) handlerReturned(t *testing.T, ctx context.Context, path string) {
	t.Helper()
	for {
		select {
		case got := <-p.served:
			if got == path {
				return
			}
		case <-ctx.Done():
			t.Fatalf("the handler of %s did not return", path)
		}
	}
}

// sseEvent is one server-sent event: its type and its data line.
type sseEvent struct {
	Kind, Data string
}

// readEvent reads the next event of a stream, skipping comments and the
// retry field, as a browser's EventSource does.
func readEvent(rd *bufio.Reader) (sseEvent, error) {
	var e sseEvent
	for {
		line, err := rd.ReadString('\n')
		if err != nil {
			return e, err
		}
		line = strings.TrimSuffix(line, "\n")
		switch {
		case line == "":
			if e != (sseEvent{}) {
				return e, nil
			}
		case strings.HasPrefix(line, ":"), strings.HasPrefix(line, "retry: "):
		case strings.HasPrefix(line, "event: "):
			e.Kind = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			e.Data = strings.TrimPrefix(line, "data: ")
		default:
			return e, fmt.Errorf("not a server-sent event line: %q", line)
		}
	}
}

// version is the version of a record event: the tests number their
// events by it.
func version(t *testing.T, e sseEvent) int64 {
	t.Helper()
	var re recordEvent
	if e.Kind != "record" {
		t.Fatalf("event %+v, want a record event", e)
	}
	if err := json.Unmarshal([]byte(e.Data), &re); err != nil {
		t.Fatalf("record event %q: %v", e.Data, err)
	}
	return re.Version
}

// publishVersions publishes a record event for each version in [from, to].
func (h *hub) publishVersions(from, to int64) {
	for v := from; v <= to; v++ {
		h.recordChanged(fulfillment.RecordChange{UserID: "00u-live", Status: fulfillment.FulfillmentStarted, Step: fulfillment.StepInitiated, Version: v})
	}
}

// subscribers returns how many streams the hub feeds.
func (h *hub) subscribers() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.subs)
}

// resyncDue reports whether a resync waits for any subscriber.
func (h *hub) resyncDue() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	for sub := range h.subs {
		if len(sub.missed) > 0 {
			return true
		}
	}
	return false
}

// TestStreamResyncsASlowBrowser: a browser that stops reading while more
// events are published than its queue holds gets, once it reads again,
// the events its queue held, in order, and one resync for those that did
// not fit (which it never gets); the events published after that all
// come, in order, with no other resync.
func TestStreamResyncsASlowBrowser(t *testing.T) {
	r := newRig(t, nil)
	p := servePipes(t, r, r.signIn("reader@example.com"))
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second) // bounds a broken stream's wait
	defer cancel()
	_, rd := p.stream(t, ctx, r)

	// Event 1 is taken from the queue and written; the browser does not
	// read it, so the stream waits there while 2 to 65 fill the queue and
	// 66 to 68 find it full.
	const queued = subscriberBuffer + 1
	r.c.live.publishVersions(1, 1)
	p.writing(t, ctx)
	r.c.live.publishVersions(2, queued)
	r.c.live.publishVersions(queued+1, queued+3)
	if !r.c.live.resyncDue() {
		t.Fatal("no resync due after the queue overflowed")
	}

	// The browser reads again: event 1, then the queued events in order,
	// with one resync among them (which comes first, the stream does not
	// promise: the page fetches itself either way).
	var got []int64
	resyncs := 0
	for len(got) < queued {
		e, err := readEvent(rd)
		if err != nil {
			t.Fatalf("after %d events: %v", len(got), err)
		}
		if e.Kind == "resync" {
			resyncs++
			continue
		}
		got = append(got, version(t, e))
	}
	for resyncs == 0 {
		e, err := readEvent(rd)
		if err != nil {
			t.Fatalf("waiting for the resync: %v", err)
		}
		if e.Kind != "resync" {
			t.Fatalf("event %+v after the queue was drained, want the resync", e)
		}
		resyncs++
	}
	if resyncs != 1 {
		t.Errorf("%d resyncs for one overflow, want 1", resyncs)
	}
	var want []int64
	for v := int64(1); v <= queued; v++ {
		want = append(want, v)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("the events before the resync (-want +got):\n%s", diff)
	}

	// After the resync nothing is lost: every later event comes, in
	// order, and no resync.
	r.c.live.publishVersions(queued+4, queued+8)
	got = got[:0]
	for len(got) < 5 {
		e, err := readEvent(rd)
		if err != nil {
			t.Fatalf("after the resync: %v", err)
		}
		got = append(got, version(t, e))
	}
	if diff := cmp.Diff([]int64{queued + 4, queued + 5, queued + 6, queued + 7, queued + 8}, got); diff != "" {
		t.Errorf("the events after the resync (-want +got):\n%s", diff)
	}
	if r.c.live.resyncDue() {
		t.Error("another resync due with the queue keeping up")
	}
}

// TestStreamEndsWhenTheBrowserGoes: a browser that goes away (its request
// cancelled) ends its stream, idle or in the middle of a write it will
// never read, and leaves no subscriber at the hub.
func TestStreamEndsWhenTheBrowserGoes(t *testing.T) {
	for _, tc := range []struct {
		name     string
		midWrite bool
	}{
		{"idle", false},
		{"mid-write", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, nil)
			p := servePipes(t, r, r.signIn("reader@example.com"))
			ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
			defer cancel()
			reqCtx, leave := context.WithCancel(ctx)
			_, rd := p.stream(t, reqCtx, r)
			if n := r.c.live.subscribers(); n != 1 {
				t.Fatalf("%d subscribers with one stream open, want 1", n)
			}
			if tc.midWrite {
				r.c.live.publishVersions(1, 1)
				p.writing(t, ctx) // and waits for the browser to read
			}
			leave()
			// What the client had been sent before it left it may still
			// read; then the stream ends.
			err := error(nil)
			for err == nil {
				_, err = readEvent(rd)
			}
			if !errors.Is(err, context.Canceled) {
				t.Errorf("reading a stream the browser left: %v, want context.Canceled", err)
			}
			p.handlerReturned(t, ctx, "/events")
			if n := r.c.live.subscribers(); n != 0 {
				t.Errorf("%d subscribers after the browser left, want 0", n)
			}
		})
	}
}

// TestStreamNeedsASession: without a valid session the events endpoint
// answers at once with an error, not a stream, and subscribes nothing.
func TestStreamNeedsASession(t *testing.T) {
	r := newRig(t, nil)
	expired := r.signIn("root@example.com")
	noFollow := func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	for _, tc := range []struct {
		name   string
		hc     *http.Client
		accept string
		want   int
	}{
		{"no cookie, EventSource", &http.Client{CheckRedirect: noFollow}, "text/event-stream", http.StatusUnauthorized},
		{"no cookie, address bar", &http.Client{CheckRedirect: noFollow}, "text/html", http.StatusSeeOther},
		{"expired session", expired, "text/event-stream", http.StatusUnauthorized},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.hc == expired {
				r.w.Advance(time.Hour + time.Second) // past the rig's SessionTTL
			}
			ctx, cancel := context.WithTimeout(t.Context(), time.Minute) // a stream would never end
			defer cancel()
			req, _ := http.NewRequestWithContext(ctx, "GET", r.srv.URL+"/events", nil)
			req.Header.Set("Accept", tc.accept)
			resp, err := tc.hc.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatalf("the answer did not end: %v", err)
			}
			if resp.StatusCode != tc.want {
				t.Errorf("GET /events = %d, want %d", resp.StatusCode, tc.want)
			}
			if ct := resp.Header.Get("Content-Type"); strings.HasPrefix(ct, "text/event-stream") || strings.Contains(string(body), "event:") {
				t.Errorf("GET /events answered a stream (%q): %q", ct, body)
			}
			if n := r.c.live.subscribers(); n != 0 {
				t.Errorf("%d subscribers, want 0", n)
			}
		})
	}
}

// TestStreamRemoteChange: a change another instance of the Service
// stores on the shared store (a MemoryStore, whose change feed the
// console's Service listens to) reaches an open event stream as a record
// event, as the console's own do; a Resync of the feed (it restarted:
// changes may have been missed) reaches it as a resync event.
func TestStreamRemoteChange(t *testing.T) {
	// No event hook: the order's event would make the console's own
	// Service store a change too.
	r := newRigWith(t, []fulfillmenttest.Option{fulfillmenttest.WithoutEventHook()}, nil)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second) // bounds a stream that gets nothing
	defer cancel()
	_, rd := openStream(t, ctx, r.signIn("reader@example.com"), r.srv.URL+"/events")
	cfg := r.w.Config
	cfg.Rand = nil // a source of its own
	other, err := fulfillment.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ada := r.w.User("ada@example.com").ID
	if _, err := other.Order(ctx, ada); err != nil {
		t.Fatal(err)
	}
	var got []recordEvent
	for len(got) < 2 {
		e, err := readEvent(rd)
		if err != nil {
			t.Fatalf("after %d events: %v", len(got), err)
		}
		if e.Kind != "record" {
			t.Fatalf("event %+v, want a record event", e)
		}
		var re recordEvent
		if err := json.Unmarshal([]byte(e.Data), &re); err != nil {
			t.Fatalf("record event %q: %v", e.Data, err)
		}
		got = append(got, re)
	}
	want := []recordEvent{
		{User: ada, Status: fulfillment.FulfillmentStarted, Step: fulfillment.StepInitiating, Version: 1},
		{User: ada, Status: fulfillment.FulfillmentStarted, Step: fulfillment.StepInitiated, Version: 2},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("the other instance's order on the stream (-want +got):\n%s", diff)
	}

	r.c.live.recordChanged(fulfillment.RecordChange{Remote: true, Resync: true})
	if e, err := readEvent(rd); err != nil || e.Kind != "resync" {
		t.Errorf("after the feed's Resync: event %+v, %v; want a resync", e, err)
	}
}

// TestStreamsPerUserBounded: a user's browser may keep maxStreams open at
// once; the next gets a stream that ends at once, asking the browser to
// come back in a minute, until one ends; another user is not counted with
// them.
func TestStreamsPerUserBounded(t *testing.T) {
	r := newRig(t, nil)
	r.c.maxStreams = 2
	reader := r.signIn("reader@example.com")
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	first, firstCancel := context.WithCancel(ctx)
	p := servePipes(t, r, reader) // the first stream's, to see its handler return
	p.stream(t, first, r)
	openStream(t, ctx, reader, r.srv.URL+"/events")
	// open reports whether a stream was admitted (it says ": connected"
	// and goes on) or, if not, what it said before it ended.
	open := func() (admitted bool, said string) {
		t.Helper()
		req, _ := http.NewRequestWithContext(ctx, "GET", r.srv.URL+"/events", nil)
		req.Header.Set("Accept", "text/event-stream")
		resp, err := reader.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" {
			t.Fatalf("GET /events = %d %q, want a stream (EventSource gives up on anything else)", resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		rd := bufio.NewReader(resp.Body)
		var b strings.Builder
		for {
			line, err := rd.ReadString('\n')
			if line == ": connected\n" {
				return true, ""
			}
			b.WriteString(line)
			if err != nil {
				return false, b.String()
			}
		}
	}
	admitted, said := open()
	if admitted {
		t.Fatal("a third stream of one user was admitted")
	}
	if want := "retry: 60000\n"; !strings.HasPrefix(said, want) {
		t.Errorf("the refused stream said %q, want it to start with %q (come back in a minute)", said, want)
	}
	openStream(t, ctx, r.signIn("root@example.com"), r.srv.URL+"/events") // another user's
	firstCancel()
	p.handlerReturned(t, ctx, "/events")
	if admitted, said := open(); !admitted {
		t.Errorf("a stream once one of the user's ended was refused: %q", said)
	}
}

// TestStreamEndsWhenTheBrowserTakesNothing: a browser that stops reading
// ends its stream once a write waits streamWriteTimeout.
func TestStreamEndsWhenTheBrowserTakesNothing(t *testing.T) {
	r := newRig(t, nil)
	r.c.streamWriteTimeout = 50 * time.Millisecond
	p := servePipes(t, r, r.signIn("reader@example.com"))
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	p.stream(t, ctx, r)
	p.stopReading() // and read no more: from here the 50 ms write deadlines apply
	r.c.live.publishVersions(1, 1)
	p.writing(t, ctx)
	p.handlerReturned(t, ctx, "/events")
	if n := r.c.live.subscribers(); n != 0 {
		t.Errorf("%d subscribers after the write timed out, want 0", n)
	}
}
