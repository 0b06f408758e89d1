package locust_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/golocust/locust"
)

func idleUser(name string) *locust.UserType {
	return &locust.UserType{Name: name, Wait: locust.Constant(20 * time.Millisecond), Tasks: locust.NewTaskSet(name).Task(1, noop)}
}

func TestRampUpAtSpawnRate(t *testing.T) {
	measure := func(rate float64) (time.Duration, int) {
		r := newRunner(t, locust.Config{Users: 20, SpawnRate: rate}, idleUser("U"))
		var took time.Duration
		var counts []int
		var mu sync.Mutex
		var t0 time.Time
		r.Events().TestStart.Add(func(*locust.Runner) { t0 = time.Now() })
		stopSampling := make(chan struct{})
		sampled := make(chan struct{})
		go func() { // sample the user count while spawning
			defer close(sampled)
			tick := time.NewTicker(50 * time.Millisecond)
			defer tick.Stop()
			for {
				select {
				case <-stopSampling:
					return
				case <-tick.C:
					mu.Lock()
					counts = append(counts, r.UserCount())
					mu.Unlock()
				}
			}
		}()
		var n int
		r.Events().SpawningComplete.Add(func(users int) {
			took, n = time.Since(t0), users
			r.Stop()
		})
		run(t, r)
		close(stopSampling)
		<-sampled
		if rate > 0 {
			mu.Lock()
			partial := false
			for _, c := range counts {
				partial = partial || (c > 0 && c < 20)
			}
			mu.Unlock()
			assert.True(t, partial, "the user count grows step by step: %v", counts)
		}
		return took, n
	}
	took, n := measure(20)
	assert.Equal(t, 20, n)
	// user k starts at (k-1)/rate: the 20th at 0.95 s
	assert.GreaterOrEqual(t, took, 900*time.Millisecond, "20 users at 20/s")
	assert.Less(t, took, 10*time.Second)

	took, n = measure(0)
	assert.Equal(t, 20, n)
	assert.Less(t, took, 800*time.Millisecond, "rate 0 spawns at once")
}

func TestSetUsersRampsDownNewestFirstAndUpAgain(t *testing.T) {
	var mu sync.Mutex
	seen := map[int]bool{}
	task := func(_ context.Context, u *locust.User) error {
		mu.Lock()
		seen[u.ID()] = true
		mu.Unlock()
		return nil
	}
	snapshotSeen := func(d time.Duration) map[int]bool {
		mu.Lock()
		clear(seen)
		mu.Unlock()
		time.Sleep(d)
		mu.Lock()
		defer mu.Unlock()
		return maps(seen)
	}
	r := newRunner(t, locust.Config{Users: 6}, &locust.UserType{Name: "U", Wait: locust.Constant(5 * time.Millisecond), Tasks: locust.NewTaskSet("t").Task(1, task)})
	spawned := make(chan int, 10)
	r.Events().SpawningComplete.Add(func(n int) { spawned <- n })
	wait := start(t, r)
	require.Equal(t, 6, <-spawned)
	assert.Equal(t, map[int]bool{1: true, 2: true, 3: true, 4: true, 5: true, 6: true}, snapshotSeen(200*time.Millisecond))

	require.NoError(t, r.SetUsers(3, 0))
	require.Equal(t, 3, <-spawned)
	assert.Equal(t, 3, r.UserCount())
	time.Sleep(50 * time.Millisecond) // stopped users finish their task
	assert.Equal(t, map[int]bool{1: true, 2: true, 3: true}, snapshotSeen(200*time.Millisecond), "the newest users stop first")

	require.NoError(t, r.SetUsers(5, 0))
	require.Equal(t, 5, <-spawned)
	assert.Equal(t, map[string]int{"U": 5}, r.UserCounts())
	assert.Equal(t, map[int]bool{1: true, 2: true, 3: true, 7: true, 8: true}, snapshotSeen(200*time.Millisecond), "new users get new ids")

	assert.Error(t, r.SetUsers(-1, 0))
	assert.Error(t, r.SetUsers(1, -1))
	r.Stop()
	require.NoError(t, wait())
	assert.Equal(t, locust.StateStopped, r.State())
}

func maps(m map[int]bool) map[int]bool {
	out := make(map[int]bool, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func TestSetUsersRampDownAtRate(t *testing.T) {
	r := newRunner(t, locust.Config{Users: 10}, idleUser("U"))
	spawned := make(chan int, 10)
	r.Events().SpawningComplete.Add(func(n int) { spawned <- n })
	wait := start(t, r)
	require.Equal(t, 10, <-spawned)
	t0 := time.Now()
	require.NoError(t, r.SetUsers(4, 20)) // 6 users at 20/s: the last leaves at 0.25 s
	require.Equal(t, 4, <-spawned)
	assert.GreaterOrEqual(t, time.Since(t0), 200*time.Millisecond)
	r.Stop()
	require.NoError(t, wait())
}

func TestRunTimeStopsTheTest(t *testing.T) {
	r := newRunner(t, locust.Config{Users: 2, RunTime: 500 * time.Millisecond}, idleUser("U"))
	t0 := time.Now()
	run(t, r)
	assert.GreaterOrEqual(t, time.Since(t0), 500*time.Millisecond)
	assert.Equal(t, "run time", r.StopReason())
	assert.Equal(t, locust.StateStopped, r.State())
	assert.False(t, r.EndTime().Before(r.StartTime().Add(500*time.Millisecond)))
}

func TestIterationsStopAfterExactlyN(t *testing.T) {
	var calls atomic.Int64
	r := newRunner(t, locust.Config{Users: 5, Iterations: 200}, &locust.UserType{Name: "U",
		Tasks: locust.NewTaskSet("t").Task(1, func(context.Context, *locust.User) error { calls.Add(1); return nil })})
	run(t, r)
	assert.EqualValues(t, 200, calls.Load())
	assert.EqualValues(t, 200, r.Iterations())
	assert.Equal(t, "iterations", r.StopReason())
}

func TestMaxRequestsStops(t *testing.T) {
	const users, limit = 4, 300
	r := newRunner(t, locust.Config{Users: users, MaxRequests: limit}, &locust.UserType{Name: "U",
		Tasks: locust.NewTaskSet("t").Task(1, func(_ context.Context, u *locust.User) error {
			u.RecordSuccess("GET", "/", time.Millisecond, 0)
			return nil
		})})
	run(t, r)
	assert.Equal(t, "requests", r.StopReason())
	n := r.Snapshot().Total.Requests
	assert.GreaterOrEqual(t, n, int64(limit))
	assert.LessOrEqual(t, n, int64(limit+users), "no new task starts once the limit is reached")
}

func TestStopFromCodeAndContext(t *testing.T) {
	r := newRunner(t, locust.Config{Users: 3}, idleUser("U"))
	r.Events().SpawningComplete.Add(func(int) { go r.Stop() })
	run(t, r)
	assert.Equal(t, "stopped", r.StopReason())
	r.Stop() // again: no effect

	r = newRunner(t, locust.Config{Users: 3}, idleUser("U"))
	ctx, cancel := context.WithCancel(context.Background())
	r.Events().SpawningComplete.Add(func(int) { cancel() })
	require.NoError(t, r.Run(ctx))
	assert.Equal(t, "cancelled", r.StopReason())
	assert.Zero(t, r.UserCount())

	// Stop before Run: Run returns at once
	r = newRunner(t, locust.Config{Users: 3}, idleUser("U"))
	r.Stop()
	run(t, r)
	assert.Equal(t, "stopped", r.StopReason())
}

func TestRunTwice(t *testing.T) {
	r := newRunner(t, locust.Config{Users: 1, Iterations: 1}, idleUser("U"))
	run(t, r)
	err := r.Run(context.Background())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "twice")
}

func TestStopTimeout(t *testing.T) {
	runOnce := func(timeout, taskTime time.Duration) (completed, cancelled int64) {
		var done, canc atomic.Int64
		started := make(chan struct{}, 1)
		r := newRunner(t, locust.Config{Users: 1, StopTimeout: timeout}, &locust.UserType{Name: "U",
			Wait: locust.Constant(time.Minute), // one task only
			Tasks: locust.NewTaskSet("t").Task(1, func(ctx context.Context, _ *locust.User) error {
				started <- struct{}{}
				select {
				case <-time.After(taskTime):
					done.Add(1)
				case <-ctx.Done():
					canc.Add(1)
				}
				return ctx.Err()
			})})
		wait := start(t, r)
		<-started
		r.Stop()
		require.NoError(t, wait())
		assert.Empty(t, r.Snapshot().Exceptions, "a task cancelled by the stop is not an error")
		return done.Load(), canc.Load()
	}
	c, x := runOnce(time.Second, 200*time.Millisecond)
	assert.Equal(t, [2]int64{1, 0}, [2]int64{c, x}, "the task finishes within the stop timeout")
	c, x = runOnce(0, 200*time.Millisecond)
	assert.Equal(t, [2]int64{0, 1}, [2]int64{c, x}, "no stop timeout: cancelled at once")
	c, x = runOnce(200*time.Millisecond, 10*time.Second)
	assert.Equal(t, [2]int64{0, 1}, [2]int64{c, x}, "cancelled when the stop timeout expires")
}

func TestPanickingTaskIsAnException(t *testing.T) {
	var errs []locust.UserError
	var mu sync.Mutex
	var calls atomic.Int64
	r := newRunner(t, locust.Config{Users: 1, Iterations: 5, Node: "worker-1"}, &locust.UserType{Name: "U",
		Tasks: locust.NewTaskSet("t").Task(1, func(context.Context, *locust.User) error {
			calls.Add(1)
			panic("kaboom")
		}, locust.TaskName("explode"))})
	r.Events().UserError.Add(func(e locust.UserError) { mu.Lock(); errs = append(errs, e); mu.Unlock() })
	run(t, r)
	assert.EqualValues(t, 5, calls.Load(), "the user goes on after a panic")
	ex := r.Snapshot().Exceptions
	require.Len(t, ex, 1)
	assert.EqualValues(t, 5, ex[0].Count)
	assert.Contains(t, ex[0].Message, "kaboom")
	assert.Contains(t, ex[0].Traceback, "runner_test.go")
	assert.Equal(t, []string{"worker-1"}, ex[0].Nodes, "Config.Node names the process")
	require.Len(t, errs, 5)
	var pe *locust.PanicError
	require.ErrorAs(t, errs[0].Err, &pe)
	assert.Equal(t, "explode", pe.Task)
	assert.Equal(t, "kaboom", pe.Value)
	assert.NotEmpty(t, pe.Stack)
	assert.NotEmpty(t, errs[0].Stack)
	assert.Equal(t, 1, errs[0].User.ID())
}

func TestEvents(t *testing.T) {
	var mu sync.Mutex
	var log []string
	add := func(s string) { mu.Lock(); log = append(log, s); mu.Unlock() }
	var stopped atomic.Bool
	var lateTasks, reqSeen, thirdSeen, userErrors atomic.Int64
	spawned := make(chan struct{}) // the users run their tasks once all 3 are spawned
	r := newRunner(t, locust.Config{Users: 3, Iterations: 30}, &locust.UserType{Name: "U",
		Tasks: locust.NewTaskSet("t").Task(1, func(ctx context.Context, u *locust.User) error {
			select {
			case <-spawned:
			case <-ctx.Done():
			}
			if stopped.Load() {
				lateTasks.Add(1)
			}
			u.RecordSuccess("GET", "/e", time.Millisecond, 1)
			return errors.New("user code failed")
		})})
	ev := r.Events()
	ev.TestStart.Add(func(rr *locust.Runner) { assert.Same(t, r, rr); add("start") })
	ev.SpawningComplete.Add(func(n int) { add(fmt.Sprintf("spawned %d", n)); close(spawned) })
	ev.TestStop.Add(func(rr *locust.Runner) {
		stopped.Store(true)
		add("stop")
		assert.Equal(t, locust.StateStopped, rr.State())
	})
	ev.UserError.Add(func(e locust.UserError) {
		userErrors.Add(1)
		assert.EqualError(t, e.Err, "user code failed")
		assert.Empty(t, e.Stack)
	})
	ev.Request.Add(func(req locust.Request) {
		reqSeen.Add(1)
		assert.Equal(t, "/e", req.Name)
	})
	ev.Request.Add(func(locust.Request) { panic("listener boom") })
	ev.Request.Add(func(locust.Request) { thirdSeen.Add(1) })
	removed := ev.Request.Add(func(locust.Request) { t.Error("removed listener called") })
	assert.Equal(t, 4, ev.Request.Len())
	removed()
	removed()
	assert.Equal(t, 3, ev.Request.Len())

	run(t, r)
	mu.Lock()
	assert.Equal(t, []string{"start", "spawned 3", "stop"}, log)
	mu.Unlock()
	assert.Zero(t, lateTasks.Load(), "no task after TestStop")
	assert.EqualValues(t, 30, userErrors.Load())
	snap := r.Snapshot()
	assert.EqualValues(t, 30, snap.Total.Requests)
	assert.EqualValues(t, 30, reqSeen.Load())
	assert.EqualValues(t, 30, thirdSeen.Load(), "a panicking listener does not stop the others")
	got := map[string]int64{}
	for _, e := range snap.Exceptions {
		got[e.Message] = e.Count
		if e.Message == "event listener panic: listener boom" {
			assert.Contains(t, e.Traceback, "runner_test.go", "a panic keeps its stack")
		} else {
			assert.Empty(t, e.Traceback, "a returned error has no stack")
		}
	}
	assert.Equal(t, map[string]int64{"user code failed": 30, "event listener panic: listener boom": 30}, got)
}

func TestDeadTargetRecordsFailures(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close()) // nobody listens there now

	var dialer net.Dialer
	r := newRunner(t, locust.Config{Users: 2, Iterations: 20}, &locust.UserType{Name: "U",
		Tasks: locust.NewTaskSet("t").Task(1, func(ctx context.Context, u *locust.User) error {
			return u.Measure(ctx, "TCP", "connect", func(ctx context.Context) (int64, error) {
				c, err := dialer.DialContext(ctx, "tcp", addr)
				if err == nil {
					c.Close()
				}
				return 0, err
			})
		})})
	run(t, r)
	snap := r.Snapshot()
	e, ok := snap.Entry("TCP", "connect")
	require.True(t, ok)
	assert.EqualValues(t, 20, e.Requests)
	assert.EqualValues(t, 20, e.Failures)
	require.NotEmpty(t, snap.Errors)
	assert.Contains(t, snap.Errors[0].Error, "refused")
	assert.Empty(t, snap.Exceptions, "a measured failure is not counted again as an exception")
}

func TestHTTPTarget(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.URL.Path == "/missing" {
			http.NotFound(w, req)
			return
		}
		io.WriteString(w, "hello")
	}))
	defer srv.Close()
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	get := func(path string) locust.TaskFunc {
		return func(ctx context.Context, u *locust.User) error {
			return u.Measure(ctx, "GET", path, func(ctx context.Context) (int64, error) {
				req, err := http.NewRequestWithContext(ctx, "GET", u.Host()+path, nil)
				if err != nil {
					return 0, err
				}
				resp, err := client.Do(req)
				if err != nil {
					return 0, err
				}
				defer resp.Body.Close()
				n, err := io.Copy(io.Discard, resp.Body)
				if err == nil && resp.StatusCode >= 400 {
					err = fmt.Errorf("HTTP %d", resp.StatusCode)
				}
				return n, err
			})
		}
	}
	r := newRunner(t, locust.Config{Users: 2, Iterations: 60, Host: srv.URL}, &locust.UserType{Name: "Web", Host: "http://127.0.0.1:1",
		Tasks: locust.NewTaskSet("t").Task(2, get("/")).Task(1, get("/missing"))})
	run(t, r)
	snap := r.Snapshot()
	assert.EqualValues(t, 60, snap.Total.Requests)
	home, ok := snap.Entry("GET", "/")
	require.True(t, ok)
	assert.Zero(t, home.Failures)
	assert.Equal(t, 5*home.Requests, home.ContentLength)
	missing, ok := snap.Entry("GET", "/missing")
	require.True(t, ok)
	assert.Equal(t, missing.Requests, missing.Failures)
	require.Len(t, snap.Errors, 1)
	assert.Equal(t, "HTTP 404", snap.Errors[0].Error)
	assert.Empty(t, snap.Exceptions)
}

func TestSharedAndValues(t *testing.T) {
	type poolKey struct{}
	var inits atomic.Int64
	r := newRunner(t, locust.Config{Users: 4, Iterations: 40}, &locust.UserType{Name: "U",
		Tasks: locust.NewTaskSet("t").Task(1, func(_ context.Context, u *locust.User) error {
			p := u.Runner().Shared(poolKey{}, func() any { inits.Add(1); return &sync.Mutex{} })
			assert.NotNil(t, p)
			assert.Equal(t, "U", u.Type().Name)
			assert.False(t, u.LastTaskStart().IsZero())
			return nil
		})})
	run(t, r)
	assert.EqualValues(t, 1, inits.Load())
}

func TestConstantPacingEndToEnd(t *testing.T) {
	var mu sync.Mutex
	var starts []time.Time
	r := newRunner(t, locust.Config{Users: 1, Iterations: 6}, &locust.UserType{Name: "U",
		Wait: locust.ConstantPacing(100 * time.Millisecond),
		Tasks: locust.NewTaskSet("t").Task(1, func(ctx context.Context, _ *locust.User) error {
			mu.Lock()
			starts = append(starts, time.Now())
			mu.Unlock()
			time.Sleep(60 * time.Millisecond) // part of the interval
			return nil
		})})
	run(t, r)
	require.Len(t, starts, 6)
	var total time.Duration
	for i := 1; i < len(starts); i++ {
		gap := starts[i].Sub(starts[i-1])
		assert.GreaterOrEqual(t, gap, 99*time.Millisecond, "starts at least an interval apart")
		total += gap
	}
	// Constant(100ms) would give 160 ms between starts; pacing about 100.
	assert.Less(t, total/5, 150*time.Millisecond, "the task's time is part of the interval")
}

func TestConstantThroughputCapsTaskRate(t *testing.T) {
	var calls atomic.Int64
	r := newRunner(t, locust.Config{Users: 2, RunTime: time.Second}, &locust.UserType{Name: "U",
		Wait:  locust.ConstantThroughput(10),
		Tasks: locust.NewTaskSet("t").Task(1, func(context.Context, *locust.User) error { calls.Add(1); return nil })})
	run(t, r)
	// 2 users × (1 + 1 s × 10/s) task starts at most
	assert.LessOrEqual(t, calls.Load(), int64(22))
	assert.GreaterOrEqual(t, calls.Load(), int64(4))
}

// A request cut short by the user's stop is not a failure of the target:
// Measure does not record it, and StoppedBy tells a client so.
func TestRequestCutByStopIsNotRecorded(t *testing.T) {
	var before, after atomic.Bool
	started := make(chan struct{}, 1)
	r := newRunner(t, locust.Config{Users: 1}, &locust.UserType{Name: "U",
		Tasks: locust.NewTaskSet("t").Task(1, func(ctx context.Context, u *locust.User) error {
			before.Store(u.StoppedBy(ctx))
			_ = u.Measure(ctx, "GET", "/fine", func(context.Context) (int64, error) { return 1, nil })
			return u.Measure(ctx, "GET", "/hang", func(ctx context.Context) (int64, error) {
				started <- struct{}{}
				<-ctx.Done()
				after.Store(u.StoppedBy(ctx))
				return 0, ctx.Err()
			})
		})})
	wait := start(t, r)
	<-started
	r.Stop()
	require.NoError(t, wait())
	assert.False(t, before.Load(), "a running user is not stopped")
	assert.True(t, after.Load(), "the stop ended the task's context")
	snap := r.Snapshot()
	_, hung := snap.Entry("GET", "/hang")
	assert.False(t, hung, "the request cut by the stop is not recorded")
	assert.EqualValues(t, 1, snap.Total.Requests)
	assert.Empty(t, snap.Errors)
	assert.Empty(t, snap.Exceptions)
}

// A user that stops itself leaves both counts, and its slot is not
// refilled.
func TestUserStoppingItselfLeavesTheCounts(t *testing.T) {
	var mu sync.Mutex
	stopped := map[int]bool{}
	r := newRunner(t, locust.Config{Users: 4}, &locust.UserType{Name: "U",
		Wait: locust.Constant(5 * time.Millisecond),
		Tasks: locust.NewTaskSet("t").Task(1, func(_ context.Context, u *locust.User) error {
			if u.ID()%2 == 0 {
				mu.Lock()
				stopped[u.ID()] = true
				mu.Unlock()
				return locust.ErrStopUser
			}
			return nil
		})})
	wait := start(t, r)
	require.Eventually(t, func() bool { return r.UserCount() == 2 }, 5*time.Second, 5*time.Millisecond)
	time.Sleep(100 * time.Millisecond) // time enough to (wrongly) refill
	assert.Equal(t, 2, r.UserCount())
	assert.Equal(t, map[string]int{"U": 2}, r.UserCounts())
	r.Stop()
	require.NoError(t, wait())
	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, map[int]bool{2: true, 4: true}, stopped, "no new user replaced the stopped ones")
}
