package locust

import (
	"context"
	"log/slog"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A generator whose cores are all busy warns that it is short of CPU, and
// says how busy it was. The process's CPU time is read from a clock that
// says "every core busy since the start" (on a shared machine the real
// figure depends on the other processes); the monitor's own window, timer
// and warning are the real ones.
func TestLoadWarningWhenGeneratorIsBusy(t *testing.T) {
	ut := &UserType{Name: "busy", Wait: Constant(50 * time.Millisecond),
		Tasks: NewTaskSet("t").Task(1, func(context.Context, *User) error { return nil })}
	r, err := NewRunner(Config{Users: 2, RunTime: 1500 * time.Millisecond,
		Logger: slog.New(slog.DiscardHandler)}, ut)
	require.NoError(t, err)
	r.monWindow = 300 * time.Millisecond
	var mu sync.Mutex
	var t0 time.Time
	r.monitor.cpuTime = func() (time.Duration, bool) {
		mu.Lock()
		defer mu.Unlock()
		if t0.IsZero() {
			t0 = time.Now()
		}
		return time.Duration(runtime.GOMAXPROCS(0)) * time.Since(t0), true
	}
	var warnings atomic.Int32
	var last atomic.Value
	r.Events().LoadWarning.Add(func(w LoadWarning) {
		warnings.Add(1)
		last.Store(w)
	})
	require.NoError(t, r.Run(context.Background()))
	require.EqualValues(t, 1, warnings.Load(), "one warning when the generator crosses into being busy, not one per window")
	w := last.Load().(LoadWarning)
	assert.InDelta(t, 100, w.CPUPercent, 10, "%+v", w)
	assert.InDelta(t, 100, r.CPUPercent(), 10)
	assert.Positive(t, r.SchedulingLag(), "the lag of the last window is kept")
}

// A process that really burns CPU reads a CPU use above zero through the
// platform's clock (how much depends on the rest of the machine).
func TestCPUPercentWhenBusy(t *testing.T) {
	if _, ok := processCPU(); !ok {
		t.Skip("no process CPU time on this platform")
	}
	spin := func(ctx context.Context, u *User) error {
		end := time.Now().Add(20 * time.Millisecond)
		for time.Now().Before(end) && ctx.Err() == nil {
		}
		return nil
	}
	ut := &UserType{Name: "busy", Tasks: NewTaskSet("spin").Task(1, spin)}
	r, err := NewRunner(Config{Users: 2 * runtime.GOMAXPROCS(0), RunTime: 1200 * time.Millisecond,
		Logger: slog.New(slog.DiscardHandler)}, ut)
	require.NoError(t, err)
	r.monWindow = 500 * time.Millisecond
	require.NoError(t, r.Run(context.Background()))
	assert.Greater(t, r.CPUPercent(), 5.0)
}

// An idle generator reports a low CPU use. (Whether it warns depends on
// the rest of the machine too, through the timer lag, so that is not
// asserted.)
func TestCPUPercentWhenIdle(t *testing.T) {
	ut := &UserType{Name: "idle", Wait: Constant(100 * time.Millisecond),
		Tasks: NewTaskSet("idle").Task(1, func(context.Context, *User) error { return nil })}
	r, err := NewRunner(Config{Users: 2, RunTime: 1500 * time.Millisecond, Logger: slog.New(slog.DiscardHandler)}, ut)
	require.NoError(t, err)
	r.monWindow = 500 * time.Millisecond
	require.NoError(t, r.Run(context.Background()))
	assert.Less(t, r.CPUPercent(), 50.0)
}

// One late tick in a window is a pause, not a generator short of CPU; a
// tenth of them is. A busy process and a busy machine are told apart.
func TestShortOfCPUVerdict(t *testing.T) {
	for _, c := range []struct {
		w    LoadWarning
		want bool
	}{
		{LoadWarning{CPUPercent: 5, Lag: 21 * time.Millisecond, LateShare: 1.0 / 50}, false},
		{LoadWarning{CPUPercent: 5, Lag: 300 * time.Millisecond, LateShare: 4.0 / 50}, false},
		{LoadWarning{CPUPercent: 5, Lag: 25 * time.Millisecond, LateShare: 5.0 / 50}, true},
		{LoadWarning{CPUPercent: 95, Lag: time.Millisecond}, true},
		{LoadWarning{CPUPercent: 89, Lag: time.Millisecond}, false},
	} {
		assert.Equal(t, c.want, shortOfCPU(c.w), "%+v", c.w)
	}
	assert.Contains(t, loadWarningText(LoadWarning{CPUPercent: 95}), "fewer users per process")
	assert.Contains(t, loadWarningText(LoadWarning{CPUPercent: 5, LateShare: 0.5}), "other processes hold the cores")
}
