//go:build linux

package cluster

import (
	"net"
	"syscall"
	"unsafe"
)

// unsentBytes returns how many bytes written to c the peer's host has not
// acknowledged yet (SIOCOUTQ), and false when it cannot tell.
func unsentBytes(c *net.TCPConn) (int, bool) {
	if c == nil {
		return 0, false
	}
	rc, err := c.SyscallConn()
	if err != nil {
		return 0, false
	}
	var n int32
	var errno syscall.Errno
	if err := rc.Control(func(fd uintptr) {
		_, _, errno = syscall.Syscall(syscall.SYS_IOCTL, fd, syscall.TIOCOUTQ, uintptr(unsafe.Pointer(&n)))
	}); err != nil || errno != 0 {
		return 0, false
	}
	return int(n), true
}
