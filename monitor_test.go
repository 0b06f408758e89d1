package locust

import (
	"context"
	"log/slog"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A generator that burns every core warns that it is short of CPU, and says
// how busy it was.
func TestLoadWarningWhenGeneratorIsBusy(t *testing.T) {
	spin := func(ctx context.Context, u *User) error {
		end := time.Now().Add(20 * time.Millisecond)
		for time.Now().Before(end) && ctx.Err() == nil {
		}
		return nil
	}
	ut := &UserType{Name: "busy", Tasks: NewTaskSet("spin").Task(1, spin)}
	r, err := NewRunner(Config{Users: 4 * runtime.GOMAXPROCS(0), RunTime: 2500 * time.Millisecond,
		Logger: slog.New(slog.DiscardHandler)}, ut)
	require.NoError(t, err)
	r.monWindow = 500 * time.Millisecond
	var warnings atomic.Int32
	var last atomic.Value
	r.Events().LoadWarning.Add(func(w LoadWarning) {
		warnings.Add(1)
		last.Store(w)
	})
	require.NoError(t, r.Run(context.Background()))
	require.Positive(t, warnings.Load(), "no load warning while every core was busy")
	w := last.Load().(LoadWarning)
	assert.True(t, w.CPUPercent >= cpuWarnPercent || w.Lag >= lagWarnDuration, "%+v", w)
	assert.Positive(t, r.CPUPercent())
	assert.Positive(t, r.SchedulingLag(), "the lag of the last window is kept")
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
