package locust

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"
)

// UserType describes one kind of simulated user: what it does (Tasks), how
// long it waits between tasks (Wait), and how many of it a test runs
// (Weight or FixedCount). It is the Go form of a Locust User class.
//
// A UserType is read by the Runner and must not be changed while a test
// runs; it may be shared by several runners.
type UserType struct {
	// Name is shown by -l/--list and in logs. Required and unique.
	Name string
	// Weight is the relative share of this type among weighted types.
	// Zero means 1; a negative weight is an error.
	Weight int
	// FixedCount, when above zero, runs exactly that many users of this
	// type (spawned before weighted types) and ignores Weight.
	FixedCount int
	// Wait is the wait strategy between tasks; nil means no wait.
	Wait WaitTime
	// Tasks is what the user does. Required.
	Tasks *TaskSet
	// OnStart runs once when a user starts, before its first task (a login).
	// An error it returns is recorded (unless a client already recorded it
	// as a failed request) and the user goes on, as in Locust; return
	// ErrStopUser to stop the user instead.
	OnStart TaskFunc
	// OnStop runs once when a user stops, however it stops (end of the
	// test, ramp-down, ErrStopUser). Its ctx is already cancelled when the
	// user was stopped without a stop timeout (or the timeout expired); use
	// context.WithoutCancel for work that must still be done (a logout).
	OnStop TaskFunc
	// Host is the default target of this type; the --host flag (Config.Host)
	// overrides it.
	Host string
	// Tags apply to every task of the type, for -T and -E.
	Tags []string
}

func (t *UserType) validate() error {
	var errs []error
	if t.Name == "" {
		errs = append(errs, errors.New("user type with no name"))
	}
	if t.Weight < 0 {
		errs = append(errs, fmt.Errorf("user type %q: weight %d is negative", t.Name, t.Weight))
	}
	if t.FixedCount < 0 {
		errs = append(errs, fmt.Errorf("user type %q: fixed count %d is negative", t.Name, t.FixedCount))
	}
	if t.Tasks == nil {
		errs = append(errs, fmt.Errorf("user type %q has no tasks", t.Name))
	} else if err := t.Tasks.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("user type %q: %w", t.Name, err))
	}
	return errors.Join(errs...)
}

func (t *UserType) weight() int {
	if t.Weight == 0 {
		return 1
	}
	return t.Weight
}

// User is one running simulated user, handed to its tasks. A User belongs to
// one goroutine at a time (a user waiting between the tasks of its root
// task set has no goroutine; its next task may run on a new one): its
// methods are meant to be called from the user's own tasks and are not
// safe for concurrent use, except Record, RecordSuccess,
// RecordFailure, RecordCutShort, Measure, Stopping and StoppedBy, which are.
type User struct {
	runner    *Runner
	plan      *userPlan
	rec       atomic.Pointer[Recorder] // made at the user's first request
	open      *openUser                // open model only (nil: closed model), set before it runs
	ctx       context.Context          // the user's context, set before it runs
	cancel    context.CancelCauseFunc
	values    *userValues
	lastStart int64         // start of the last task, ns after the runner's epoch; 0: none
	wake      chan struct{} // a parked goroutine's wake-up (sleepers), made at its first such park
	wakeAt    int64         // when a parked user wakes (its sleepers shard's lock)
	heapIdx   int32         // its index in its shard's heap, -1 when not parked
	id        int32

	// written by the user's own goroutine only (one cache line per user,
	// never shared with other users)
	iters  atomic.Int64           // tasks started, read by Runner.Iterations
	inTask atomic.Pointer[string] // name of the task running now, or nil
	itTok  int32                  // iteration tokens in hand (Config.Iterations)
	itHeld int32                  // tokens of the batch in hand, used or not
	reqs   *reqCounter            // requests, for Config.MaxRequests (nil: no limit)

	flags atomic.Uint32 // userStopping, userCounted, userDone, userDetached
	seq   uint32        // the root task set's next pick, kept while the user is detached
}

// User flags.
const (
	userStopping = 1 << iota // asked to stop (set once, by requestStop*)
	userCounted              // counted in Runner.UserCount
	userDone                 // the user has ended (its last goroutine has returned)
	userDetached             // parked between root tasks with no goroutine (sleepers.park)
)

// is reports whether flag f is set.
func (u *User) is(f uint32) bool { return u.flags.Load()&f != 0 }

// set sets flag f; false if it was set already.
func (u *User) set(f uint32) bool { return u.flags.Or(f)&f == 0 }

// clear clears flag f; false if it was clear already.
func (u *User) clear(f uint32) bool { return u.flags.And(^f)&f != 0 }

// ErrUserStopped is the cause (context.Cause) of a user's context when the
// user is stopped: by the end of the test, a ramp-down, the run's context
// or an abort. A request that fails with this cause was cut short by the
// stop, not by the target.
var ErrUserStopped = errors.New("locust: user stopped")

// ID is the user's number, unique within its runner, counting from 1.
func (u *User) ID() int { return int(u.id) }

// Type is the user's type.
func (u *User) Type() *UserType { return u.plan.typ }

// Runner is the runner that runs the user.
func (u *User) Runner() *Runner { return u.runner }

// Host is the target host: the runner's host if set, else the type's.
func (u *User) Host() string {
	if h := u.runner.cfg.Host; h != "" {
		return h
	}
	return u.plan.typ.Host
}

// Value returns the per-user value stored under key, or nil.
func (u *User) Value(key any) any {
	v := u.values
	if v == nil {
		return nil
	}
	if key == v.lastKey {
		return v.lastVal
	}
	return v.m[key]
}

// SetValue stores a per-user value (a session, a token, an id) under key.
// Use an unexported key type, as with context values.
func (u *User) SetValue(key, value any) {
	if u.values == nil {
		u.values = &userValues{m: map[any]any{}}
	}
	u.values.m[key] = value
	u.values.lastKey, u.values.lastVal = key, value
}

// userValues are a user's values, made at its first SetValue.
type userValues struct {
	m map[any]any
	// the key of the last value stored, and that value: a task that asks
	// for its session each time (client.HTTPFor) skips the map. Value only
	// reads, as a map read does.
	lastKey, lastVal any
}

// LastTaskStart is when the user's current or last task began.
func (u *User) LastTaskStart() time.Time {
	if u.lastStart == 0 {
		return time.Time{}
	}
	return u.runner.sleepers.epoch.Add(time.Duration(u.lastStart))
}

// Stopping reports whether the user has been asked to stop.
func (u *User) Stopping() bool { return u.is(userStopping) }

// StoppedBy reports whether ctx (the context handed to the user's task, or
// one derived from it) ended because the user was stopped: its cause is
// ErrUserStopped. A request that failed then was cut short by the stop, not
// by the target: clients do not record it, as Locust drops such requests,
// but count it with RecordCutShort. A context that ended for another reason
// (a task's own timeout, even during a graceful stop) is not a stop.
func (u *User) StoppedBy(ctx context.Context) bool {
	return ctx.Err() != nil && errors.Is(context.Cause(ctx), ErrUserStopped)
}

// recorder returns the user's Recorder, making it at the first request:
// a user that records nothing does not pay for one.
func (u *User) recorder() *Recorder {
	if rc := u.rec.Load(); rc != nil {
		return rc
	}
	rc := u.runner.stats.Recorder()
	if u.rec.CompareAndSwap(nil, &rc) {
		return &rc
	}
	return u.rec.Load()
}

// RecordCutShort counts one request cut short by the stop (see StoppedBy):
// it is in no entry, as in Locust, but in Snapshot.CutShort, so that
// successes, failures and cut-short requests add up to what the target
// received. Safe for concurrent use.
func (u *User) RecordCutShort() {
	u.runner.stats.RecordCutShort(1)
}

// Record reports one request to the runner's statistics and its Request
// listeners. It does not allocate. Safe for concurrent use.
func (u *User) Record(r Request) {
	u.runner.record(u, &r)
}

// RecordSuccess reports a successful request of the given type and name
// that took d and returned length bytes.
func (u *User) RecordSuccess(typ, name string, d time.Duration, length int64) {
	u.runner.record(u, &Request{Type: typ, Name: name, Start: time.Now().Add(-d), Duration: d, Length: length})
}

// RecordFailure reports a failed request of the given type and name that
// took d and failed with err (a nil err is recorded as "unknown error").
// An error caused by the user's stop (ErrUserStopped, or context.Canceled
// once the user's context ended with that cause) is not recorded as a
// failure: such a request was cut short by the stop, as Locust drops them,
// and is counted in Snapshot.CutShort instead.
func (u *User) RecordFailure(typ, name string, d time.Duration, err error) {
	if err == nil {
		err = errUnknown
	}
	if u.cutByStop(err) {
		u.RecordCutShort()
		return
	}
	u.runner.record(u, &Request{Type: typ, Name: name, Start: time.Now().Add(-d), Duration: d, Err: err})
}

var errUnknown = errors.New("unknown error")

// cutByStop reports whether err comes from the user's stop.
func (u *User) cutByStop(err error) bool {
	if errors.Is(err, ErrUserStopped) {
		return true
	}
	return u.is(userStopping) && errors.Is(err, context.Canceled) &&
		u.ctx != nil && errors.Is(context.Cause(u.ctx), ErrUserStopped)
}

// Measure times fn and reports it as a request of the given type and name:
// a success with the returned length, or a failure with the returned error.
// The error is returned marked as recorded, so a task can return it without
// it being counted again as an exception. This is the quickest way to load
// test any protocol.
func (u *User) Measure(ctx context.Context, typ, name string, fn func(ctx context.Context) (length int64, err error)) error {
	start := time.Now()
	n, err := fn(ctx)
	return u.recordTimed(ctx, typ, name, start, n, err)
}

// recordTimed records a call that started at start and ended now (Measure,
// Timed): a success or a failure, or, when it failed because the user was
// stopped, a request cut short (counted, in no entry). It returns err marked
// as recorded.
func (u *User) recordTimed(ctx context.Context, typ, name string, start time.Time, n int64, err error) error {
	d := time.Since(start)
	if err != nil && u.StoppedBy(ctx) {
		u.RecordCutShort()
		return MarkRecorded(err)
	}
	u.runner.record(u, &Request{Type: typ, Name: name, Start: start, Duration: d, Length: n, Err: err})
	return MarkRecorded(err)
}

// recordedError marks an error that was already counted as a failed request.
type recordedError struct{ err error }

func (e *recordedError) Error() string         { return e.err.Error() }
func (e *recordedError) Unwrap() error         { return e.err }
func (e *recordedError) RequestRecorded() bool { return true }

// MarkRecorded wraps err (if not nil) to say that it was already recorded
// as a failed request, so that a task returning it does not also count it as
// an exception. Clients call it on the errors they return.
func MarkRecorded(err error) error {
	if err == nil || IsRecorded(err) {
		return err
	}
	return &recordedError{err: err}
}

// IsRecorded reports whether err, or an error it wraps, says it was
// already recorded as a failed request (has a RequestRecorded() bool method
// returning true).
func IsRecorded(err error) bool {
	var r interface{ RequestRecorded() bool }
	return errors.As(err, &r) && r.RequestRecorded()
}
