package fulfillment

import (
	"fmt"
	"testing"
)

// TestSeenLensBound checks that the SQLite store's memory of the records it
// returned stays under maxSeenLens however many it returns, and that what it
// remembers is exact: the version and the history's length together.
func TestSeenLensBound(t *testing.T) {
	var l seenLens
	rec := func(i int) Record {
		return Record{UserID: fmt.Sprintf("00u%d", i), Version: 3, History: make([]Change, 2)}
	}
	for i := range 3*maxSeenLens + 5 {
		l.note(rec(i))
		if len(l.m) > maxSeenLens {
			t.Fatalf("after %d records noted, %d remembered, want at most %d", i+1, len(l.m), maxSeenLens)
		}
	}
	last := rec(3*maxSeenLens + 4)
	if !l.bookkeeping(last) {
		t.Error("the record noted last is forgotten")
	}
	step := last
	step.History = append(step.History, Change{})
	later := last
	later.Version++
	for name, r := range map[string]Record{"a step": step, "another version": later, "an unknown record": rec(-1)} {
		if l.bookkeeping(r) {
			t.Errorf("%s is guessed to be bookkeeping", name)
		}
	}
}
