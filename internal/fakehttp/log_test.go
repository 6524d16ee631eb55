package fakehttp

import (
	"strings"
	"testing"
)

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

// TestLogLimit: a bounded log keeps exactly the most recent entries, in
// order, across chunk boundaries, and counts the ones it dropped; a limit
// set on a longer log trims it at once.
func TestLogLimit(t *testing.T) {
	tests := []struct {
		name       string
		limit, add int
	}{
		{"under the limit", 10, 7},
		{"at the limit", 10, 10},
		{"within one chunk", 10, 25},
		{"across chunks", logChunk + 5, 3*logChunk + 7},
		{"limit of one", 1, logChunk + 1},
		{"unbounded", 0, logChunk + 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var l Log[int]
			l.SetLimit(tt.limit)
			for i := range tt.add {
				l.Add(i)
			}
			keep := tt.add
			if tt.limit > 0 {
				keep = min(tt.add, tt.limit)
			}
			got := l.All()
			if len(got) != keep || l.Len() != keep || l.Dropped() != tt.add-keep {
				t.Fatalf("All() has %d, Len() %d, Dropped() %d; want %d, %d, %d", len(got), l.Len(), l.Dropped(), keep, keep, tt.add-keep)
			}
			for i, v := range got {
				if want := tt.add - keep + i; v != want {
					t.Fatalf("All()[%d] = %d, want %d", i, v, want)
				}
			}
			if held := len(l.chunks); held > keep/logChunk+2 {
				t.Errorf("%d chunks held for %d entries", held, keep)
			}
			if tt.limit > 0 {
				// A bounded log's chunks are sized to the limit (at most
				// logChunk), so it holds the chunks the limit spans plus
				// one, however many entries were added.
				room := 0
				for _, c := range l.chunks {
					room += cap(c)
				}
				size := min(tt.limit, logChunk)
				if want := ((tt.limit+size-1)/size + 1) * size; room > want {
					t.Errorf("%d entries of room for a limit of %d, want at most %d", room, tt.limit, want)
				}
			}
		})
	}
	var l Log[int]
	for i := range 100 {
		l.Add(i)
	}
	l.SetLimit(3)
	if got := l.All(); len(got) != 3 || got[0] != 97 || got[2] != 99 || l.Dropped() != 97 {
		t.Errorf("after SetLimit(3) on 100 entries: %v, dropped %d; want [97 98 99], 97", got, l.Dropped())
	}
}

// WithRequestLogLimit sets Settings.LogLimit and refuses a limit below one
// with an error naming the option.
func TestWithRequestLogLimit(t *testing.T) {
	var s Settings
	if err := WithRequestLogLimit(3)(&s); err != nil || s.LogLimit != 3 {
		t.Errorf("WithRequestLogLimit(3) = %v, LogLimit %d; want nil, 3", err, s.LogLimit)
	}
	for _, n := range []int{0, -1} {
		if err := WithRequestLogLimit(n)(&s); err == nil || !strings.HasPrefix(err.Error(), "WithRequestLogLimit: ") {
			t.Errorf("WithRequestLogLimit(%d) = %v, want an error naming WithRequestLogLimit", n, err)
		}
	}
	if s.LogLimit != 3 {
		t.Errorf("a refused limit changed LogLimit to %d", s.LogLimit)
	}
}

// TestLogSlice: Slice returns the entries between two indices of those
// held, across chunk boundaries and after the limit dropped the oldest,
// clamped to what is held.
func TestLogSlice(t *testing.T) {
	var l Log[int]
	l.SetLimit(logChunk + 10)
	const added = 2*logChunk + 5
	for i := range added {
		l.Add(i)
	}
	first := added - l.Len() // the value of the oldest entry held
	for _, tc := range []struct{ i, j int }{
		{0, 1}, {0, l.Len()}, {3, 3}, {5, 2}, {-4, 2}, {logChunk - 20, logChunk + 7},
		{l.Len() - 1, l.Len() + 9}, {l.Len(), l.Len() + 1},
	} {
		lo, hi := max(tc.i, 0), min(tc.j, l.Len())
		got := l.Slice(tc.i, tc.j)
		if lo >= hi {
			if got != nil {
				t.Errorf("Slice(%d, %d) = %d entries, want nil", tc.i, tc.j, len(got))
			}
			continue
		}
		if len(got) != hi-lo {
			t.Fatalf("Slice(%d, %d) has %d entries, want %d", tc.i, tc.j, len(got), hi-lo)
		}
		for k, v := range got {
			if want := first + lo + k; v != want {
				t.Fatalf("Slice(%d, %d)[%d] = %d, want %d", tc.i, tc.j, k, v, want)
			}
		}
	}
}
