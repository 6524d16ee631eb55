//go:build linux

package simulator

import (
	"net"
	"syscall"
)

// quickAcker re-arms TCP_QUICKACK on a connection before each read. Linux
// clears the flag after it takes effect, so it must be set again every time
// (tcp(7)). With it the kernel ACKs vpcd's length segment at once, and vpcd's
// payload segment is not held back by Nagle's algorithm waiting for our
// delayed ACK (about 40 ms per APDU with Debian's vpcd 3.3).
type quickAcker struct {
	raw syscall.RawConn // nil when conn is not a TCP connection
}

func newQuickAcker(conn net.Conn) quickAcker {
	tc, ok := conn.(*net.TCPConn)
	if !ok {
		return quickAcker{}
	}
	raw, err := tc.SyscallConn()
	if err != nil {
		return quickAcker{}
	}
	return quickAcker{raw: raw}
}

// arm sets TCP_QUICKACK. Failures only cost latency, so they are ignored.
func (q quickAcker) arm() {
	if q.raw == nil {
		return
	}
	_ = q.raw.Control(func(fd uintptr) {
		_ = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_QUICKACK, 1)
	})
}
