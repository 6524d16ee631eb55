package simulator_test

import (
	"crypto/sha256"
	"encoding/binary"
)

// seeded is a deterministic byte stream (SHA-256 in counter mode).
type seeded struct {
	seed, counter uint64
	buf           []byte
}

func newSeeded(seed uint64) *seeded { return &seeded{seed: seed} }

func (r *seeded) Read(p []byte) (int, error) {
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
