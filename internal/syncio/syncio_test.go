package syncio

import (
	"strings"
	"sync"
	"testing"
)

// TestConcurrentWrites: lines written by many goroutines at once arrive
// whole, through a Writer and into a Buffer.
func TestConcurrentWrites(t *testing.T) {
	t.Parallel()
	var buf Buffer
	w := NewWriter(&buf)
	const workers, lines = 8, 100
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range lines {
				if _, err := w.Write([]byte("0123456789\n")); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	got := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	if len(got) != workers*lines {
		t.Fatalf("%d lines, want %d", len(got), workers*lines)
	}
	for i, l := range got {
		if l != "0123456789" {
			t.Fatalf("line %d = %q, want it whole", i, l)
		}
	}
}
