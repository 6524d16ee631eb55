// Package pcsctest runs real PC/SC clients against the simulated YubiKey.
//
// With the build tag pcsc it starts a private pcscd (Debian's pcscd with the
// vsmartcard-vpcd reader driver) in its own mount namespace, serves
// simulator keys to it through [github.com/preenroll/preenroll/simulator.VPCD], and waits for pcscd to see
// them; piv-go, ykman and python-fido2 then talk to the simulated key as to a
// plugged-in one. Without the tag the package is empty, so the module builds
// without cgo.
//
// # Use
//
//	func TestSomething(t *testing.T) {
//		st := pcsctest.Start(t, pcsctest.Options{})     // skips if pcscd/vpcd are missing
//		key, _ := simulator.New(simulator.WithSerial(12345678))
//		st.Insert(t, 0, key)                            // waits until the card is present
//		yk, _ := piv.Open(st.ReaderName(0))             // PCSCLITE_CSOCK_NAME already points at st
//		...
//		cmd := exec.Command("ykman", "--reader", st.ReaderName(0), "info")
//		cmd.Env = st.Env()                              // subprocesses get the socket too
//		out, err := testproc.Output(t, cmd)             // never outlives the test binary
//	}
//
// Requirements: root (for unshare --mount), /usr/sbin/pcscd,
// /usr/lib/pcsc/drivers/serial/libifdvpcd.so and unshare. When they are
// missing tests skip with the reason, unless PREENROLL_REQUIRE_PCSC=1, which
// makes them fail.
//
// Subpackage scard is the small cgo PC/SC binding the harness uses (list
// readers, wait for a card, raw APDUs).
//
// libpcsclite reads PCSCLITE_CSOCK_NAME once per process, so the harness
// points it at a symlink that each Stack re-targets: one Stack at a time per
// test binary, and tests that use it do not call t.Parallel.
package pcsctest
