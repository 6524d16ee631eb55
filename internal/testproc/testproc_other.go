//go:build !linux

package testproc

import "os/exec"

// start starts cmd: only Linux has a parent-death signal, so here a child
// outlives a test binary that dies without running its cleanups.
func start(cmd *exec.Cmd) (<-chan struct{}, error) { return nil, cmd.Start() }

// awaitExit returns at once: waiting without reaping needs Linux's
// waitid(WNOWAIT), and reaping here would race with the caller's cmd.Wait
// (whose PID could by then belong to another child).
func awaitExit(<-chan struct{}) {}
