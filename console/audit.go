package console

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/preenroll/preenroll/fulfillment"
	"github.com/preenroll/preenroll/internal/httpclient"
)

// AuditEntry is one administrator action (or sign-in) and its outcome.
type AuditEntry struct {
	At      time.Time `json:"at"`
	Who     string    `json:"who"`     // the signed-in login; empty before sign-in
	Subject string    `json:"subject"` // the ID token's sub
	Role    Role      `json:"role,omitempty"`
	Action  string    `json:"action"`           // "order", "send PIN", "retry", "delete", "batch order", "sign in", ...
	Target  string    `json:"target,omitempty"` // the Okta user ID, batch ID, ...
	Outcome string    `json:"outcome"`          // "ok", "refused" or "failed"
	Detail  string    `json:"detail,omitempty"` // what was done, or why not
	Remote  string    `json:"remote,omitempty"` // the client's address
}

// The outcomes of an audit entry.
const (
	outcomeOK      = "ok"
	outcomeRefused = "refused" // not allowed: not signed in, read-only, the status machine, CSRF
	outcomeFailed  = "failed"  // allowed but it did not work
)

// AuditLog is where the console writes its audit trail. Append must be
// safe for concurrent use; Recent returns the newest entries first.
type AuditLog interface {
	Append(ctx context.Context, e AuditEntry) error
	Recent(ctx context.Context, limit int) ([]AuditEntry, error)
}

// MemoryAudit keeps the newest entries in memory (use it with a
// persistent sink for anything but a demo: wrap it, writing each entry to
// your log as well).
type MemoryAudit struct {
	mu      sync.Mutex
	max     int
	entries []AuditEntry
}

// NewMemoryAudit returns an AuditLog that keeps the newest n entries
// (at least 1).
func NewMemoryAudit(n int) *MemoryAudit { return &MemoryAudit{max: max(n, 1)} }

// Append adds e, dropping the oldest entry when full.
func (m *MemoryAudit) Append(_ context.Context, e AuditEntry) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.entries) == m.max {
		m.entries = append(m.entries[:0], m.entries[1:]...)
	}
	m.entries = append(m.entries, e)
	return nil
}

// Recent returns up to limit entries, newest first.
func (m *MemoryAudit) Recent(_ context.Context, limit int) ([]AuditEntry, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []AuditEntry
	for i := len(m.entries) - 1; i >= 0 && len(out) < limit; i-- {
		out = append(out, m.entries[i])
	}
	return out, nil
}

// StoreAudit keeps the audit trail as documents (collection
// "console.audit") in a fulfillment.DocumentStore: given the Store that
// several instances share, every instance's Audit page lists every
// instance's entries, and they outlive a restart. It keeps every entry of
// a signed-in user for its retention (see [NewStoreAudit]). An entry
// without one (Who empty: the refusal of a cross-origin request or of a
// sign-in the provider refused, which anybody can send) is kept in this
// instance's memory instead, the newest 10,000 of them, so that such
// requests cannot grow the store; Recent lists both.
type StoreAudit struct {
	docs fulfillment.DocumentStore
	keep time.Duration // negative: forever
	seq  atomic.Uint64

	mu    sync.Mutex
	anon  []fulfillment.Document // a ring of entries without a signed-in user
	next  int                    // where the next one goes once anon is full
	swept time.Time              // the time of the entry that last deleted old ones
}

// DefaultAuditRetention is how long a [StoreAudit] keeps an entry by
// default: 400 days, a yearly audit's twelve months and a month's grace
// for it to start late. The entries hold logins and client addresses:
// keep them no longer than your compliance needs (serve's log has them
// too, for an archive of your own).
const DefaultAuditRetention = 400 * 24 * time.Hour

// auditSweepEvery is how often (by the entries' times) a StoreAudit deletes
// the entries older than its retention.
const auditSweepEvery = time.Hour

// maxAnonymousAudit is how many entries without a signed-in user a
// StoreAudit keeps in memory.
const maxAnonymousAudit = 10000

// AuditCollection is the document collection of a [StoreAudit].
const AuditCollection = "console.audit"

// NewStoreAudit returns an AuditLog that keeps its entries in docs for
// keep: an Append deletes the entries older than keep before its own
// (e.At), at most once an hour (by e.At) per StoreAudit, as an upload
// deletes the old batches. A keep of 0 is DefaultAuditRetention; a
// negative keep keeps every entry (delete them yourself with the store's
// DeleteDocuments on [AuditCollection]).
func NewStoreAudit(docs fulfillment.DocumentStore, keep time.Duration) *StoreAudit {
	if keep == 0 {
		keep = DefaultAuditRetention
	}
	return &StoreAudit{docs: docs, keep: keep}
}

// Append keeps e as a new document, created at e.At: in the store, or in
// memory if e has no signed-in user (Who). Then it deletes the entries
// older than the retention, when due; if that fails, e is kept and the
// error says so.
func (a *StoreAudit) Append(ctx context.Context, e AuditEntry) error {
	data, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("console: audit: %w", err)
	}
	// The ID orders entries of the same instant (ListDocuments: by ID,
	// descending): this process's count, then random bytes that keep two
	// instances' IDs apart.
	var r [8]byte
	rand.Read(r[:])
	doc := fulfillment.Document{Collection: AuditCollection, ID: fmt.Sprintf("%016x-%x", a.seq.Add(1), r), Created: e.At, Data: data}
	if e.Who == "" {
		a.mu.Lock()
		defer a.mu.Unlock()
		if len(a.anon) < maxAnonymousAudit {
			a.anon = append(a.anon, doc)
		} else {
			a.anon[a.next] = doc
			a.next = (a.next + 1) % maxAnonymousAudit
		}
		return nil
	}
	if _, err := a.docs.PutDocument(ctx, doc); err != nil {
		return fmt.Errorf("console: audit: %w", err)
	}
	return a.expire(ctx, e.At)
}

// expire deletes the entries created before at minus the retention, unless
// an entry less than an hour from at (before it, or after it: a clock
// stepped back) did.
func (a *StoreAudit) expire(ctx context.Context, at time.Time) error {
	if a.keep < 0 {
		return nil
	}
	a.mu.Lock()
	due := a.swept.IsZero() || at.Sub(a.swept) >= auditSweepEvery || a.swept.Sub(at) >= auditSweepEvery
	if due {
		a.swept = at
	}
	a.mu.Unlock()
	if !due {
		return nil
	}
	before := at.Add(-a.keep)
	if _, err := a.docs.DeleteDocuments(ctx, AuditCollection, before); err != nil {
		a.mu.Lock()
		a.swept = time.Time{} // the next entry tries again
		a.mu.Unlock()
		return fmt.Errorf("console: audit: entry kept; deleting the entries before %s: %w", before.UTC().Format(time.RFC3339), err)
	}
	return nil
}

// Recent returns up to limit entries, newest first (none for a limit of 0
// or less, as MemoryAudit: the store's ListDocuments would list them all).
func (a *StoreAudit) Recent(ctx context.Context, limit int) ([]AuditEntry, error) {
	if limit <= 0 {
		return nil, nil
	}
	docs, err := a.docs.ListDocuments(ctx, AuditCollection, limit)
	if err != nil {
		return nil, fmt.Errorf("console: audit: %w", err)
	}
	a.mu.Lock()
	docs = append(docs, a.anon...)
	a.mu.Unlock()
	// ListDocuments' order: newest first, equal times by ID descending.
	slices.SortFunc(docs, func(x, y fulfillment.Document) int {
		if c := y.Created.Compare(x.Created); c != 0 {
			return c
		}
		return strings.Compare(y.ID, x.ID)
	})
	docs = docs[:min(limit, len(docs))]
	out := make([]AuditEntry, 0, len(docs))
	for _, d := range docs {
		var e AuditEntry
		if err := json.Unmarshal(d.Data, &e); err != nil {
			return nil, fmt.Errorf("console: audit: entry %s: %w", d.ID, err)
		}
		out = append(out, e)
	}
	return out, nil
}

// record writes an audit entry for the request. A failing sink is logged;
// the action's answer is not changed.
func (c *console) record(r *http.Request, s *session, action, target, outcome, detail string) {
	c.write(context.WithoutCancel(r.Context()), AuditEntry{Action: action, Target: target, Outcome: outcome, Detail: detail, Remote: r.RemoteAddr}, s)
}

// recordAs writes an audit entry for work that outlives its request (a
// batch finishing).
func (c *console) recordAs(s *session, action, target, outcome, detail string) {
	c.write(context.Background(), AuditEntry{Action: action, Target: target, Outcome: outcome, Detail: detail}, s)
}

func (c *console) write(ctx context.Context, e AuditEntry, s *session) {
	e.At = c.now().UTC()
	e.Target, e.Detail = httpclient.Clip(e.Target, maxAuditField), httpclient.Clip(e.Detail, maxAuditField)
	if s != nil {
		e.Who, e.Subject, e.Role = s.Login, s.Subject, s.Role
	}
	if err := c.audit.Append(ctx, e); err != nil {
		c.log.Error("console: audit", "error", err, "action", e.Action)
	}
}

// maxAuditField is the longest target or detail an audit entry keeps, in
// bytes: a target comes from the request's path, which anybody can make as
// long as a request line may be (http.DefaultMaxHeaderBytes), and the
// entries are kept in memory and in the store.
const maxAuditField = 1024

// actionFor names the action of a state-changing request by its path.
func actionFor(r *http.Request) string {
	p := r.URL.Path
	switch {
	case strings.HasSuffix(p, "/send-pin"):
		return "send PIN"
	case strings.HasSuffix(p, "/retry"):
		return "retry"
	case strings.HasSuffix(p, "/delete"):
		return "delete"
	case strings.HasSuffix(p, "/order") && strings.Contains(p, "/batch/"):
		return "batch order"
	case strings.HasSuffix(p, "/order"):
		return "order"
	case strings.HasSuffix(p, "/batch"):
		return "batch upload"
	}
	return r.Method + " " + p
}
