//go:build !linux

package locust

import "time"

// sleepPrecise sleeps for d; elsewhere than on Linux it is time.Sleep (see
// the Linux version).
func sleepPrecise(d time.Duration) { time.Sleep(d) }
