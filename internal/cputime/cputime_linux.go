package cputime

import (
	"syscall"
	"time"
)

// Process returns the CPU time (user + system) the whole process has used
// so far, garbage collector and every goroutine included.
func Process() time.Duration {
	user, system := rusage(syscall.RUSAGE_SELF)
	return user + system
}

// ProcessSplit returns Process's two parts: the CPU time the process has
// used in user space and in the kernel (system calls: loopback sockets,
// fsync, futex wake-ups of the Go scheduler).
func ProcessSplit() (user, system time.Duration) { return rusage(syscall.RUSAGE_SELF) }

// Thread returns the CPU time the calling OS thread has used; the caller
// holds runtime.LockOSThread. Work on other goroutines is not counted.
func Thread() time.Duration {
	const rusageThread = 1 // RUSAGE_THREAD
	user, system := rusage(rusageThread)
	return user + system
}

// rusage returns the user and system CPU time getrusage reports for who
// (zero if it fails).
func rusage(who int) (user, system time.Duration) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(who, &ru); err != nil {
		return 0, 0
	}
	return time.Duration(ru.Utime.Nano()), time.Duration(ru.Stime.Nano())
}
