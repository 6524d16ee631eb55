package fakehttp

import (
	"runtime"
	"strings"
	"testing"
	"unique"
	"unsafe"
)

// TestInternShares: equal strings with their own bytes come back equal and
// sharing one copy; different strings stay apart.
func TestInternShares(t *testing.T) {
	a, b := strings.Clone("example.okta.com"), strings.Clone("example.okta.com")
	if unsafe.StringData(a) == unsafe.StringData(b) {
		t.Fatal("the test's strings already share their bytes")
	}
	// The canonical copy lives while a handle does: hold one, so that a
	// collection between the calls cannot make a second copy.
	h := unique.Make(a)
	defer runtime.KeepAlive(h)
	ia, ib := Intern(a), Intern(b)
	if ia != a || ib != b {
		t.Errorf("Intern changed the value: %q, %q", ia, ib)
	}
	if unsafe.StringData(ia) != unsafe.StringData(ib) {
		t.Error("equal strings do not share one copy")
	}
	if other := Intern("login.example.com"); other == ia || unsafe.StringData(other) == unsafe.StringData(ia) {
		t.Error("different strings share a copy")
	}
}
