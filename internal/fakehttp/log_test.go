package fakehttp

import "testing"

// TestLogAcrossChunks: a log longer than several chunks keeps every entry,
// in order, and counts them.
func TestLogAcrossChunks(t *testing.T) {
	var l Log[int]
	const n = 2*logChunk + 3
	for i := range n {
		l.Add(i)
	}
	if l.Len() != n {
		t.Fatalf("Len() = %d, want %d", l.Len(), n)
	}
	got := l.All()
	if len(got) != n {
		t.Fatalf("All() has %d entries, want %d", len(got), n)
	}
	for i, v := range got {
		if v != i {
			t.Fatalf("All()[%d] = %d, want %d", i, v, i)
		}
	}
	if len(l.chunks) != 3 || cap(l.chunks[0]) != logChunk {
		t.Errorf("%d chunks (first of capacity %d), want 3 of %d", len(l.chunks), cap(l.chunks[0]), logChunk)
	}
}
