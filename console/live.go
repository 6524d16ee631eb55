package console

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/preenroll/preenroll/fulfillment"
)

// Live updates: every record the Service stores (Sync, Run, the event
// hook, an action), every record another instance sharing the store
// stores (when the store has a change feed: fulfillment.ChangeFeed) and
// every batch's progress is published to the browsers connected to the
// events endpoint (server-sent events); the page's script reloads the
// parts of the page it concerns.

// liveEvent is one server-sent event.
type liveEvent struct {
	Kind string // "record" or "batch"
	Data any
}

// recordEvent is the data of a "record" event.
type recordEvent struct {
	User    string             `json:"user"`
	Status  fulfillment.Status `json:"status"`
	Step    fulfillment.Step   `json:"step"`
	Version int64              `json:"version"`
}

// batchEvent is the data of a "batch" event.
type batchEvent struct {
	ID    string `json:"id"`
	State string `json:"state"`
	Done  int    `json:"done"`
	Total int    `json:"total"`
}

// hub fans events out to the connected browsers.
type hub struct {
	mu     sync.Mutex
	subs   map[*subscriber]struct{}
	open   map[string]int // streams open, by the session's subject
	closed chan struct{}  // closed by close: the streams end
}

// subscriber is one connected browser's queue of events.
type subscriber struct {
	ch chan liveEvent
	// missed has a value when an event did not fit in ch: the stream then
	// tells the browser to fetch its page whatever it shows (a "resync"
	// event), since the event it lost may have been the page's last one.
	missed chan struct{}
}

func newHub() *hub {
	return &hub{subs: map[*subscriber]struct{}{}, open: map[string]int{}, closed: make(chan struct{})}
}

// admit counts a stream of who's, unless who has max open already; release
// uncounts it.
func (h *hub) admit(who string, max int) (release func(), ok bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.open[who] >= max {
		return nil, false
	}
	h.open[who]++
	return func() {
		h.mu.Lock()
		defer h.mu.Unlock()
		if h.open[who]--; h.open[who] <= 0 {
			delete(h.open, who)
		}
	}, true
}

// close ends every event stream, open or to come (Config.Done).
func (h *hub) close() { close(h.closed) }

// subscriberBuffer is how many events wait for a slow browser.
const subscriberBuffer = 64

func (h *hub) subscribe() (*subscriber, func()) {
	sub := &subscriber{ch: make(chan liveEvent, subscriberBuffer), missed: make(chan struct{}, 1)}
	h.mu.Lock()
	h.subs[sub] = struct{}{}
	h.mu.Unlock()
	return sub, func() {
		h.mu.Lock()
		delete(h.subs, sub)
		h.mu.Unlock()
	}
}

// publish sends e to every subscriber without waiting: a browser whose
// buffer is full misses it and is told to resync instead.
func (h *hub) publish(e liveEvent) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for sub := range h.subs {
		select {
		case sub.ch <- e:
		default: // the browser is behind
			sub.resync()
		}
	}
}

// resync has the stream tell its browser to fetch its page, once however
// many events it misses before it gets there.
func (s *subscriber) resync() {
	select {
	case s.missed <- struct{}{}:
	default: // a resync is already due
	}
}

// resyncAll tells every stream to resync, as publish does when an event
// does not fit in a queue, and returns how many it told.
func (h *hub) resyncAll() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	for sub := range h.subs {
		sub.resync()
	}
	return len(h.subs)
}

// recordChanged is the Service's Subscribe callback. A change another
// instance stored (Remote, from the store's change feed) is published as
// the instance's own are; a Resync (the feed (re)started: other
// instances' changes may have been missed) has every browser fetch its
// page.
func (h *hub) recordChanged(rc fulfillment.RecordChange) {
	if rc.Resync {
		h.resyncAll()
		return
	}
	h.publish(liveEvent{Kind: "record", Data: recordEvent{User: rc.UserID, Status: rc.Status, Step: rc.Step, Version: rc.Version}})
}

// keepAlive is how often an idle event stream gets a comment, so that
// proxies keep it open.
const keepAlive = 25 * time.Second

// Bounds of the event streams: a signed-in user's browser may keep at most
// maxStreams open at once (a tab each) on an instance; the next gets a
// stream that ends at once and asks it to come back after
// streamRetryLater. A stream whose write stays blocked for
// streamWriteTimeout (the browser stopped reading and the connection's
// buffers are full) ends.
const (
	maxStreams         = 32
	streamRetryLater   = time.Minute
	streamWriteTimeout = 2 * time.Minute
)

// events streams live events (text/event-stream) until the browser goes
// away, the session expires or the console's Config.Done closes.
func (c *console) events(w http.ResponseWriter, r *http.Request, s *session) {
	select {
	case <-c.live.closed:
		w.Header().Set("Retry-After", "3")
		http.Error(w, "shutting down", http.StatusServiceUnavailable)
		return
	default:
	}
	release, ok := c.live.admit(s.Subject, c.maxStreams)
	if !ok {
		// A browser's EventSource gives up for good on any answer but a
		// stream: this one ends at once and has it try again later.
		w.Header().Set("Content-Type", "text/event-stream")
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusOK)
		fmt.Fprintf(w, "retry: %d\n: too many live-update streams open for this user; trying again later\n\n", streamRetryLater.Milliseconds())
		return
	}
	defer release()
	rc := http.NewResponseController(w)
	// A stream outlives a server's WriteTimeout, but not a browser that
	// takes nothing: each write must be taken within streamWriteTimeout
	// (wall time), or the stream ends.
	deadline := func() { _ = rc.SetWriteDeadline(time.Now().Add(c.streamWriteTimeout)) }
	deadline()
	sub, cancel := c.live.subscribe()
	defer cancel()
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	fmt.Fprint(w, "retry: 3000\n: connected\n\n")
	if rc.Flush() != nil {
		return
	}
	ticker := time.NewTicker(keepAlive)
	defer ticker.Stop()
	expire := time.NewTimer(max(s.Expires.Sub(c.now()), 0))
	defer expire.Stop()
	for {
		var out string
		select {
		case <-r.Context().Done():
			return
		case <-c.live.closed:
			return // the browser reconnects (retry) to another instance, or this one once it is back
		case <-expire.C:
			deadline()
			fmt.Fprint(w, "event: signedout\ndata: {}\n\n")
			rc.Flush()
			return
		case <-ticker.C:
			out = ": keep-alive\n\n"
		case <-sub.missed:
			out = "event: resync\ndata: {}\n\n"
		case e := <-sub.ch:
			data, err := json.Marshal(e.Data)
			if err != nil {
				continue
			}
			out = fmt.Sprintf("event: %s\ndata: %s\n\n", e.Kind, data)
		}
		deadline()
		if _, err := io.WriteString(w, out); err != nil || rc.Flush() != nil {
			return
		}
	}
}
