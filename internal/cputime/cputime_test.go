package cputime

import (
	"crypto/sha256"
	"runtime"
	"testing"
)

func TestMonotonic(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	p0, t0 := Process(), Thread()
	sum := sha256.Sum256(nil)
	for range 20000 {
		sum = sha256.Sum256(sum[:])
	}
	p1, t1 := Process(), Thread()
	if p1 < p0 || t1 < t0 {
		t.Errorf("CPU time went backwards: process %v -> %v, thread %v -> %v", p0, p1, t0, t1)
	}
	if p1 <= 0 {
		t.Errorf("process CPU time %v after work, want > 0", p1)
	}
	if u, s := ProcessSplit(); u < 0 || s < 0 || u+s < p1 {
		t.Errorf("ProcessSplit() = %v + %v, want parts of at least Process's %v", u, s, p1)
	}
	if runtime.GOOS == "linux" && t1 > p1 { // elsewhere both are wall time
		t.Errorf("thread CPU time %v exceeds the process's %v", t1, p1)
	}
}
