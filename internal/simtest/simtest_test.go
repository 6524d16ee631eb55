package simtest

import (
	"bytes"
	"crypto/sha256"
	"io"
	"testing"
)

func TestRand(t *testing.T) {
	t.Parallel()
	read := func(seed uint64, n int) []byte {
		b := make([]byte, n)
		if _, err := io.ReadFull(Rand(seed), b); err != nil {
			t.Fatal(err)
		}
		return b
	}
	a, b, c := read(7, 100), read(7, 100), read(8, 100)
	if !bytes.Equal(a, b) {
		t.Error("the same seed gave different bytes")
	}
	if bytes.Equal(a, c) {
		t.Error("seeds 7 and 8 gave the same bytes")
	}
	// Block 1 is SHA-256 of the big-endian seed and counter 1.
	want := sha256.Sum256([]byte{0, 0, 0, 0, 0, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0, 1})
	if !bytes.Equal(a[32:64], want[:]) {
		t.Errorf("block 1 = %x, want %x", a[32:64], want)
	}
	// Reads of odd sizes continue the same stream.
	r := Rand(7)
	var got []byte
	for _, n := range []int{1, 30, 2, 67} {
		p := make([]byte, n)
		if _, err := io.ReadFull(r, p); err != nil {
			t.Fatal(err)
		}
		got = append(got, p...)
	}
	if !bytes.Equal(got, a) {
		t.Error("short reads do not continue the stream")
	}
}
