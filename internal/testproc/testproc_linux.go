package testproc

import (
	"errors"
	"os/exec"
	"runtime"
	"syscall"

	"golang.org/x/sys/unix"
)

// start starts cmd with the parent-death signal SIGKILL and returns a
// channel closed once the child has exited (reaped or not).
//
// The kernel sends the parent-death signal when the thread that forked
// the child exits, not when the process does (prctl(2); go.dev/issue/27505).
// Go ends an OS thread when a goroutine locked to it (runtime.LockOSThread)
// returns without unlocking: a caller on such a goroutine, or any such
// goroutine later run on the thread that forked our child, would kill the
// child in the middle of a test. So the child is forked by a goroutine of
// our own, locked to its thread, which keeps that thread, running nothing
// else, until the child has exited. It learns that with
// waitid(WEXITED|WNOWAIT), which leaves the child's exit status for the
// caller's cmd.Wait. The cost is one idle thread per running child.
// (chromedp starts Chromium the same way.)
func start(cmd *exec.Cmd) (<-chan struct{}, error) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
	started := make(chan error, 1)
	exited := make(chan struct{})
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		defer close(exited)
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		pid := cmd.Process.Pid
		started <- nil
		if afterFork != nil {
			afterFork()
		}
		var info unix.Siginfo
		for {
			// ECHILD: the caller's cmd.Wait has reaped it already.
			err := unix.Waitid(unix.P_PID, pid, &info, unix.WEXITED|unix.WNOWAIT, nil)
			if !errors.Is(err, unix.EINTR) {
				return
			}
		}
	}()
	if err := <-started; err != nil {
		return nil, err
	}
	return exited, nil
}

// afterFork, when a test sets it, is called by the goroutine that forked a
// child, once the child has started, before it waits for the child's exit:
// TestForkingThreadKept blocks in it, parking the goroutine (which nothing
// else does in that window of microseconds), to show that no other
// goroutine runs on the forking thread meanwhile.
var afterFork func()

// awaitExit waits until the child has exited.
func awaitExit(exited <-chan struct{}) { <-exited }
