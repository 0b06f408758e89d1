package locust

import (
	"context"
	"math"
	"runtime"
	"sync/atomic"
	"time"
)

// Load monitoring: a generator that runs out of CPU measures its own
// queueing, not the target. Like Locust's CPU warning, the runner samples
// the process's CPU use and how late its own timers fire, and warns.

const (
	monitorTick     = 100 * time.Millisecond
	monitorWindow   = 5 * time.Second
	cpuWarnPercent  = 90
	lagWarnDuration = 20 * time.Millisecond
)

// LoadWarning describes a generator that is short of CPU.
type LoadWarning struct {
	// CPUPercent is the process's CPU use over the last window, as a
	// percentage of all the cores it may use (GOMAXPROCS).
	CPUPercent float64
	// Lag is the worst delay of the runner's own 100 ms timer in the
	// window: how late a goroutine gets to run.
	Lag time.Duration
}

type loadMonitor struct {
	cpu atomic.Uint64 // math.Float64bits of the last CPU percentage
	lag atomic.Int64  // worst lag of the last window, ns
	// cpuTime reads the process's CPU time; nil means processCPU. Tests
	// set it to give the monitor a known load.
	cpuTime func() (time.Duration, bool)
}

// CPUPercent is the process's CPU use over the last 5 seconds, as a
// percentage of GOMAXPROCS cores (0 before the first window, or where the
// platform does not say).
func (r *Runner) CPUPercent() float64 { return math.Float64frombits(r.monitor.cpu.Load()) }

// SchedulingLag is the worst lateness of the runner's own 100 ms timer over
// the last 5 seconds: when it grows, response times include time spent
// waiting for a CPU in the generator.
func (r *Runner) SchedulingLag() time.Duration { return time.Duration(r.monitor.lag.Load()) }

// monitorLoad runs until ctx ends; it warns (log and Events.LoadWarning)
// when CPU use crosses 90% or the timer lag exceeds 20 ms.
func (r *Runner) monitorLoad(ctx context.Context) {
	t := time.NewTicker(monitorTick)
	defer t.Stop()
	cpuTime := r.monitor.cpuTime
	if cpuTime == nil {
		cpuTime = processCPU
	}
	cpu0, ok := cpuTime()
	wall0 := time.Now()
	last := wall0
	var worst time.Duration
	warned := false
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			// the ticker's value is when it was due; now is when we ran
			lag := time.Since(now)
			if gap := time.Since(last) - monitorTick; gap > lag {
				lag = gap // a tick dropped while we could not run
			}
			last = time.Now()
			worst = max(worst, lag)
			if last.Sub(wall0) < r.monWindow {
				continue
			}
			var pct float64
			if ok {
				cpu1, _ := cpuTime()
				pct = 100 * float64(cpu1-cpu0) / float64(last.Sub(wall0)) / float64(runtime.GOMAXPROCS(0))
				cpu0 = cpu1
			}
			wall0 = last
			r.monitor.cpu.Store(math.Float64bits(pct))
			r.monitor.lag.Store(int64(worst))
			high := pct >= cpuWarnPercent || worst >= lagWarnDuration
			if high && !warned {
				r.log.Warn("the load generator is short of CPU: response times may include time waiting in this process; use fewer users per process, more processes, or a faster client",
					"cpu_percent", int(pct), "timer_lag", worst.Round(time.Millisecond).String())
				r.events.LoadWarning.fire(LoadWarning{CPUPercent: pct, Lag: worst})
			}
			warned = high
			worst = 0
		}
	}
}
