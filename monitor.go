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
	// lagWarnShare is the share of a window's ticks that must be late by
	// lagWarnDuration: one late timer is a pause (a GC, another process's
	// burst), a tenth of them is a generator that cannot keep up.
	lagWarnShare = 0.10
)

// LoadWarning describes a generator that is short of CPU.
type LoadWarning struct {
	// CPUPercent is the process's CPU use over the last window, as a
	// percentage of all the cores it may use (GOMAXPROCS).
	CPUPercent float64
	// Lag is the worst delay of the runner's own 100 ms timer in the
	// window: how late a goroutine gets to run.
	Lag time.Duration
	// LateShare is the share of the window's timer ticks that ran late by
	// 20 ms or more (0 to 1).
	LateShare float64
}

// shortOfCPU is the monitor's verdict on one window: the process used 90%
// of its cores, or a tenth of its timer ticks ran 20 ms late. A single late
// tick is not enough: a GC pause or another process's burst makes one, and
// a generator that cannot keep up makes many.
func shortOfCPU(w LoadWarning) bool {
	return w.CPUPercent >= cpuWarnPercent || w.LateShare >= lagWarnShare
}

// loadWarningText is the log line for w: a busy process and a busy machine
// call for different remedies.
func loadWarningText(w LoadWarning) string {
	if w.CPUPercent >= cpuWarnPercent {
		return "the load generator is short of CPU: response times may include time waiting in this process; use fewer users per process, more processes, or a faster client"
	}
	return "the load generator is short of CPU: its timers run late while it uses little CPU itself, so other processes hold the cores; response times may include that wait: give the generator a machine (or cores) of its own"
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
// when CPU use crosses 90% or a tenth of its ticks run 20 ms late.
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
	var ticks, late int
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
			ticks++
			if lag >= lagWarnDuration {
				late++
			}
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
			w := LoadWarning{CPUPercent: pct, Lag: worst, LateShare: float64(late) / float64(ticks)}
			high := shortOfCPU(w)
			if high && !warned {
				r.log.Warn(loadWarningText(w), "cpu_percent", int(pct),
					"timer_lag", worst.Round(time.Millisecond).String(), "late_ticks_percent", int(100*w.LateShare))
				r.events.LoadWarning.fire(w)
			}
			warned = high
			worst, ticks, late = 0, 0, 0
		}
	}
}
