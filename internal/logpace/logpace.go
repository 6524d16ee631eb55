// Package logpace paces a warning that anybody outside can cause (an
// unauthorized request, an unreadable notification, a failed TLS
// handshake), so that a flood of them cannot flood the log: the first is
// logged at once, then at most one per interval, each line counting the
// ones suppressed since the line before.
package logpace

import (
	"sync"
	"time"
)

// Pacer decides which occurrences of one warning are logged. The zero
// Pacer logs every occurrence; set Every. A Pacer is safe for concurrent
// use and must not be copied after first use.
type Pacer struct {
	// Every is the least time between two logged occurrences.
	Every time.Duration

	mu         sync.Mutex
	next       time.Time // no line before
	suppressed int       // occurrences since the last line, not logged
}

// Allow reports whether the occurrence at now is to be logged and, if it
// is, how many were suppressed since the last logged one (the caller puts
// that count on its line). Times come from the caller's clock, so tests
// inject them.
func (p *Pacer) Allow(now time.Time) (log bool, suppressed int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if now.Before(p.next) {
		p.suppressed++
		return false, 0
	}
	suppressed = p.suppressed
	p.next, p.suppressed = now.Add(p.Every), 0
	return true, suppressed
}
