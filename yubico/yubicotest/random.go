package yubicotest

import (
	"fmt"
	"io"

	"github.com/preenroll/preenroll/internal/fakehttp"
)

// newID returns a 22-character ID in the shortuuid alphabet Yubico's IDs
// appear to use.
func (s *Server) newID() (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.newIDLocked()
}

const idAlphabet = "23456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"

func (s *Server) newIDLocked() (string, error) {
	var b [22]byte
	for i := range b {
		c, err := s.randIntLocked(len(idAlphabet))
		if err != nil {
			return "", err
		}
		b[i] = idAlphabet[c]
	}
	return string(b[:]), nil
}

// randIntLocked returns a uniform integer in [0, n), n ≤ 256.
func (s *Server) randIntLocked(n int) (int, error) {
	limit := 256 - 256%n
	var b [1]byte
	for {
		if _, err := io.ReadFull(s.rand, b[:]); err != nil {
			return 0, fmt.Errorf("yubicotest: read randomness: %w", err)
		}
		if int(b[0]) < limit {
			return int(b[0]) % n, nil
		}
	}
}

// seedLocked derives an independent deterministic stream for a simulated key.
func (s *Server) seedLocked() (io.Reader, error) {
	var seed [32]byte
	if _, err := io.ReadFull(s.rand, seed[:]); err != nil {
		return nil, fmt.Errorf("yubicotest: read randomness: %w", err)
	}
	return fakehttp.NewSeededReader(seed), nil
}
