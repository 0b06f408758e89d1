//go:build linux

package locust

import (
	"syscall"
	"time"
)

// sleepPrecise blocks the calling goroutine's thread for d with
// nanosleep(2): to within the kernel's timer slack (about 50 µs), where a
// Go timer under 1 ms is rounded up to the runtime's 1 ms poll when the
// process is idle. It costs one blocked thread while it sleeps, so only
// the open model's pacer uses it, for waits under openPreciseLead.
func sleepPrecise(d time.Duration) {
	if d <= 0 {
		return
	}
	ts := syscall.NsecToTimespec(int64(d))
	for syscall.Nanosleep(&ts, &ts) == syscall.EINTR {
	}
}
