package testproc

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// parentEnv makes the test binary act as a test that started a child and
// then hangs, for TestChildDiesWithTestBinary.
const parentEnv = "TESTPROC_PARENT"

// forkingEnv makes the test binary run TestForkingThreadKept's checks,
// for TestForkingThreadKept.
const forkingEnv = "TESTPROC_FORKING_THREAD"

// exitWait bounds the waits for a process to exit; they end at the exit,
// through a pidfd, not after this time.
const exitWait = 30 * time.Second

// pidfd opens a pidfd of pid, closed when t ends.
func pidfd(t *testing.T, pid int) int {
	t.Helper()
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		t.Fatalf("pidfd_open %d: %v", pid, err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	return fd
}

// exited reports whether the process of fd has exited within d.
func exited(t *testing.T, fd int, d time.Duration) bool {
	t.Helper()
	fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	for {
		n, err := unix.Poll(fds, int(d.Milliseconds()))
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			t.Fatalf("poll pidfd: %v", err)
		}
		return n == 1
	}
}

// init keeps the main thread, as the parent, for the program's main
// goroutine: Go wedges rather than ends the main thread when a goroutine
// ends locked to it, so TestHangingParent's caller, and the thread
// TestForkingThreadKept forks from, must be others.
func init() {
	if os.Getenv(parentEnv) == "1" || os.Getenv(forkingEnv) == "1" {
		runtime.LockOSThread()
	}
}

// TestHangingParent is the test binary as a test that starts a child with
// Start, prints the child's PID and hangs until killed. It runs only as
// TestChildDiesWithTestBinary's child.
func TestHangingParent(t *testing.T) {
	if os.Getenv(parentEnv) != "1" {
		t.Skip("run by TestChildDiesWithTestBinary")
	}
	// The child is started from a goroutine that ends locked to its
	// thread, which ends that thread (go.dev/issue/27505): the thread
	// that forked a child must not be that one.
	cmd := exec.Command("sleep", "1000")
	tid, started := make(chan int, 1), make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked
		tid <- unix.Gettid()
		started <- Start(t, cmd)
	}()
	caller := <-tid
	if err := <-started; err != nil {
		t.Fatal(err)
	}
	if caller == os.Getpid() {
		t.Fatal("the caller ran on the main thread, which init keeps")
	}
	// Nothing notifies a thread's end, so this looks until it is gone.
	for deadline := time.Now().Add(exitWait); ; runtime.Gosched() {
		if _, err := os.Stat(fmt.Sprintf("/proc/self/task/%d", caller)); os.IsNotExist(err) {
			break // the caller's thread has ended
		}
		if time.Now().After(deadline) {
			t.Fatalf("the thread %d of a goroutine that ended locked to it is still there after %v", caller, exitWait)
		}
	}
	// More goroutines that end locked to their threads: none of these
	// threads may be the one that forked the child either.
	done := make(chan struct{})
	for range 4 * runtime.GOMAXPROCS(0) {
		go func() {
			runtime.LockOSThread()
			done <- struct{}{}
		}()
	}
	for range 4 * runtime.GOMAXPROCS(0) {
		<-done
	}
	fmt.Printf("child %d\n", cmd.Process.Pid)
	io.Copy(io.Discard, os.Stdin) // hang until killed
}

// TestChildDiesWithTestBinary: a test binary that is killed (as go test's
// -timeout ends one, without running cleanups) takes its children with it.
func TestChildDiesWithTestBinary(t *testing.T) {
	if _, err := exec.LookPath("sleep"); err != nil {
		t.Skipf("no sleep program: %v", err)
	}
	parent := exec.Command(os.Args[0], "-test.run=^TestHangingParent$", "-test.v")
	parent.Env = append(os.Environ(), parentEnv+"=1")
	stdin, err := parent.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	defer stdin.Close()
	out, err := parent.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := Start(t, parent); err != nil {
		t.Fatal(err)
	}
	pid := 0
	sc := bufio.NewScanner(out)
	for pid == 0 && sc.Scan() {
		if s, ok := strings.CutPrefix(sc.Text(), "child "); ok {
			if pid, err = strconv.Atoi(s); err != nil {
				t.Fatalf("parent printed %q", sc.Text())
			}
		}
	}
	if pid == 0 {
		parent.Process.Kill()
		t.Fatalf("the parent printed no child PID: %v", parent.Wait())
	}
	child := pidfd(t, pid)
	if exited(t, child, 0) {
		t.Fatal("the child died while its parent lives (its forking thread ended?)")
	}
	if err := parent.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	go io.Copy(io.Discard, out)
	parent.Wait()
	if !exited(t, child, exitWait) {
		unix.PidfdSendSignal(child, unix.SIGKILL, nil, 0)
		t.Fatalf("the child %d outlived its killed parent by %v", pid, exitWait)
	}
}

// TestCleanupKillsAndWaits: a child still running when its test ends is
// killed, and has exited when the cleanup returns.
func TestCleanupKillsAndWaits(t *testing.T) {
	if _, err := exec.LookPath("sleep"); err != nil {
		t.Skipf("no sleep program: %v", err)
	}
	var cmd *exec.Cmd
	var fd int
	t.Run("starts", func(st *testing.T) {
		cmd = exec.Command("sleep", "1000")
		if err := Start(st, cmd); err != nil {
			st.Fatal(err)
		}
		fd = pidfd(t, cmd.Process.Pid) // t's, not st's: open after st's cleanups
	})
	if !exited(t, fd, 0) {
		t.Error("the child is still running after its test's cleanups")
	}
	err := cmd.Wait()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ProcessState.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Errorf("the child ended with %v, want killed by SIGKILL", err)
	}
}

// TestOutputs: Run, Output and CombinedOutput behave as exec.Cmd's.
func TestOutputs(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skipf("no sh: %v", err)
	}
	// A wrong error type fails the test rather than panicking it.
	if err := Run(t, exec.Command(sh, "-c", "exit 3")); !isExit(err, 3) {
		t.Errorf("Run exit 3: %v", err)
	}
	out, err := Output(t, exec.Command(sh, "-c", "echo out; echo err >&2; exit 1"))
	var stderr []byte
	ee, ok := err.(*exec.ExitError)
	if ok {
		stderr = ee.Stderr
	}
	if !ok || string(stderr) != "err\n" || string(out) != "out\n" {
		t.Errorf("Output = %q, %v (stderr %q)", out, err, stderr)
	}
	out, err = CombinedOutput(t, exec.Command(sh, "-c", "echo out; echo err >&2"))
	if err != nil || string(out) != "out\nerr\n" {
		t.Errorf("CombinedOutput = %q, %v", out, err)
	}
	if _, err := Output(t, &exec.Cmd{Path: sh, Stdout: io.Discard}); err == nil {
		t.Error("Output with Stdout set: no error")
	}
}

// isExit reports whether err is an *exec.ExitError with the exit code code.
func isExit(err error, code int) bool {
	ee, ok := err.(*exec.ExitError)
	return ok && ee.ExitCode() == code
}

// TestForkingThreadKept: while a child runs, the thread that forked it
// runs nothing else, so that no goroutine ending locked to its thread can
// end that one (which would kill the child: the parent-death signal
// follows the forking thread). The forking goroutine is held, parked,
// after the fork (afterFork), as the scheduler may park or move it before
// it waits; goroutines ending locked to their threads then end threads
// until the forking one would have been among them. It runs in a new test
// binary whose main thread, which Go never ends, init keeps for the main
// goroutine.
func TestForkingThreadKept(t *testing.T) {
	if _, err := exec.LookPath("sleep"); err != nil {
		t.Skipf("no sleep program: %v", err)
	}
	if os.Getenv(forkingEnv) != "1" {
		cmd := exec.Command(os.Args[0], "-test.run=^TestForkingThreadKept$", "-test.v")
		cmd.Env = append(os.Environ(), forkingEnv+"=1")
		if out, err := CombinedOutput(t, cmd); err != nil || !strings.Contains(string(out), "--- PASS: TestForkingThreadKept") {
			t.Errorf("%v:\n%s", err, out)
		}
		return
	}
	forker, release := make(chan int, 1), make(chan struct{})
	afterFork = func() {
		forker <- unix.Gettid()
		<-release
	}
	defer func() { afterFork = nil }()
	cmd := exec.Command("sleep", "1000")
	if err := Start(t, cmd); err != nil {
		t.Fatal(err)
	}
	child := pidfd(t, cmd.Process.Pid)
	tid := <-forker
	if tid == os.Getpid() {
		t.Fatal("the child was forked on the main thread, which init keeps")
	}
	threadGone := func() bool {
		_, err := os.Stat(fmt.Sprintf("/proc/self/task/%d", tid))
		return os.IsNotExist(err)
	}
	// Each goroutine that ends locked to its thread ends that thread, and
	// the scheduler takes an idle thread, or makes one, for the next: 64
	// rounds go through every idle thread many times over.
	done := make(chan struct{})
	for round := 0; round < 64 && !threadGone(); round++ {
		for range runtime.GOMAXPROCS(0) {
			go func() {
				runtime.LockOSThread()
				done <- struct{}{}
			}()
		}
		for range runtime.GOMAXPROCS(0) {
			<-done
		}
	}
	close(release)
	if threadGone() {
		t.Errorf("the thread %d that forked the child ran a goroutine that ended it", tid)
	}
	if exited(t, child, 0) {
		t.Error("the child died while its test runs (its forking thread ended)")
	}
}
