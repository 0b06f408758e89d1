package locust_test

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/golocust/locust"
)

// Users waiting between the tasks of their root task set hold no
// goroutine: thousands of waiting users leave a handful of goroutines
// running. Each user's sequence of tasks goes on where it stopped after
// every wait, and every user runs its OnStop once, however long it had
// been waiting when the test stopped; users without an OnStop end too.
func TestWaitingUsersHoldNoGoroutines(t *testing.T) {
	defer goleak.VerifyNone(t)
	const users = 2000
	var mu sync.Mutex
	seqs := map[int][]int{} // the tasks each sequential user ran, in order
	step := func(i int) locust.TaskFunc {
		return func(_ context.Context, u *locust.User) error {
			mu.Lock()
			seqs[u.ID()] = append(seqs[u.ID()], i)
			mu.Unlock()
			return nil
		}
	}
	var stops, tasks atomic.Int64
	seq := &locust.UserType{Name: "Seq", Weight: 1, Wait: locust.Constant(150 * time.Millisecond),
		Tasks:  locust.NewSequentialTaskSet("s").Task(1, step(0)).Task(1, step(1)).Task(1, step(2)),
		OnStop: func(context.Context, *locust.User) error { stops.Add(1); return nil }}
	plain := &locust.UserType{Name: "Plain", Weight: 1, Wait: locust.Constant(time.Hour),
		Tasks: locust.NewTaskSet("p").Task(1, func(context.Context, *locust.User) error { tasks.Add(1); return nil })}
	r := newRunner(t, locust.Config{Users: users, SpawnRate: 1e6}, seq, plain)
	spawned := make(chan struct{})
	r.Events().SpawningComplete.Add(func(int) { close(spawned) })
	wait := start(t, r)
	select {
	case <-spawned:
	case <-time.After(15 * time.Second):
		t.Fatal("spawning stalled at", r.UserCount(), "users")
	}
	peak, least := 0, users
	for end := time.Now().Add(time.Second); time.Now().Before(end); time.Sleep(5 * time.Millisecond) {
		n := runtime.NumGoroutine()
		peak, least = max(peak, n), min(least, n)
	}
	r.Stop()
	require.NoError(t, wait())

	// a goroutine per user would be at least users at every sample; the
	// sequential users wake together every 150 ms, so the peak is a burst
	assert.Less(t, peak, users, "waiting users hold goroutines")
	assert.Less(t, least, users/10, "waiting users hold goroutines")
	assert.EqualValues(t, users/2, tasks.Load(), "each hour-waiting user ran its first task once")
	assert.EqualValues(t, users/2, stops.Load(), "OnStop runs once per user")
	mu.Lock()
	defer mu.Unlock()
	require.Len(t, seqs, users/2)
	rounds := 0
	for id, s := range seqs {
		for i, v := range s {
			require.Equal(t, i%3, v, "user %d ran its sequence out of order: %v", id, s)
		}
		rounds += len(s)
	}
	assert.Greater(t, rounds, users, "the sequential users went on after their waits")
}

// A nested task set's waits hold the user's goroutine (its loop is on the
// stack), and the user still goes on and stops as before.
func TestNestedSetWaitsStillWork(t *testing.T) {
	defer goleak.VerifyNone(t)
	var inner, outer atomic.Int64
	child := locust.NewTaskSet("child").Wait(locust.Constant(5*time.Millisecond)).
		Task(1, func(context.Context, *locust.User) error {
			if inner.Add(1)%3 == 0 {
				return locust.ErrInterrupt
			}
			return nil
		})
	ut := &locust.UserType{Name: "Nested", Wait: locust.Constant(5 * time.Millisecond),
		Tasks: locust.NewSequentialTaskSet("root").TaskSet(1, child).
			Task(1, func(context.Context, *locust.User) error { outer.Add(1); return nil })}
	r := newRunner(t, locust.Config{Users: 20, SpawnRate: 1000, RunTime: 400 * time.Millisecond}, ut)
	run(t, r)
	assert.Greater(t, inner.Load(), int64(20*3))
	assert.Greater(t, outer.Load(), int64(20))
}

// A ramp-down with a stop timeout lets the retired users' running tasks go
// on until the timeout, then cancels their contexts (with the stop as the
// cause), all of them, by one timer per ramp-down step.
func TestRampDownCancelsRetiredUsersAfterTheStopTimeout(t *testing.T) {
	defer goleak.VerifyNone(t)
	const users, kept, timeout = 200, 20, 300 * time.Millisecond
	var rampedAt atomic.Int64
	var inside, ended, stoppedBy atomic.Int64
	var mu sync.Mutex
	var late []time.Duration
	task := func(ctx context.Context, u *locust.User) error {
		inside.Add(1)
		<-ctx.Done()
		if at := rampedAt.Load(); at != 0 {
			mu.Lock()
			late = append(late, time.Since(time.Unix(0, at)))
			mu.Unlock()
		}
		ended.Add(1)
		if u.StoppedBy(ctx) {
			stoppedBy.Add(1)
		}
		return nil
	}
	r := newRunner(t, locust.Config{Users: users, SpawnRate: 1e6, StopTimeout: timeout},
		&locust.UserType{Name: "Blocked", Tasks: locust.NewTaskSet("t").Task(1, task)})
	r.Events().SpawningComplete.Add(func(int) {
		if rampedAt.Load() != 0 {
			return
		}
		go func() {
			for inside.Load() < users { // every user is inside its task
				time.Sleep(time.Millisecond)
			}
			rampedAt.Store(time.Now().UnixNano())
			_ = r.SetUsers(kept, 0)
		}()
	})
	wait := start(t, r)
	require.Eventually(t, func() bool { return ended.Load() >= users-kept }, 10*time.Second, 5*time.Millisecond,
		"the retired users' tasks end after the stop timeout")
	require.Eventually(t, func() bool { return r.UserCount() == kept }, 5*time.Second, time.Millisecond)
	r.Stop()
	require.NoError(t, wait())
	assert.EqualValues(t, users, stoppedBy.Load(), "every task was ended by the stop")
	mu.Lock()
	defer mu.Unlock()
	require.GreaterOrEqual(t, len(late), users-kept)
	for _, d := range late[:users-kept] {
		assert.GreaterOrEqual(t, d, timeout-20*time.Millisecond, "a retired user's task was cancelled before the stop timeout")
	}
}
