//go:build pcsc

package pcsctest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/preenroll/preenroll/internal/pcsctest/scard"
	"github.com/preenroll/preenroll/internal/testproc"
	"github.com/preenroll/preenroll/simulator"
)

// pollInterval paces the few checks that have no notification to wait on
// (pcscd's socket appearing, readers being listed).
const pollInterval = 5 * time.Millisecond

// Paths of the Debian packages the harness needs.
const (
	PCSCDPath   = "/usr/sbin/pcscd"
	VPCDLibPath = "/usr/lib/pcsc/drivers/serial/libifdvpcd.so"
	// RequireEnv names the environment variable that turns "skip because
	// PC/SC is missing" into a failure (set by .ci/pcsc.sh).
	RequireEnv = "PREENROLL_REQUIRE_PCSC"
	// SocketEnv is the variable libpcsclite reads to find pcscd's socket.
	SocketEnv = "PCSCLITE_CSOCK_NAME"
)

// YubiKeyReader is the default reader name. ykman lists only readers whose
// name contains "Yubico YubiKey" and treats them as USB-attached keys; piv-go's
// hardware suite also looks for "yubikey".
const YubiKeyReader = "Yubico YubiKey OTP+FIDO+CCID"

// NFCReader is a neutral reader name. ykman treats such a reader as NFC,
// which is the only way its "fido" commands reach a key over PC/SC.
const NFCReader = "Virtual NFC Reader"

// Slots is the number of card slots of one vpcd reader: pcscd names them
// "<name> 00 00" and "<name> 00 01".
const Slots = 2

// process-wide state. libpcsclite caches PCSCLITE_CSOCK_NAME at its first
// call, so the variable points at a symlink that each Stack re-targets to its
// own pcscd; that is also why only one Stack may be live per process.
var (
	linkOnce sync.Once
	linkPath string
	linkErr  error

	liveMu sync.Mutex // guards live
	live   bool
)

// Stack is one private pcscd with a vpcd reader, started by [Start] and
// stopped by the test's Cleanup. Its methods are safe for concurrent use.
type Stack struct {
	pid    int
	dir    string
	socket string // /proc/<pid>/root/run/pcscd/pcscd.comm
	name   string // FRIENDLYNAME
	port   int    // vpcd port of slot 0; slot 1 is port+1
	log    string
}

// Options tune [Start]. The zero value is the default.
type Options struct {
	// ReaderName is the reader's FRIENDLYNAME; default [YubiKeyReader].
	ReaderName string
	// Debug starts pcscd with --debug --apdu; its log (APDUs included) is
	// kept in the test's temp dir at [Stack.LogPath]. Only for diagnosis:
	// the log holds PINs.
	Debug bool
}

// Available reports why the PC/SC stack cannot run here, or "" when it can.
func Available() string {
	for _, p := range []string{PCSCDPath, VPCDLibPath} {
		if _, err := os.Stat(p); err != nil {
			return fmt.Sprintf("%s missing (apt-get install pcscd vsmartcard-vpcd)", p)
		}
	}
	if _, err := exec.LookPath("unshare"); err != nil {
		return "unshare missing (util-linux)"
	}
	if os.Geteuid() != 0 {
		return "not root: a private mount namespace for pcscd needs CAP_SYS_ADMIN"
	}
	return ""
}

// SkipUnlessAvailable skips t when the PC/SC stack cannot run here, or fails
// it when PREENROLL_REQUIRE_PCSC=1.
func SkipUnlessAvailable(t testing.TB) {
	t.Helper()
	if reason := Available(); reason != "" {
		if os.Getenv(RequireEnv) == "1" {
			t.Fatalf("pcsctest: %s, and %s=1", reason, RequireEnv)
		}
		t.Skipf("pcsctest: %s (set %s=1 to fail instead)", reason, RequireEnv)
	}
}

// Start starts pcscd in a private mount namespace (its own tmpfs
// /run/pcscd) with only a vpcd reader on free ports, points this process's
// PCSCLITE_CSOCK_NAME at it, and waits until the reader is listed. Cleanup
// stops pcscd by PID. Start skips (or fails, see [SkipUnlessAvailable]) when
// pcscd, vpcd or unshare are missing. Only one Stack may be live per process;
// tests using it must not run in parallel with each other.
func Start(t testing.TB, opts Options) *Stack {
	t.Helper()
	SkipUnlessAvailable(t)
	if opts.ReaderName == "" {
		opts.ReaderName = YubiKeyReader
	}
	if strings.ContainsAny(opts.ReaderName, "\"\n") {
		t.Fatalf("pcsctest: reader name %q: no quotes or newlines", opts.ReaderName)
	}
	link := socketLink(t)

	liveMu.Lock()
	if live {
		liveMu.Unlock()
		t.Fatal("pcsctest: another Stack is live in this process; PC/SC tests must not run in parallel")
	}
	live = true
	liveMu.Unlock()
	t.Cleanup(func() {
		liveMu.Lock()
		live = false
		liveMu.Unlock()
	})

	var lastErr error
	for attempt := 0; attempt < 5; attempt++ {
		s, err := start(t, opts, link)
		if err == nil {
			return s
		}
		lastErr = err
		if !errors.Is(err, errPortTaken) {
			break
		}
	}
	t.Fatalf("pcsctest: start pcscd: %v", lastErr)
	return nil
}

var errPortTaken = errors.New("vpcd port taken")

func socketLink(t testing.TB) string {
	linkOnce.Do(func() {
		dir, err := os.MkdirTemp("", "pcsctest-sock-")
		if err != nil {
			linkErr = err
			return
		}
		linkPath = filepath.Join(dir, "pcscd.comm")
		if prev, ok := os.LookupEnv(SocketEnv); ok && prev != linkPath {
			// A client library in this process may already have cached
			// another socket; the harness owns the variable from now on.
			fmt.Fprintf(os.Stderr, "pcsctest: replacing %s=%q\n", SocketEnv, prev)
		}
		linkErr = os.Setenv(SocketEnv, linkPath)
	})
	if linkErr != nil {
		t.Fatalf("pcsctest: socket link: %v", linkErr)
	}
	return linkPath
}

func start(t testing.TB, opts Options, link string) (*Stack, error) {
	dir, err := os.MkdirTemp("", "pcsctest-")
	if err != nil {
		return nil, err
	}
	port, err := freePortPair()
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	confDir := filepath.Join(dir, "reader.conf.d")
	if err := os.Mkdir(confDir, 0o755); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	conf := fmt.Sprintf("FRIENDLYNAME \"%s\"\nDEVICENAME   /dev/null:0x%X\nLIBPATH      %s\nCHANNELID    0x%X\n",
		opts.ReaderName, port, VPCDLibPath, port)
	if err := os.WriteFile(filepath.Join(confDir, "vpcd"), []byte(conf), 0o644); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	logPath := filepath.Join(dir, "pcscd.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	defer logFile.Close()

	// unshare and sh exec, so the PID we get is pcscd's. /run/pcscd must
	// exist as a mount point; pcscd would create it anyway.
	script := `mkdir -p /run/pcscd && mount -t tmpfs tmpfs /run/pcscd && exec "$0" -f "$@"`
	args := []string{"--mount", "--propagation", "private", "sh", "-c", script, PCSCDPath, "-c", confDir}
	if opts.Debug {
		args = append(args, "--debug", "--apdu")
	}
	cmd := exec.Command("unshare", args...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := testproc.Start(t, cmd); err != nil { // pcscd dies with the test binary
		os.RemoveAll(dir)
		return nil, err
	}
	exited := make(chan struct{})
	go func() {
		cmd.Wait()
		close(exited)
	}()
	s := &Stack{
		pid:    cmd.Process.Pid,
		dir:    dir,
		socket: fmt.Sprintf("/proc/%d/root/run/pcscd/pcscd.comm", cmd.Process.Pid),
		name:   opts.ReaderName,
		port:   port,
		log:    logPath,
	}
	stop := func() {
		// Stop by PID: SIGTERM, then SIGKILL if pcscd lingers.
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
	}
	if err := s.waitReady(link, exited); err != nil {
		stop()
		tail := logTail(logPath)
		os.RemoveAll(dir)
		return nil, fmt.Errorf("%w\npcscd log:\n%s", err, tail)
	}
	t.Cleanup(func() {
		stop()
		if t.Failed() && opts.Debug {
			t.Logf("pcsctest: pcscd log kept at %s", logPath)
			return
		}
		os.RemoveAll(dir)
	})
	return s, nil
}

// waitReady points the socket link at this pcscd and waits, up to 10 s,
// until it lists both reader slots. The socket and the reader list have no
// notification to wait on, so this polls.
func (s *Stack) waitReady(link string, exited <-chan struct{}) error {
	tmp := link + ".new"
	os.Remove(tmp)
	if err := os.Symlink(s.socket, tmp); err != nil {
		return err
	}
	if err := os.Rename(tmp, link); err != nil {
		return err
	}
	deadline := time.Now().Add(10 * time.Second)
	var lastErr error
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return errors.New("pcscd exited during start-up")
		default:
		}
		if _, err := os.Stat(s.socket); err == nil {
			names, err := s.Readers()
			if err == nil && slices.Equal(names, []string{s.ReaderName(0), s.ReaderName(1)}) {
				return nil
			}
			if err == nil {
				lastErr = fmt.Errorf("readers %q, want %d slots of %q", names, Slots, s.name)
				if strings.Contains(logTail(s.log), "Could not initialize") {
					return errPortTaken
				}
			} else {
				lastErr = err
			}
		}
		time.Sleep(pollInterval)
	}
	if lastErr == nil {
		lastErr = errors.New("socket never appeared")
	}
	return fmt.Errorf("pcscd not ready after 10s: %w", lastErr)
}

// vpcd port range. A vpcd reader listens on two consecutive ports; they
// are drawn below Linux's default ephemeral range (32768–60999,
// net.ipv4.ip_local_port_range), so an outgoing connection of this or any
// other process can never be handed one of them between our check and
// pcscd's bind.
const (
	vpcdPortMin = 20000
	vpcdPortMax = 32766 // the pair's first port; the second is at most 32767
)

// freePortPair finds two consecutive free TCP ports (vpcd listens on
// CHANNELID and CHANNELID+1 on all interfaces) in the range above.
func freePortPair() (int, error) {
	for range 50 {
		port := vpcdPortMin + rand.IntN(vpcdPortMax-vpcdPortMin+1)
		if portPairFree(port) {
			return port, nil
		}
	}
	return 0, fmt.Errorf("no two consecutive free TCP ports in %d-%d", vpcdPortMin, vpcdPortMax+1)
}

// portPairFree reports whether port and port+1 can both be bound on all
// interfaces.
func portPairFree(port int) bool {
	ln, err := net.Listen("tcp", ":"+strconv.Itoa(port))
	if err != nil {
		return false
	}
	defer ln.Close()
	ln2, err := net.Listen("tcp", ":"+strconv.Itoa(port+1))
	if err != nil {
		return false
	}
	ln2.Close()
	return true
}

func logTail(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// PID is pcscd's process ID.
func (s *Stack) PID() int { return s.pid }

// Socket is the path of this pcscd's socket as seen from outside its mount
// namespace; pass it to clients as PCSCLITE_CSOCK_NAME.
func (s *Stack) Socket() string { return s.socket }

// Env returns the current environment with PCSCLITE_CSOCK_NAME pointing at
// this pcscd, for client subprocesses (ykman, python-fido2, go test).
func (s *Stack) Env() []string {
	env := slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, SocketEnv+"=") })
	return append(env, SocketEnv+"="+s.socket)
}

// LogPath is pcscd's stdout/stderr log (with APDUs when Options.Debug).
func (s *Stack) LogPath() string { return s.log }

// ReaderName returns the PC/SC name of a slot, e.g. "Yubico YubiKey
// OTP+FIDO+CCID 00 01" for slot 1.
func (s *Stack) ReaderName(slot int) string {
	return fmt.Sprintf("%s 00 %02d", s.name, slot)
}

// VPCDAddr is where a card for slot dials in.
func (s *Stack) VPCDAddr(slot int) string {
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port+slot))
}

// Readers lists the readers of this pcscd.
func (s *Stack) Readers() ([]string, error) {
	ctx, err := scard.Establish()
	if err != nil {
		return nil, err
	}
	defer ctx.Close()
	return ctx.Readers()
}

// WaitCard waits until slot has a card (present) or none (!present).
func (s *Stack) WaitCard(ctx context.Context, slot int, present bool) error {
	pc, err := scard.Establish()
	if err != nil {
		return err
	}
	defer pc.Close()
	return pc.WaitCard(ctx, s.ReaderName(slot), present)
}

// Insert serves k in slot through the vpcd bridge and waits (up to 10 s)
// until pcscd reports the card present. Cleanup stops serving and waits
// until the card is gone. The returned VPCD can Remove and Insert the key.
func (s *Stack) Insert(t testing.TB, slot int, k *simulator.Key) *simulator.VPCD {
	t.Helper()
	if slot < 0 || slot >= Slots {
		t.Fatalf("pcsctest: slot %d out of range 0..%d", slot, Slots-1)
	}
	v, err := simulator.NewVPCD(s.VPCDAddr(slot), k, simulator.WithVPCDBackoff(5*time.Millisecond, 100*time.Millisecond))
	if err != nil {
		t.Fatalf("pcsctest: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- v.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("pcsctest: vpcd serve: %v", err)
		}
		wctx, wcancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer wcancel()
		if err := s.WaitCard(wctx, slot, false); err != nil {
			t.Errorf("pcsctest: %v", err)
		}
	})
	wctx, wcancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer wcancel()
	if err := s.WaitCard(wctx, slot, true); err != nil {
		t.Fatalf("pcsctest: %v\npcscd log:\n%s", err, logTail(s.log))
	}
	return v
}
