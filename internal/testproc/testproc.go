// Package testproc starts the child processes of tests (our binaries, the
// go command, the PC/SC clients, scripts) so that none outlives the test
// binary.
//
// A child started with [Start] (or [Run], [Output], [CombinedOutput], the
// counterparts of the exec.Cmd methods of the same names) is killed, and
// waited for, when the test ends (t.Cleanup). That cleanup does not run
// when the test binary itself dies: killed by go test's -timeout (its
// panic exits the process), by a signal, or by a crash. On Linux the
// kernel then kills the child too: it is started with the parent-death
// signal SIGKILL (prctl PR_SET_PDEATHSIG, exec.Cmd's
// SysProcAttr.Pdeathsig). On other systems that second net is missing,
// and the cleanup kills without waiting: only Linux can wait for a child
// without reaping it, which the caller's cmd.Wait still does.
//
// Every test (and test helper) that starts a process uses this package;
// exec.Cmd's Start, Run, Output and CombinedOutput are not called directly.
package testproc

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"testing"
)

// Start starts cmd as [exec.Cmd.Start] does, so that it does not outlive
// the test binary (see the package doc), and kills it when t ends unless
// it has exited by then, waiting until it has. The caller still calls
// cmd.Wait, as after cmd.Start, to collect the exit status and output.
func Start(t testing.TB, cmd *exec.Cmd) error {
	t.Helper()
	exited, err := start(cmd)
	if err != nil {
		return err
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill() // os.ErrProcessDone once cmd.Wait has returned
		awaitExit(exited)
	})
	return nil
}

// Run starts cmd with [Start] and waits for it, as [exec.Cmd.Run] does.
func Run(t testing.TB, cmd *exec.Cmd) error {
	t.Helper()
	if err := Start(t, cmd); err != nil {
		return err
	}
	return cmd.Wait()
}

// Output runs cmd with [Run] and returns its standard output, as
// [exec.Cmd.Output] does: when cmd.Stderr is nil, an *exec.ExitError
// carries what the program wrote to its standard error.
func Output(t testing.TB, cmd *exec.Cmd) ([]byte, error) {
	t.Helper()
	if cmd.Stdout != nil {
		return nil, errors.New("testproc: Stdout already set")
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	captured := cmd.Stderr == nil
	if captured {
		cmd.Stderr = &stderr
	}
	err := Run(t, cmd)
	var ee *exec.ExitError
	if captured && errors.As(err, &ee) {
		ee.Stderr = stderr.Bytes()
	}
	return stdout.Bytes(), err
}

// CombinedOutput runs cmd with [Run] and returns its standard output and
// standard error together, as [exec.Cmd.CombinedOutput] does.
func CombinedOutput(t testing.TB, cmd *exec.Cmd) ([]byte, error) {
	t.Helper()
	if cmd.Stdout != nil || cmd.Stderr != nil {
		return nil, errors.New("testproc: Stdout or Stderr already set")
	}
	var b bytes.Buffer
	cmd.Stdout, cmd.Stderr = &b, &b
	err := Run(t, cmd)
	return b.Bytes(), err
}

// Build builds the Go program pkg (an import path) into bin, as .ci/run
// builds the programs (CGO_ENABLED=0, no race detector), so the build cache
// is reused and the program runs at full speed when the test binary has
// -race. It fails t if the program does not build.
func Build(t testing.TB, pkg, bin string) {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), "go", "build", "-o", bin, pkg)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := CombinedOutput(t, cmd); err != nil {
		t.Fatalf("go build %s: %v\n%s", pkg, err, out)
	}
}
