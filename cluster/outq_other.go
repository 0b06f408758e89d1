//go:build !linux

package cluster

import "net"

// unsentBytes cannot tell on this platform.
func unsentBytes(*net.TCPConn) (int, bool) { return 0, false }
