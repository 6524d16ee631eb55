package yubicotest

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/preenroll/preenroll/yubico"
)

// IdempotencyTTL is how long the fake remembers an idempotency key, in its
// own clock's time, from the create that first used it, unless
// [WithIdempotencyTTL] sets another.
const IdempotencyTTL = 24 * time.Hour

// idemEntry is a remembered create: the key's route and body fingerprint,
// the shipment it made and the response first sent.
type idemEntry struct {
	key      string
	route    string
	hash     [sha256.Size]byte
	id       string
	response any
	at       time.Time
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

// pruneIdemLocked forgets keys older than the TTL (IdempotencyTTL or
// WithIdempotencyTTL). Entries are queued in creation order and the clock
// only moves forward, so only the front can be due. A key is in s.idem
// exactly while its entry is queued: a create remembers a key only when it
// is not remembered (replayLocked answers it otherwise).
func (s *Server) pruneIdemLocked() {
	for len(s.idemQueue) > 0 && s.now.Sub(s.idemQueue[0].at) > s.idemTTL {
		e := s.idemQueue[0]
		s.idemQueue[0] = nil
		s.idemQueue = s.idemQueue[1:]
		delete(s.idem, e.key)
	}
}

// replayLocked answers a create whose key the fake remembers: the same route
// and body get 200 with the shipment's current view (or the first response,
// if the shipment has since been cancelled) and Idempotent-Replayed: true;
// anything else gets 422 idempotency_key_reused. It reports whether it
// answered.
func (s *Server) replayLocked(w http.ResponseWriter, key, route string, hash [sha256.Size]byte, view func(*shipment) any) bool {
	s.pruneIdemLocked()
	e, ok := s.idem[key]
	if !ok {
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
// sends its response.
func (s *Server) committedLocked(w http.ResponseWriter, key, route string, hash [sha256.Size]byte, id string, resp any) {
	if key != "" {
		e := &idemEntry{key: key, route: route, hash: hash, id: id, response: resp, at: s.now}
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
