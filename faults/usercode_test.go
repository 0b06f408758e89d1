package faults_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	locust "github.com/golocust/locust"
	"github.com/golocust/locust/client"
	"github.com/golocust/locust/faults"
	"github.com/golocust/locust/report"
)

// okTarget starts a target that answers every request, closed with t.
func okTarget(t *testing.T) *faults.Target {
	t.Helper()
	tg, err := faults.Start(faults.OK)
	require.NoError(t, err)
	t.Cleanup(tg.Close)
	return tg
}

// exceptions sums the exceptions table, and the rows whose message has s.
func exceptions(doc *report.Document, s string) (all, matching int64) {
	for _, e := range doc.Exceptions {
		all += e.Count
		if strings.Contains(e.Message, s) {
			matching += e.Count
		}
	}
	return all, matching
}

// assertExact checks that what the target received is counted exactly once.
func assertExact(t *testing.T, tg *faults.Target, doc *report.Document) {
	t.Helper()
	tg.Close() // its connections end: what it read is final
	assert.Equal(t, tg.Requests(), doc.Total.NumRequests+doc.CutShort,
		"received == successes + failures + cut short")
}

// A task that panics is an exception, counted each time, and the user goes
// on: the run goes on to its end with every request counted.
func TestTaskPanicsThroughTheCommandLine(t *testing.T) {
	tg := okTarget(t)
	var panics, calls atomic.Int64
	user := &locust.UserType{Name: "Panicky", Wait: locust.Constant(5 * time.Millisecond),
		Tasks: locust.NewTaskSet("t").Task(1, func(ctx context.Context, u *locust.User) error {
			_, err := client.HTTPFor(u).Get(ctx, "/p")
			if calls.Add(1)%3 == 0 {
				panics.Add(1)
				panic(fmt.Sprintf("boom in the task (%s)", "nil map"))
			}
			return err
		}, locust.TaskName("explode"))}
	r := cliRun(t, []string{"-u", "3", "-r", "100", "-t", "1s", "-H", tg.URL()}, user)
	assert.Equal(t, 1, r.code, "exceptions make exit code 1: %s", r.out)
	all, boom := exceptions(r.doc, "boom in the task")
	assert.Equal(t, panics.Load(), all, "every panic counted: %+v", r.doc.Exceptions)
	assert.Equal(t, all, boom)
	assert.Len(t, r.doc.Exceptions, 1, "one row for one panic")
	assert.Greater(t, calls.Load(), int64(3*3), "users go on after a panic")
	assert.Zero(t, r.doc.Total.NumFailures)
	assert.Contains(t, r.out, "explode", "the log names the task")
	assertExact(t, tg, r.doc)
}

// A task that returns an error is an exception (grouped by its text); a
// client's failure that the task returns is not counted twice.
func TestTaskErrorsThroughTheCommandLine(t *testing.T) {
	tg := okTarget(t)
	tg.SetMode(faults.Burst5xx)
	var own atomic.Int64
	user := &locust.UserType{Name: "Erring", Wait: locust.Constant(5 * time.Millisecond),
		Tasks: locust.NewTaskSet("t").Task(1, func(ctx context.Context, u *locust.User) error {
			resp, err := client.HTTPFor(u).Get(ctx, "/e")
			if err != nil {
				return err // a 503: already a failure
			}
			if resp.StatusCode == 200 && ctx.Err() == nil {
				own.Add(1)
				return fmt.Errorf("order %d rejected: %w", own.Load()%7, errRejected)
			}
			return nil
		})}
	r := cliRun(t, []string{"-u", "3", "-r", "100", "-t", "1s", "-H", tg.URL()}, user)
	assert.Equal(t, 1, r.code, r.out)
	all, _ := exceptions(r.doc, "")
	assert.Equal(t, own.Load(), all, "every error the task returned is an exception: %+v", r.doc.Exceptions)
	assert.Positive(t, r.doc.Total.NumFailures, "the 503s are failures")
	var inRows int64
	for _, f := range r.doc.Failures {
		inRows += f.Occurrences
	}
	assert.Equal(t, r.doc.Total.NumFailures, inRows, "a 503 the task returned is a failure, not also an exception")
	assert.LessOrEqual(t, len(r.doc.Exceptions), 7, "errors grouped by text: %+v", r.doc.Exceptions)
	assertExact(t, tg, r.doc)
}

var errRejected = errors.New("rejected")

// stuckTask ignores its context: it blocks until release is closed.
func stuckTask(release <-chan struct{}) locust.TaskFunc {
	return func(ctx context.Context, u *locust.User) error {
		_, _ = client.HTTPFor(u).Get(ctx, "/before")
		<-release
		return nil
	}
}

// Tasks that block forever, ignoring their context, do not hold the run
// past its end: the stop ends it a grace later and the WARN line names the
// task; a normal user's requests are all counted.
func TestTaskBlockingForeverThroughTheCommandLine(t *testing.T) {
	tg := okTarget(t)
	release := make(chan struct{})
	var once sync.Once
	defer once.Do(func() { close(release) })
	stuck := &locust.UserType{Name: "Stuck", FixedCount: 2,
		Tasks: locust.NewTaskSet("s").Task(1, stuckTask(release), locust.TaskName("stuckForever"))}
	normal := &locust.UserType{Name: "Normal", Wait: locust.Constant(10 * time.Millisecond),
		Tasks: locust.NewTaskSet("n").Task(1, func(ctx context.Context, u *locust.User) error {
			_, err := client.FastFor(u).Get(ctx, "/n")
			return err
		})}
	r := cliRun(t, []string{"-u", "4", "-r", "100", "-t", "1s", "-H", tg.URL()}, stuck, normal)
	once.Do(func() { close(release) })
	assert.Less(t, r.elapsed, 1*time.Second+4*time.Second, "the run ends although tasks ignore their context")
	assert.Contains(t, r.out, "WARN")
	assert.Contains(t, r.out, "2 users still inside task stuckForever", r.out)
	assert.Empty(t, r.doc.Exceptions)
	assertExact(t, tg, r.doc)
}

// Goroutines that tasks start and never end do not stop the run or skew
// its counts, and the run reports them (a WARN with their number and where
// they run); they end when their own code lets them, and then the process
// is back where it was.
func TestTaskLeakingGoroutinesThroughTheCommandLine(t *testing.T) {
	tg := okTarget(t)
	runtime.GC()
	base := runtime.NumGoroutine()
	release := make(chan struct{})
	var leaked atomic.Int64
	user := &locust.UserType{Name: "Leaky", Wait: locust.Constant(5 * time.Millisecond),
		Tasks: locust.NewTaskSet("t").Task(1, func(ctx context.Context, u *locust.User) error {
			leaked.Add(1)
			go func() { <-release }()
			_, err := client.HTTPFor(u).Get(ctx, "/l")
			return err
		})}
	r := cliRun(t, []string{"-u", "3", "-r", "100", "-t", "1s", "-H", tg.URL()}, user)
	assert.Less(t, r.elapsed, 1*time.Second+3*time.Second)
	assert.Equal(t, 0, r.code, r.out)
	assert.Positive(t, leaked.Load())
	assert.GreaterOrEqual(t, runtime.NumGoroutine(), base+int(leaked.Load()), "the leaked goroutines are still there")
	assert.Contains(t, r.out, "user code left goroutines running after the test", r.out)
	assert.Contains(t, r.out, fmt.Sprintf("goroutines=%d", leaked.Load()), "every leaked goroutine is counted")
	assert.Contains(t, r.out, "TestTaskLeakingGoroutinesThroughTheCommandLine", "the WARN says where they run")
	assertExact(t, tg, r.doc)
	close(release)
	n := settled(base, 2)
	assert.LessOrEqual(t, n, base+2, "once released the process is back: %d before, %d after", base, n)
}

// Users that spawn faster than their requests finish pile up; the stop
// cuts the requests in flight, which are counted as cut short, and
// everything the target received is counted exactly once.
func TestUsersSpawningFasterThanTheyFinish(t *testing.T) {
	tg, err := faults.Start(faults.Drip)
	require.NoError(t, err)
	defer tg.Close()
	tg.DripEvery, tg.DripBytes = 10*time.Millisecond, 40 // a response takes 400 ms
	runtime.GC()
	base := runtime.NumGoroutine()
	user := &locust.UserType{Name: "Piling",
		Tasks: locust.NewTaskSet("t").Task(1, func(ctx context.Context, u *locust.User) error {
			_, err := client.FastFor(u).Get(ctx, "/slow", client.Timeout(5*time.Second))
			return err
		})}
	r := cliRun(t, []string{"-u", "200", "-r", "1000", "-t", "1s", "-H", tg.URL()}, user)
	assert.Less(t, r.elapsed, 1*time.Second+4*time.Second)
	assert.Positive(t, r.doc.CutShort, "requests in flight at the stop are cut short")
	assert.Positive(t, r.doc.Total.NumRequests)
	assert.Zero(t, r.doc.Total.NumFailures, "a cut request is not a failure: %+v", r.doc.Failures)
	assert.Greater(t, r.doc.UserCount, 20, "users piled up")
	assertExact(t, tg, r.doc)
	n := settled(base, 2)
	assert.LessOrEqual(t, n, base+2, "goroutines after the run: %d before, %d after", base, n)
}

// A user sleeping in its wait when the test stops (no stop timeout) runs
// its OnStop with its context already ended, every time: OnStop's requests
// are then neither sent nor counted. (The user was woken before its
// context was cancelled, so OnStop could run with a live context and send
// a request after the stop, about 1 run in 50 under -race.)
func TestOnStopAfterAStopSeesItsContextEnded(t *testing.T) {
	var live atomic.Int64
	const runs = 300
	for range runs {
		slept := make(chan struct{})
		var once sync.Once
		r, err := locust.NewRunner(locust.Config{Users: 1, Logger: discardLogger()}, &locust.UserType{Name: "Sleeper",
			Wait: locust.Constant(time.Hour),
			Tasks: locust.NewTaskSet("t").Task(1, func(context.Context, *locust.User) error {
				once.Do(func() { close(slept) })
				return nil
			}),
			OnStop: func(ctx context.Context, _ *locust.User) error {
				if ctx.Err() == nil {
					live.Add(1)
				}
				return nil
			}})
		require.NoError(t, err)
		go func() { <-slept; time.Sleep(time.Millisecond); r.Stop() }()
		require.NoError(t, r.Run(context.Background()))
	}
	assert.Zero(t, live.Load(), "OnStop ran with a live context in %d of %d runs", live.Load(), runs)
}

func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
