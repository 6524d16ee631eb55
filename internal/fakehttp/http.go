package fakehttp

import (
	"context"
	"io"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"

	"github.com/preenroll/preenroll/internal/httpclient"
)

// DropConnection records the request with record, then closes the client's
// connection without a response. On a connection it cannot hijack (HTTP/2)
// it aborts the stream instead. record runs first so that a client which
// sees the connection close (and a test reading the fake's request log right
// after) finds the entry: logging after the close races with the reader.
func DropConnection(w http.ResponseWriter, record func()) {
	record()
	if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
		_ = conn.Close()
		return
	}
	panic(http.ErrAbortHandler) // net/http's documented way to abort a response
}

// Wait waits d of real time, or until ctx ends. It reports whether the
// whole delay passed (false: the client went away first).
func Wait(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// LockedReader serializes reads from R, a random source that may not be
// safe for concurrent use (a seeded test reader).
type LockedReader struct {
	mu sync.Mutex
	R  io.Reader // read only under mu
}

// NewLockedReader returns a LockedReader reading from r.
func NewLockedReader(r io.Reader) *LockedReader { return &LockedReader{R: r} }

// NewSeededReader returns the deterministic stream of math/rand/v2's
// ChaCha8 seeded with seed, safe for concurrent use: the seeded randomness
// of the fakes' simulated keys and of test worlds. The same seed gives the
// same bytes.
func NewSeededReader(seed [32]byte) *LockedReader { return NewLockedReader(rand.NewChaCha8(seed)) }

// Read reads from R under the lock.
func (l *LockedReader) Read(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.R.Read(p)
}

// Log is a fake's append-only log (its request log; the Okta fake's
// events), safe for concurrent use; the zero value is empty, unbounded and
// ready. Entries are kept in chunks of logChunk, so a long log grows
// without copying itself and without the spare capacity of a doubling
// slice (a fake serving a million requests keeps a million entries, no
// more). [Log.SetLimit] bounds it to the most recent entries; a limit below
// logChunk sizes the chunks to the limit, so a small bounded log holds at
// most twice its limit, not a chunk of logChunk.
type Log[E any] struct {
	mu      sync.Mutex
	chunks  [][]E // guarded by mu; every chunk but the last is full
	start   int   // guarded by mu; entries of chunks[0] before start are dropped
	n       int   // guarded by mu; entries held
	limit   int   // guarded by mu; 0: unbounded
	dropped int   // guarded by mu
}

// logChunk is how many entries one chunk of a Log holds (a smaller limit
// makes smaller chunks).
const logChunk = 4096

// SetLimit keeps only the most recent limit entries from now on (0: every
// entry, the default); older ones are dropped, and counted by
// [Log.Dropped]. A negative limit is treated as 0.
func (l *Log[E]) SetLimit(limit int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.limit = max(limit, 0)
	l.trimLocked()
}

// Add appends e.
func (l *Log[E]) Add(e E) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if k := len(l.chunks); k == 0 || len(l.chunks[k-1]) == cap(l.chunks[k-1]) {
		size := logChunk
		if l.limit > 0 {
			size = min(size, l.limit)
		}
		l.chunks = append(l.chunks, make([]E, 0, size))
	}
	last := &l.chunks[len(l.chunks)-1]
	*last = append(*last, e)
	l.n++
	l.trimLocked()
}

// trimLocked drops the oldest entries beyond the limit, releasing each
// chunk once all its entries are dropped.
func (l *Log[E]) trimLocked() {
	if l.limit == 0 {
		return
	}
	for l.n > l.limit {
		var zero E
		l.chunks[0][l.start] = zero // let the entry's strings go
		l.start++
		l.n--
		l.dropped++
		if l.start == len(l.chunks[0]) {
			l.chunks[0] = nil
			l.chunks = l.chunks[1:]
			l.start = 0
		}
	}
}

// Len returns the number of entries held.
func (l *Log[E]) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.n
}

// Dropped returns how many of the oldest entries the limit dropped.
func (l *Log[E]) Dropped() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.dropped
}

// All returns a copy of every entry held, in the order added; nil if none
// (as the fakes' RequestLog and Events returned before the log was
// chunked).
func (l *Log[E]) All() []E {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.n == 0 {
		return nil
	}
	out := make([]E, 0, l.n)
	for i, c := range l.chunks {
		if i == 0 {
			c = c[l.start:]
		}
		out = append(out, c...)
	}
	return out
}

// Slice returns a copy of the entries held from index i up to j, in the
// order added (index 0 is the oldest entry held, [Log.Dropped] entries
// after the first one ever added); i and j are clamped to [0, Len], and
// the result is nil when nothing is between them. It copies only that
// range (a fake reading a page of a long log does not copy all of it).
func (l *Log[E]) Slice(i, j int) []E {
	l.mu.Lock()
	defer l.mu.Unlock()
	i, j = max(i, 0), min(j, l.n)
	if i >= j {
		return nil
	}
	out := make([]E, 0, j-i)
	pos := 0 // the index of the first entry of chunk c
	for k, c := range l.chunks {
		if k == 0 {
			c = c[l.start:]
		}
		if pos+len(c) > i {
			out = append(out, c[max(i-pos, 0):min(j-pos, len(c))]...)
		}
		if pos += len(c); pos >= j {
			break
		}
	}
	return out
}

// ReadBody reads at most limit+1 bytes of r's body, as
// io.ReadAll(io.LimitReader(r.Body, limit+1)) does (a result longer than
// limit tells the caller the body is too large), but into a buffer sized
// from the request's Content-Length when it has one within the limit, so
// that a body is read without io.ReadAll's repeated growing and copying.
func ReadBody(r *http.Request, limit int64) ([]byte, error) {
	size := int64(512) // io.ReadAll's first buffer
	if r.ContentLength >= 0 && r.ContentLength <= limit {
		size = r.ContentLength + 1 // room for the read that sees EOF
	}
	return httpclient.ReadAtMost(r.Body, size, limit+1)
}
