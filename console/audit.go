package console

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"time"
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
	if s != nil {
		e.Who, e.Subject, e.Role = s.Login, s.Subject, s.Role
	}
	if err := c.audit.Append(ctx, e); err != nil {
		c.log.Error("console: audit", "error", err, "action", e.Action)
	}
}

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
