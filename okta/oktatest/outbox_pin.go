package oktatest

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// pinEmailSubject is the subject of the email send-pin sends.
const pinEmailSubject = "Your YubiKey PIN"

// pinLine finds the PIN in a PIN email: the body's indented line of digits
// (a FIDO PIN of 4 to 63 digits, as send-pin writes it).
var pinLine = regexp.MustCompile(`(?m)^[ \t]+([0-9]{4,63})[ \t]*\r?$`)

// ErrNoPINEmail is wrapped by the error of [Server.PIN] when the outbox
// holds no PIN email to the address.
var ErrNoPINEmail = errors.New("oktatest: no PIN email")

// IsPIN reports whether m is a PIN email: one that send-pin sent.
func (m Email) IsPIN() bool { return m.Subject == pinEmailSubject }

// PIN returns the PIN a PIN email carries, as the user reads it. It is an
// error if m is not a PIN email or carries no PIN line. The error never
// contains the body.
func (m Email) PIN() (string, error) {
	if !m.IsPIN() {
		return "", fmt.Errorf("oktatest: the email to %q with subject %q is not a PIN email", m.To, m.Subject)
	}
	sm := pinLine.FindStringSubmatch(m.Body)
	if sm == nil {
		return "", fmt.Errorf("oktatest: the PIN email to %q has no PIN line", m.To)
	}
	return sm[1], nil
}

// PIN returns the PIN of the newest PIN email in the outbox to address
// (compared case-insensitively): what the user finds in the mailbox after
// send-pin. send-pin writes to the secondary email of a STAGED user and to
// the primary one otherwise. With no PIN email to address the error wraps
// [ErrNoPINEmail].
func (s *Server) PIN(address string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := len(s.outbox) - 1; i >= 0; i-- {
		if m := s.outbox[i]; m.IsPIN() && strings.EqualFold(m.To, address) {
			return m.PIN()
		}
	}
	return "", fmt.Errorf("%w to %q in the outbox (%d emails)", ErrNoPINEmail, address, len(s.outbox))
}
