package fakehttp

import (
	"encoding/hex"
	"io"
	"slices"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestSeededReader: the stream is math/rand/v2's ChaCha8 of the seed,
// pinned here because the fakes' and test worlds' seeded outputs (IDs,
// keys, PINs) depend on it, whatever sizes it is read in; readers on
// several goroutines share one stream, each byte read once (run with
// -race).
func TestSeededReader(t *testing.T) {
	seed := [32]byte{'s', 'e', 'e', 'd'}
	const want = "925ed6b75e77a07196ba084807a7bb8585ea6491c24d20e9"
	read := func(r io.Reader, sizes ...int) []byte {
		var out []byte
		for _, n := range sizes {
			b := make([]byte, n)
			if _, err := io.ReadFull(r, b); err != nil {
				t.Fatal(err)
			}
			out = append(out, b...)
		}
		return out
	}
	if d := cmp.Diff(want, hex.EncodeToString(read(NewSeededReader(seed), 1, 7, 16))); d != "" {
		t.Errorf("stream of seed %q (-want +got):\n%s", seed[:4], d)
	}
	if got := hex.EncodeToString(read(NewSeededReader([32]byte{'S', 'e', 'e', 'd'}), 24)); got == want {
		t.Error("another seed gave the same stream")
	}

	const readers, each = 4, 64
	shared := NewSeededReader(seed)
	got := make([][]byte, readers)
	var wg sync.WaitGroup
	for i := range readers {
		wg.Go(func() {
			for range each {
				b := make([]byte, 1)
				if _, err := shared.Read(b); err != nil {
					t.Error(err)
					return
				}
				got[i] = append(got[i], b...)
			}
		})
	}
	wg.Wait()
	all := slices.Concat(got...)
	whole := read(NewSeededReader(seed), readers*each)
	slices.Sort(all)
	slices.Sort(whole)
	if d := cmp.Diff(whole, all); d != "" {
		t.Errorf("bytes read by %d goroutines are not the stream's first %d (-want +got):\n%s", readers, readers*each, d)
	}
}
