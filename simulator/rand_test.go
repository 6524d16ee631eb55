package simulator

import (
	"crypto/sha256"
	"encoding/binary"
	"io"
)

// detRand is a deterministic byte stream (SHA-256 in counter mode) for
// tests.
type detRand struct {
	seed    uint64
	counter uint64
	buf     []byte
}

func newDetRand(seed uint64) *detRand { return &detRand{seed: seed} }

func (r *detRand) Read(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		if len(r.buf) == 0 {
			var in [16]byte
			binary.BigEndian.PutUint64(in[:8], r.seed)
			binary.BigEndian.PutUint64(in[8:], r.counter)
			r.counter++
			h := sha256.Sum256(in[:])
			r.buf = h[:]
		}
		c := copy(p, r.buf)
		p, r.buf = p[c:], r.buf[c:]
	}
	return n, nil
}

// NewDetRand gives the external test package (simulator_test) the same
// deterministic reader as the internal tests.
func NewDetRand(seed uint64) io.Reader { return newDetRand(seed) }
