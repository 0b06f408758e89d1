package locust

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestBetweenStaysInRangeAndSpreads(t *testing.T) {
	const n = 20000
	lo, hi := 10*time.Millisecond, 20*time.Millisecond
	w := Between(lo, hi)
	var sum time.Duration
	minSeen, maxSeen := hi, lo
	for range n {
		d := w.Wait(nil)
		require.GreaterOrEqual(t, d, lo)
		require.LessOrEqual(t, d, hi)
		sum += d
		minSeen, maxSeen = min(minSeen, d), max(maxSeen, d)
	}
	// uniform on [lo, hi]: sd = (hi-lo)/sqrt(12) ≈ 2.89 ms, so the mean of
	// n draws is within 5 sd/sqrt(n) ≈ 0.1 ms of 15 ms.
	mean := float64(sum) / n
	assert.InDelta(t, float64(15*time.Millisecond), mean, float64(100*time.Microsecond))
	assert.Less(t, minSeen, lo+200*time.Microsecond, "draws should reach the low end")
	assert.Greater(t, maxSeen, hi-200*time.Microsecond, "draws should reach the high end")

	// degenerate ranges
	assert.Equal(t, 5*time.Millisecond, Between(5*time.Millisecond, 5*time.Millisecond).Wait(nil))
	assert.Equal(t, 5*time.Millisecond, Between(5*time.Millisecond, time.Millisecond).Wait(nil))
	assert.Zero(t, BetweenWait{}.Wait(nil), "zero value waits nothing")
}

func TestConstantWait(t *testing.T) {
	assert.Equal(t, 250*time.Millisecond, Constant(250*time.Millisecond).Wait(nil))
	assert.Zero(t, Constant(-time.Second).Wait(nil))
	assert.Zero(t, ConstantWait{}.Wait(&User{}))
}

func TestConstantPacingWait(t *testing.T) {
	p := ConstantPacing(100 * time.Millisecond)
	// before any task (or without a user) the whole interval is waited
	assert.Equal(t, 100*time.Millisecond, p.Wait(nil))
	assert.Equal(t, 100*time.Millisecond, p.Wait(&User{}))

	// the task took 30 ms of the interval: wait the rest
	r := &Runner{}
	r.sleepers.epoch = time.Now().Add(-time.Hour)
	startedAgo := func(d time.Duration) int64 { return r.sleepers.now() - int64(d) }
	u := &User{runner: r, lastStart: startedAgo(30 * time.Millisecond)}
	d := p.Wait(u)
	assert.LessOrEqual(t, d, 70*time.Millisecond)
	assert.Greater(t, d, 0*time.Millisecond)

	// the task took longer than the interval: no wait
	u.lastStart = startedAgo(time.Second)
	assert.Zero(t, p.Wait(u))
	assert.Zero(t, PacingWait{}.Wait(u))
}

func TestConstantThroughputWait(t *testing.T) {
	assert.Equal(t, PacingWait{Interval: 250 * time.Millisecond}, ConstantThroughput(4))
	assert.Equal(t, PacingWait{Interval: 2 * time.Second}, ConstantThroughput(0.5))
	assert.Equal(t, PacingWait{}, ConstantThroughput(0))
	assert.Equal(t, PacingWait{}, ConstantThroughput(-3))
	r := &Runner{}
	r.sleepers.epoch = time.Now().Add(-time.Hour)
	u := &User{runner: r, lastStart: r.sleepers.now()}
	assert.LessOrEqual(t, ConstantThroughput(10).Wait(u), 100*time.Millisecond)
	assert.Greater(t, ConstantThroughput(10).Wait(u), 50*time.Millisecond)
}

func TestWaitFuncAdapter(t *testing.T) {
	var got *User
	w := WaitFunc(func(u *User) time.Duration { got = u; return 7 * time.Millisecond })
	u := &User{id: 3}
	assert.Equal(t, 7*time.Millisecond, w.Wait(u))
	assert.Same(t, u, got)
}
