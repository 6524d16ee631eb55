package yubicotest

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/preenroll/preenroll/yubico"
)

// IdempotencyTTL is how long the fake remembers an idempotency key, in its
// own clock's time, from the create that first used it, unless
// [WithIdempotencyTTL] sets another. A create is judged as of its arrival,
// however long an injected latency then holds it (see the package
// documentation, "Idempotency keys").
const IdempotencyTTL = 24 * time.Hour

// idemEntry is a remembered create: the key's route and body fingerprint,
// the shipment it made, the response first sent and when it was made (the
// shipment's creation time). A key used again after it was forgotten while
// a request that arrived earlier is still in flight has more than one
// entry: prev is the key's create before this one, next the one after.
type idemEntry struct {
	key        string
	route      string
	hash       [sha256.Size]byte
	id         string
	response   any
	at         time.Time
	prev, next *idemEntry
}

// flight is a request with an Idempotency-Key header that the fake has
// received and not yet finished: at is the fake clock's time at its
// arrival. serve records one per such request, in arrival order, in
// s.flights, and carries it to the handler in the request's context.
type flight struct {
	at   time.Time
	done bool
}

// flightKey is the request context key of a request's *flight.
type flightKey struct{}

// arriveLocked records that a request with an idempotency key arrived now
// and returns r carrying its flight, which leaveLocked ends.
func (s *Server) arriveLocked(r *http.Request) (*http.Request, *flight) {
	f := &flight{at: s.now}
	s.flights = append(s.flights, f)
	return r.WithContext(context.WithValue(r.Context(), flightKey{}, f)), f
}

// leaveLocked ends f and drops the finished flights at the front of
// s.flights, so that its first flight is the oldest still in flight.
func (s *Server) leaveLocked(f *flight) {
	f.done = true
	for len(s.flights) > 0 && s.flights[0].done {
		s.flights[0] = nil
		s.flights = s.flights[1:]
	}
}

// idemHorizonLocked returns the earliest arrival any request, in flight
// or yet to come, can be judged at: that of the oldest request in flight
// (s.flights[0], never finished), or s.now if none is.
func (s *Server) idemHorizonLocked() time.Time {
	if len(s.flights) > 0 {
		return s.flights[0].at
	}
	return s.now
}

// arrivalLocked returns the fake clock's time at r's arrival: s.now for a
// request that did not come through serve.
func (s *Server) arrivalLocked(r *http.Request) time.Time {
	if f, ok := r.Context().Value(flightKey{}).(*flight); ok {
		return f.at
	}
	return s.now
}

// idempotencyKey reads the Idempotency-Key header: "" if absent. A header
// that is present but empty, repeated or malformed gets a 400 and ok false.
func idempotencyKey(w http.ResponseWriter, r *http.Request) (key string, ok bool) {
	vals, present := r.Header[http.CanonicalHeaderKey(yubico.IdempotencyKeyHeader)]
	if !present {
		return "", true
	}
	var problem string
	switch {
	case len(vals) != 1:
		problem = fmt.Sprintf("must be given once, got %d values", len(vals))
	case vals[0] == "":
		problem = "must not be empty"
	default:
		if err := yubico.CheckIdempotencyKey(vals[0]); err != nil {
			problem = fmt.Sprintf("must be 1 to %d bytes of printable ASCII without spaces", yubico.MaxIdempotencyKeyLength)
		}
	}
	if problem != "" {
		validationFailed(w, []yubico.ErrorDetail{{Field: yubico.IdempotencyKeyHeader, Description: problem}})
		return "", false
	}
	return vals[0], true
}

// fingerprint hashes a decoded request body in its canonical encoding, so
// that whitespace and member order do not matter (the key itself is not in
// the body).
func fingerprint(w http.ResponseWriter, v any) ([sha256.Size]byte, bool) {
	b, err := json.Marshal(v)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "internal", "yubicotest: encode request fingerprint: "+err.Error())
		return [sha256.Size]byte{}, false
	}
	return sha256.Sum256(b), true
}

// pruneIdemLocked forgets the creates that no request can find any more:
// those older than the TTL (IdempotencyTTL or WithIdempotencyTTL) as of the
// earliest arrival among the requests in flight (s.now if none), as every
// request, in flight or yet to come, is judged at its arrival (see
// replayLocked), which is that one's or later. Entries are queued in
// creation order and the clock only moves forward, so only the front can
// be due, and the front entry is the oldest of its key's: it has no prev.
func (s *Server) pruneIdemLocked() {
	horizon := s.idemHorizonLocked()
	for len(s.idemQueue) > 0 && horizon.Sub(s.idemQueue[0].at) > s.idemTTL {
		e := s.idemQueue[0]
		s.idemQueue[0] = nil
		s.idemQueue = s.idemQueue[1:]
		if e.next != nil {
			e.next.prev = nil
		} else {
			delete(s.idem, e.key)
		}
	}
}

// rememberedLocked returns the create that key stands for to a request
// that arrived at arrival, or nil: the key's last create made by then if
// it was no older than the TTL at arrival, or else the first create made
// since (a request that raced the request's own create with the same key).
func (s *Server) rememberedLocked(key string, arrival time.Time) *idemEntry {
	var since *idemEntry
	for e := s.idem[key]; e != nil; e = e.prev {
		if !e.at.After(arrival) {
			if arrival.Sub(e.at) <= s.idemTTL {
				return e
			}
			break
		}
		since = e
	}
	return since
}

// replayLocked answers a create that arrived at arrival whose key the fake
// remembered then: the same route and body get 200 with the shipment's
// current view (or the first response, if the shipment has since been
// cancelled) and Idempotent-Replayed: true; anything else gets 422
// idempotency_key_reused. It reports whether it answered.
//
// The key is looked up as of the request's arrival, not of its handling:
// an injected latency stands for the network, and a test may move the fake
// clock by a day in the seconds a request waits, while the real service,
// seconds away from a request's arrival, would still remember a key a
// retry was sent within the TTL of. The shipment a create makes, and the
// key's entry with it, still date from the create's handling: the
// lifecycle has already run up to the clock's time (validation ticks,
// batches), and a shipment dated earlier would have missed them.
func (s *Server) replayLocked(w http.ResponseWriter, key, route string, hash [sha256.Size]byte, arrival time.Time, view func(*shipment) any) bool {
	s.pruneIdemLocked()
	e := s.rememberedLocked(key, arrival)
	if e == nil {
		return false
	}
	if e.route != route || e.hash != hash {
		writeError(w, http.StatusUnprocessableEntity, yubico.CodeIdempotencyKeyReused,
			fmt.Sprintf("Idempotency-Key %q was already used for a different request (POST %s, shipment %s); use a new key for a new request", key, e.route, e.id),
			yubico.ErrorDetail{Field: yubico.IdempotencyKeyHeader, Description: "reused with a different request body"})
		return true
	}
	resp := e.response
	if sh, ok := s.shipments[e.id]; ok {
		resp = view(sh)
	}
	w.Header().Set(yubico.IdempotentReplayedHeader, "true")
	s.respondCreateLocked(w, resp)
	return true
}

// committedLocked remembers a successful create under key (if any) and
// sends its response. replayLocked has just found no create the key
// stands for, so any create of the key already remembered is older: the
// new one becomes the key's latest.
func (s *Server) committedLocked(w http.ResponseWriter, key, route string, hash [sha256.Size]byte, id string, resp any) {
	if key != "" {
		e := &idemEntry{key: key, route: route, hash: hash, id: id, response: resp, at: s.now, prev: s.idem[key]}
		if e.prev != nil {
			e.prev.next = e
		}
		s.idem[key] = e
		s.idemQueue = append(s.idemQueue, e)
	}
	s.respondCreateLocked(w, resp)
}

// respondCreateLocked sends a successful create's response, or drops the
// connection instead if a DropResponseAfterCommit fault is pending.
func (s *Server) respondCreateLocked(w http.ResponseWriter, resp any) {
	if s.dropAfterCommit > 0 {
		s.dropAfterCommit--
		// The connection is closed by serve once the request is logged:
		// here s.mu is held, which the log needs.
		if d, ok := w.(connDropper); ok {
			d.dropConnection()
		}
		return
	}
	writeJSON(w, http.StatusOK, resp)
}

// DropResponseAfterCommit makes the next n successful creates (POST
// /v1/fpr/shipments or /v1/shipments_exact, including answers replayed for
// an idempotency key) take effect, then close the connection without a
// response: the client sees a transport error although the shipment exists.
// Requests that fail validation do not count. n must be at least 1.
func (s *Server) DropResponseAfterCommit(n int) error {
	if n < 1 {
		return fmt.Errorf("yubicotest: DropResponseAfterCommit: n %d is not positive", n)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dropAfterCommit += n
	return nil
}
