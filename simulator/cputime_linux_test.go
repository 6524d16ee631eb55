package simulator_test

import (
	"syscall"
	"time"
)

// threadCPU returns the CPU time the calling OS thread has used, so
// benchmarks on a loaded machine can compare work rather than waiting.
// The caller must hold runtime.LockOSThread.
func threadCPU() time.Duration {
	const rusageThread = 1 // RUSAGE_THREAD
	var ru syscall.Rusage
	if err := syscall.Getrusage(rusageThread, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
