package locust

import (
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"
)

// WaitTime decides how long a user waits after a task before picking the
// next. Implementations must be safe for concurrent use by many users;
// per-user state lives in the User (see User.LastTaskStart).
type WaitTime interface {
	Wait(u *User) time.Duration
}

// WaitFunc adapts a function to WaitTime.
type WaitFunc func(u *User) time.Duration

// Wait calls f(u).
func (f WaitFunc) Wait(u *User) time.Duration { return f(u) }

var _ WaitTime = WaitFunc(nil)

// BetweenWait waits a uniformly random time in [Min, Max]. The zero value
// waits nothing. Safe for concurrent use.
type BetweenWait struct{ Min, Max time.Duration }

// Wait returns a random duration in [Min, Max].
func (b BetweenWait) Wait(*User) time.Duration {
	if b.Max <= b.Min {
		return max(b.Min, 0)
	}
	return b.Min + rand.N(b.Max-b.Min+1)
}

var _ WaitTime = BetweenWait{}

// Between waits a uniformly random time in [min, max] (Locust's between).
func Between(min, max time.Duration) BetweenWait { return BetweenWait{Min: min, Max: max} }

// ConstantWait always waits D. The zero value does not wait. Safe for
// concurrent use.
type ConstantWait struct{ D time.Duration }

// Wait returns D.
func (c ConstantWait) Wait(*User) time.Duration { return max(c.D, 0) }

var _ WaitTime = ConstantWait{}

// Constant always waits d (Locust's constant).
func Constant(d time.Duration) ConstantWait { return ConstantWait{D: d} }

// PacingWait waits so that task starts are Interval apart: it waits
// Interval minus the time the last task took, or nothing if the task took
// longer (Locust's constant_pacing). The zero value does not wait. Safe for
// concurrent use.
type PacingWait struct{ Interval time.Duration }

// Wait returns the rest of the interval since the user's last task start.
func (p PacingWait) Wait(u *User) time.Duration {
	if u == nil || u.lastStart == 0 {
		return p.Interval
	}
	return max(p.Interval-time.Duration(u.runner.sleepers.now()-u.lastStart), 0)
}

var _ WaitTime = PacingWait{}

// ConstantPacing starts a user's tasks every interval, whatever they take
// (as long as a task takes less than the interval).
func ConstantPacing(interval time.Duration) PacingWait { return PacingWait{Interval: interval} }

// ConstantThroughput runs at most perSecond tasks per second per user
// (Locust's constant_throughput): ConstantPacing(1s / perSecond). A
// perSecond of zero or less does not wait.
func ConstantThroughput(perSecond float64) PacingWait {
	if perSecond <= 0 {
		return PacingWait{}
	}
	return PacingWait{Interval: time.Duration(float64(time.Second) / perSecond)}
}

// shortestWait returns the longest wait w can give when that is under 1 ms
// but not 0 (a wait typed as a bare number of nanoseconds), with the
// strategy written as the user likely meant it; ok is false otherwise.
// Only the strategies of this package are looked at.
func shortestWait(w WaitTime) (longest time.Duration, meant string, ok bool) {
	ms := func(d time.Duration) string { return fmt.Sprintf("%d*time.Millisecond", int64(d)) }
	switch w := w.(type) {
	case BetweenWait:
		if w.Max > 0 && w.Max < time.Millisecond {
			return w.Max, fmt.Sprintf("locust.Between(%s, %s)", ms(w.Min), ms(w.Max)), true
		}
	case ConstantWait:
		if w.D > 0 && w.D < time.Millisecond {
			return w.D, fmt.Sprintf("locust.Constant(%s)", ms(w.D)), true
		}
	case PacingWait:
		if w.Interval > 0 && w.Interval < time.Millisecond {
			return w.Interval, fmt.Sprintf("locust.ConstantPacing(%s)", ms(w.Interval)), true
		}
	}
	return 0, "", false
}

// warnShortWaits logs a WARN for each wait strategy of the set (and its
// nested sets) that waits under 1 ms between tasks: 5000 typed for 5 s is
// 5 µs, and ten users then send tens of thousands of requests a second.
func (c *compiledSet) warnShortWaits(log *slog.Logger, t *UserType) {
	w := c.wait
	if w == nil && c.src == t.Tasks {
		w = t.Wait
	}
	if longest, meant, ok := shortestWait(w); ok {
		log.Warn(fmt.Sprintf("user type %q waits at most %s between tasks: a duration is in nanoseconds; did you mean %s?",
			t.Name, longest, meant), "user_type", t.Name, "task_set", c.src.name)
	}
	for _, task := range c.tasks {
		if task.set != nil {
			task.set.warnShortWaits(log, t)
		}
	}
}
