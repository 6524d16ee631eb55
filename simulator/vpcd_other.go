//go:build !linux

package simulator

import "net"

// quickAcker does nothing outside Linux: TCP_QUICKACK is Linux-only, and
// vpcd with pcscd is a Linux setup.
type quickAcker struct{}

func newQuickAcker(net.Conn) quickAcker { return quickAcker{} }

func (quickAcker) arm() {}
