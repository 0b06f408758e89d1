package locust

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"time"
)

// The task engine: a user's goroutine walks its type's compiledSet, picking
// tasks, running them and waiting between them, until it is stopped.

// userPlan is what every user of one type runs: read-only, shared.
type userPlan struct {
	typ  *UserType
	root *compiledSet
	// noOnStop: neither the type nor its root set has an OnStop, so a
	// user stopped while parked between root tasks has nothing left to run
	noOnStop bool
}

// Names a user shows as its current task while it runs its type's
// OnStart and OnStop (see Runner.stopWait's report of abandoned users).
type hookNames struct{ onStart, onStop string }

// requestStop asks the user to stop and cancels its context at once. Safe
// to call more than once.
func (u *User) requestStop() {
	if !u.set(userStopping) {
		return
	}
	// cancel before waking: a sleeping user woken first could run its
	// OnStop with a context not yet ended
	u.cancel(ErrUserStopped)
	u.runner.sleepers.wake(u)
}

// requestStopLater asks the user to stop after its running task; its
// context is cancelled by the runner when the stop timeout or the drain
// limit expires (Runner.stopWait, Runner.cancelAfter). It reports whether
// this call asked (false: the user was asked before).
func (u *User) requestStopLater() bool {
	if !u.set(userStopping) {
		return false
	}
	u.runner.sleepers.wake(u)
	return true
}

// stopped reports whether the user must stop: it was asked to, or its
// context ended.
func (u *User) stopped(ctx context.Context) bool { return u.is(userStopping) || ctx.Err() != nil }

// sleep waits d, returning false if the user was stopped meanwhile.
func (u *User) sleep(ctx context.Context, d time.Duration) bool {
	if u.stopped(ctx) {
		return false
	}
	if d <= 0 {
		return true
	}
	// Every way a user's context ends (its stop, the runner's stop or its
	// context) sets stopping and wakes it first: a sleeping user needs no
	// timer or channel of its own besides its wake channel.
	return u.runner.sleepers.sleep(u, d)
}

// run is the user's first goroutine: its OnStart, then its tasks. It
// reports whether the user parked without its goroutine (see resume);
// otherwise the user has ended.
func (u *User) run(ctx context.Context) (parked bool) {
	typ := u.plan.typ
	if typ.OnStart == nil || !u.onStart(ctx, typ.OnStart, &u.runner.hooks.onStart) {
		switch c := u.plan.root; {
		case u.open != nil:
			u.runOpen(ctx)
		case c.onStart == nil || !u.onStart(ctx, c.onStart, &c.onStartName):
			if _, parked := u.loopSet(ctx, c, true, 0); parked {
				return true
			}
		}
	}
	u.finish(ctx)
	return false
}

// resume goes on with the root task set's loop of a user woken from a park
// without its goroutine, on a new goroutine; it reports whether the user
// parked again.
func (u *User) resume(ctx context.Context) (parked bool) {
	if _, parked := u.loopSet(ctx, u.plan.root, true, u.seq); parked {
		return true
	}
	u.finish(ctx)
	return false
}

// finish runs the type's OnStop. It runs on every stop, as Locust's on_stop
// does, even when ctx is already cancelled (a stop timeout of 0): OnStop can
// use context.WithoutCancel for work that must still be done.
func (u *User) finish(ctx context.Context) {
	if fn := u.plan.typ.OnStop; fn != nil {
		u.onStop(ctx, fn, &u.runner.hooks.onStop)
	}
}

// outcome of running a set
const (
	setStopped      = iota // the user must stop
	setInterrupted         // parent picks at once
	setInterruptedW        // parent waits first
)

// runSet runs a nested task set's OnStart and loop until the user stops or
// the set is interrupted.
func (u *User) runSet(ctx context.Context, c *compiledSet) int {
	if c.onStart != nil && u.onStart(ctx, c.onStart, &c.onStartName) {
		return setStopped
	}
	res, _ := u.loopSet(ctx, c, false, 0)
	return res
}

// loopSet runs a task set's loop from pick seq. The root set's loop holds
// nothing on its goroutine's stack between two tasks, so its waits park the
// user without its goroutine: loopSet then returns parked, the goroutine
// ends, and the wake-up starts a new one that calls loopSet again from the
// next pick (User.resume). A million users waiting cost no stacks.
func (u *User) loopSet(ctx context.Context, c *compiledSet, root bool, seq uint32) (res int, parked bool) {
	wait := c.wait
	if wait == nil {
		wait = u.plan.typ.Wait
	}
	for ; ; seq++ {
		if u.stopped(ctx) {
			break
		}
		t := &c.tasks[c.pick(int(seq))]
		skipWait := false
		if t.set != nil {
			switch u.runSet(ctx, t.set) {
			case setStopped:
				return u.leaveSet(ctx, c, setStopped), false
			case setInterrupted:
				skipWait = true
			}
		} else {
			if !u.takeIteration(ctx) {
				break
			}
			u.lastStart = max(u.runner.sleepers.now(), 1)
			if res, leave := u.runTask(ctx, t, root); leave {
				return u.leaveSet(ctx, c, res), false
			}
		}
		if skipWait {
			continue
		}
		var d time.Duration
		if wait != nil {
			d = wait.Wait(u)
		}
		if root && d > 0 && !u.stopped(ctx) {
			u.seq = seq + 1
			if u.runner.sleepers.park(u, d) {
				return 0, true // u belongs to its wake-up now
			}
			break // asked to stop meanwhile
		}
		if !u.sleep(ctx, d) {
			break
		}
	}
	return u.leaveSet(ctx, c, setStopped), false
}

// runTask runs one leaf task and handles what it returned. leave says that
// the set must be left with res.
func (u *User) runTask(ctx context.Context, t *compiledTask, root bool) (res int, leave bool) {
	r := u.runner
	err := u.call(ctx, t.fn, &t.name)
	switch {
	case err == nil, errors.Is(err, ErrRescheduleTask):
	case errors.Is(err, ErrInterrupt), errors.Is(err, ErrInterruptAndWait):
		if root {
			r.userError(u, fmt.Errorf("task %q returned %w outside a nested task set", t.name, err), "")
			return 0, false
		}
		if errors.Is(err, ErrInterruptAndWait) {
			return setInterruptedW, true
		}
		return setInterrupted, true
	case errors.Is(err, ErrStopUser):
		return setStopped, true
	case IsRecorded(err):
		// already counted as a failed request
	case u.StoppedBy(ctx):
		// cancelled by the stop: not an error of the task
	default:
		r.userError(u, err, "")
	}
	return 0, false
}

// leaveSet runs the set's OnStop on every exit (interrupt or stop, like
// finish) and returns res.
func (u *User) leaveSet(ctx context.Context, c *compiledSet, res int) int {
	if c.onStop != nil {
		u.onStop(ctx, c.onStop, &c.onStopName)
	}
	return res
}

// onStart runs an on-start function and records its error, unless the
// error was already recorded as a failed request or comes from the stop's
// cancellation; the user goes on, as in Locust. It reports whether the
// function asked the user to stop (ErrStopUser).
func (u *User) onStart(ctx context.Context, fn TaskFunc, name *string) (stop bool) {
	err := u.call(ctx, fn, name)
	switch {
	case errors.Is(err, ErrStopUser):
		return true
	case err == nil, IsRecorded(err), u.StoppedBy(ctx):
	default:
		u.runner.userError(u, err, "")
	}
	return false
}

// onStop runs an on-stop function and records its error, unless the error
// is a control error, was already recorded as a failed request, or comes
// from the stop's cancellation.
func (u *User) onStop(ctx context.Context, fn TaskFunc, name *string) {
	err := u.call(ctx, fn, name)
	switch {
	case err == nil, errors.Is(err, ErrStopUser), IsRecorded(err):
	case u.StoppedBy(ctx):
	default:
		u.runner.userError(u, err, "")
	}
}

// PanicError is the error recorded for a task that panicked.
type PanicError struct {
	// Task is the task's name.
	Task string
	// Value is what the task panicked with.
	Value any
	// Stack is the goroutine's stack at the panic.
	Stack string
}

// Error describes the panic.
func (e *PanicError) Error() string { return fmt.Sprintf("panic in task %s: %v", e.Task, e.Value) }

// call runs fn, turning a panic into a recorded exception (returns nil).
// name (a task's name, or the name of a hook) is shown as the user's
// current task while fn runs.
func (u *User) call(ctx context.Context, fn TaskFunc, name *string) (err error) {
	u.inTask.Store(name)
	defer func() {
		u.inTask.Store(nil)
		if v := recover(); v != nil {
			pe := &PanicError{Task: *name, Value: v, Stack: string(debug.Stack())}
			u.runner.taskPanic(u, pe)
			err = nil
		}
	}()
	return fn(ctx, u)
}
