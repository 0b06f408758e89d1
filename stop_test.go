package locust_test

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/golocust/locust"
	"github.com/golocust/locust/internal/testutil"
)

// logged returns cfg with its log written to buf, and buf.
func logged(cfg locust.Config) (locust.Config, *testutil.Buffer) {
	buf := &testutil.Buffer{}
	cfg.Logger = slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	return cfg, buf
}

// stubborn is a task that ignores its context: it returns when release is
// closed, then records one request.
func stubborn(release <-chan struct{}, inside chan<- struct{}) locust.TaskFunc {
	return func(_ context.Context, u *locust.User) error {
		inside <- struct{}{}
		<-release
		u.RecordSuccess("op", "late", time.Millisecond, 0)
		return nil
	}
}

// runStubborn runs users users of a type whose task ignores its context,
// stops the test with stop once they are all inside the task, and returns
// how long Run took from the stop, the runner and its log. The caller
// closes release.
func runStubborn(t *testing.T, cfg locust.Config, users int, release chan struct{}, stop func(*locust.Runner)) (time.Duration, *locust.Runner, *testutil.Buffer) {
	t.Helper()
	inside := make(chan struct{}, users)
	cfg.Users = users
	cfg, buf := logged(cfg)
	r, err := locust.NewRunner(cfg, &locust.UserType{Name: "Slow",
		Tasks: locust.NewTaskSet("t").Task(1, stubborn(release, inside), locust.TaskName("slowTask"))})
	require.NoError(t, err)
	wait := start(t, r)
	for range users {
		<-inside
	}
	t0 := time.Now()
	stop(r)
	require.NoError(t, wait())
	return time.Since(t0), r, buf
}

// A task that ignores its context does not hold Run: a grace after the
// stop (no stop timeout), Run returns and the log names the task; what the
// task records later is counted as cut short, in no entry.
func TestStopDoesNotWaitForATaskThatIgnoresItsContext(t *testing.T) {
	defer goleak.VerifyNone(t)
	release := make(chan struct{})
	took, r, log := runStubborn(t, locust.Config{}, 2, release, (*locust.Runner).Stop)
	assert.Less(t, took, 5*time.Second, "Run waited for the stubborn tasks")
	assert.Contains(t, log.String(), "2 users still inside task slowTask after the stop timeout: not waiting for them")
	assert.Contains(t, log.String(), "level=WARN")
	assert.Equal(t, 2, r.Abandoned())
	before := r.Snapshot()
	close(release)
	require.Eventually(t, func() bool { return r.Snapshot().CutShort == before.CutShort+2 }, 5*time.Second, 5*time.Millisecond,
		"the requests of abandoned tasks are counted as cut short")
	after := r.Snapshot()
	assert.Empty(t, after.Entries, "nor put in an entry")
	assert.Equal(t, before.Total.Requests, after.Total.Requests)
}

// With a stop timeout, Run waits for it, then a grace, then gives up.
func TestStopTimeoutBoundsAStubbornTask(t *testing.T) {
	defer goleak.VerifyNone(t)
	release := make(chan struct{})
	defer close(release)
	took, r, log := runStubborn(t, locust.Config{StopTimeout: 300 * time.Millisecond}, 1, release, (*locust.Runner).Stop)
	assert.GreaterOrEqual(t, took, 300*time.Millisecond, "the stop timeout is waited for")
	assert.Less(t, took, 5*time.Second)
	assert.Contains(t, log.String(), "1 user still inside task slowTask after the stop timeout")
	assert.Equal(t, 1, r.Abandoned())
}

// The run time ends the test even when tasks ignore their context (-t 3s
// with a 12 s sleep ran 12.8 s).
func TestRunTimeEndsWithStubbornTasks(t *testing.T) {
	defer goleak.VerifyNone(t)
	release := make(chan struct{})
	defer close(release)
	cfg, _ := logged(locust.Config{Users: 3, RunTime: 300 * time.Millisecond})
	r, err := locust.NewRunner(cfg, &locust.UserType{Name: "Slow",
		Tasks: locust.NewTaskSet("t").Task(1, func(context.Context, *locust.User) error { <-release; return nil })})
	require.NoError(t, err)
	t0 := time.Now()
	require.NoError(t, start(t, r)())
	assert.Less(t, time.Since(t0), 5*time.Second)
	assert.Equal(t, "run time", r.StopReason())
	assert.Equal(t, 3, r.Abandoned())
}

// Kill stops Run's waiting at once, even within a long stop timeout.
func TestKillStopsWaitingAtOnce(t *testing.T) {
	defer goleak.VerifyNone(t)
	release := make(chan struct{})
	defer close(release)
	took, r, log := runStubborn(t, locust.Config{StopTimeout: time.Minute}, 2, release, func(r *locust.Runner) {
		r.Stop()
		time.AfterFunc(200*time.Millisecond, r.Kill) // a second Ctrl-C
	})
	assert.Less(t, took, 5*time.Second, "Kill ended the wait")
	assert.Contains(t, log.String(), "2 users still inside task slowTask after Kill")
	assert.Equal(t, 2, r.Abandoned())
}

// Well-behaved tasks are waited for: nothing is abandoned.
func TestTasksThatWatchTheirContextAreNotAbandoned(t *testing.T) {
	defer goleak.VerifyNone(t)
	cfg, log := logged(locust.Config{Users: 5, RunTime: 200 * time.Millisecond})
	var finished atomic.Int32
	r, err := locust.NewRunner(cfg, &locust.UserType{Name: "Good",
		Tasks: locust.NewTaskSet("t").Task(1, func(ctx context.Context, _ *locust.User) error {
			<-ctx.Done()
			time.Sleep(50 * time.Millisecond) // cleaning up within the grace
			finished.Add(1)
			return nil
		})})
	require.NoError(t, err)
	require.NoError(t, start(t, r)())
	assert.EqualValues(t, 5, finished.Load())
	assert.Zero(t, r.Abandoned())
	assert.NotContains(t, log.String(), "not waiting")
}

// Stop before Run, or a context already cancelled, starts no user: no
// OnStart (a login) runs.
func TestStopBeforeRunStartsNoUser(t *testing.T) {
	defer goleak.VerifyNone(t)
	var starts atomic.Int32
	ut := &locust.UserType{Name: "U", Wait: locust.Constant(time.Second),
		OnStart: func(context.Context, *locust.User) error { starts.Add(1); return nil },
		Tasks:   locust.NewTaskSet("t").Task(1, noop)}

	r := newRunner(t, locust.Config{Users: 5}, ut)
	r.Stop()
	require.NoError(t, r.Run(context.Background()))
	assert.Zero(t, starts.Load(), "Stop before Run: no user starts")
	assert.Equal(t, "stopped", r.StopReason())

	r = newRunner(t, locust.Config{Users: 5}, ut)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	require.NoError(t, r.Run(ctx))
	assert.Zero(t, starts.Load(), "a cancelled context: no user starts")
	assert.Equal(t, "cancelled", r.StopReason())
}

// Users that stopped themselves are not counted as spawned, and a
// ramp-down stops live users until the target runs.
func TestSelfStoppedUsersAndRampDown(t *testing.T) {
	defer goleak.VerifyNone(t)
	var mu sync.Mutex
	running := map[int]bool{}
	ut := &locust.UserType{Name: "U", Wait: locust.Constant(10 * time.Millisecond),
		OnStart: func(_ context.Context, u *locust.User) error {
			if u.ID()%2 == 1 {
				return locust.ErrStopUser // users 1, 3, 5, 7, 9
			}
			mu.Lock()
			running[u.ID()] = true
			mu.Unlock()
			return nil
		},
		OnStop: func(_ context.Context, u *locust.User) error {
			mu.Lock()
			delete(running, u.ID())
			mu.Unlock()
			return nil
		},
		Tasks: locust.NewTaskSet("t").Task(1, noop)}
	cfg, log := logged(locust.Config{Users: 10, SpawnRate: 20})
	r, err := locust.NewRunner(cfg, ut)
	require.NoError(t, err)
	spawned := make(chan int, 4)
	r.Events().SpawningComplete.Add(func(n int) { spawned <- n })
	wait := start(t, r)
	assert.Equal(t, 5, <-spawned, "the 5 users that stopped themselves are not spawned users")
	assert.Contains(t, log.String(), "all users spawned\" users=5")

	require.NoError(t, r.SetUsers(5, 0))
	assert.Equal(t, 5, <-spawned)
	time.Sleep(100 * time.Millisecond)
	assert.Equal(t, 5, r.UserCount(), "5 live users were asked for, 5 were running: none stops")

	require.NoError(t, r.SetUsers(3, 0))
	assert.Equal(t, 3, <-spawned)
	require.Eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(running) == 3
	}, 5*time.Second, 5*time.Millisecond)
	mu.Lock()
	assert.Equal(t, map[int]bool{2: true, 4: true, 6: true}, running, "the newest live users stopped")
	mu.Unlock()
	assert.Equal(t, 3, r.UserCount())
	r.Stop()
	require.NoError(t, wait())
}

// Config{Users: 0} runs no user, as SetUsers(0) does, and says so; users
// come with SetUsers.
func TestZeroUsersMeansNone(t *testing.T) {
	defer goleak.VerifyNone(t)
	var starts atomic.Int32
	ut := &locust.UserType{Name: "U", Wait: locust.Constant(time.Second),
		OnStart: func(context.Context, *locust.User) error { starts.Add(1); return nil },
		Tasks:   locust.NewTaskSet("t").Task(1, noop)}
	cfg, log := logged(locust.Config{})
	r, err := locust.NewRunner(cfg, ut)
	require.NoError(t, err)
	spawned := make(chan int, 2)
	r.Events().SpawningComplete.Add(func(n int) { spawned <- n })
	wait := start(t, r)
	assert.Equal(t, 0, <-spawned)
	time.Sleep(100 * time.Millisecond)
	assert.Zero(t, starts.Load())
	assert.Zero(t, r.UserCount())
	assert.Contains(t, log.String(), "the test has 0 users")
	require.NoError(t, r.SetUsers(2, 0))
	assert.Equal(t, 2, <-spawned)
	require.Eventually(t, func() bool { return starts.Load() == 2 }, 5*time.Second, 5*time.Millisecond)
	r.Stop()
	require.NoError(t, wait())
}
