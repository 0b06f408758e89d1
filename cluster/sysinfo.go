package cluster

import (
	"runtime/metrics"
	"time"
)

// cpuMeter measures the process's CPU use between two samples, in percent
// of one core (as psutil's Process.cpu_percent, which Locust sends).
type cpuMeter struct {
	last    time.Time
	lastCPU time.Duration
}

func (c *cpuMeter) sample() float64 {
	now, cpu := time.Now(), processCPU()
	defer func() { c.last, c.lastCPU = now, cpu }()
	if c.last.IsZero() || cpu < 0 {
		return 0
	}
	wall := now.Sub(c.last)
	if wall <= 0 {
		return 0
	}
	return 100 * float64(cpu-c.lastCPU) / float64(wall)
}

// memoryUsage is the memory the Go runtime holds from the system, in bytes.
func memoryUsage() int64 {
	s := []metrics.Sample{{Name: "/memory/classes/total:bytes"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return int64(s[0].Value.Uint64())
}
