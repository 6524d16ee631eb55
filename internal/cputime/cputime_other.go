//go:build !linux

package cputime

import "time"

var start = time.Now()

// Process falls back to the wall time since the program started.
func Process() time.Duration { return time.Since(start) }

// Thread falls back to the wall time since the program started.
func Thread() time.Duration { return time.Since(start) }

// ProcessSplit falls back to the wall time since the program started, all
// of it user time.
func ProcessSplit() (user, system time.Duration) { return time.Since(start), 0 }
