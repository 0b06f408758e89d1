package locusttest_test

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	locust "github.com/golocust/locust"
	"github.com/golocust/locust/client"
	"github.com/golocust/locust/locusttest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// service is an HTTP server on 127.0.0.1: /ok answers 200, /fail 500. It
// counts the requests it received.
type service struct {
	*httptest.Server
	hits atomic.Int64
}

func startService(t testing.TB) *service {
	s := &service{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.hits.Add(1)
		if r.URL.Path == "/fail" {
			http.Error(w, "no", http.StatusInternalServerError)
			return
		}
		fmt.Fprint(w, "ok")
	}))
	t.Cleanup(s.Close)
	return s
}

func get(path string) locust.TaskFunc {
	return func(ctx context.Context, u *locust.User) error {
		_, err := client.HTTPFor(u).Get(ctx, path)
		return err
	}
}

// fakeT records what Run reports instead of failing the real test.
type fakeT struct {
	testing.TB
	ctx     context.Context
	errs    []string
	fatal   bool
	skipped bool
}

func (f *fakeT) Helper()                        {}
func (f *fakeT) Context() context.Context       { return f.ctx }
func (f *fakeT) Errorf(format string, a ...any) { f.errs = append(f.errs, fmt.Sprintf(format, a...)) }
func (f *fakeT) Fatalf(format string, a ...any) {
	f.errs = append(f.errs, fmt.Sprintf(format, a...))
	f.fatal = true
	runtime.Goexit()
}
func (f *fakeT) Skip(a ...any) { f.skipped = true; runtime.Goexit() }

// runFake calls Run with a fakeT on its own goroutine (Fatalf and Skip end
// it) and returns the fakeT and Run's result.
func runFake(t *testing.T, ctx context.Context, o locusttest.Options, types ...*locust.UserType) (*fakeT, *locust.Snapshot) {
	f := &fakeT{TB: t, ctx: ctx}
	var s *locust.Snapshot
	done := make(chan struct{})
	go func() {
		defer close(done)
		s = locusttest.Run(f, o, types...)
	}()
	<-done
	return f, s
}

func TestRunPasses(t *testing.T) {
	srv := startService(t)
	var heard atomic.Int64
	var users int
	s := locusttest.Run(t, locusttest.Options{
		Host:       srv.URL,
		Users:      3,
		Iterations: 60,
		Thresholds: []string{"fail_ratio == 0", "p95 < 5s", "GET /ok: requests == 60"},
		Configure:  func(cfg *locust.Config) { users = cfg.Users },
		Setup: func(r *locust.Runner) {
			r.Events().RequestSuccess.Add(func(locust.Request) { heard.Add(1) })
		},
	}, locusttest.User(get("/ok")))
	assert.Equal(t, int64(60), s.Total.Requests)
	assert.Equal(t, int64(60), srv.hits.Load())
	assert.Equal(t, int64(60), heard.Load(), "Setup's listener")
	assert.Equal(t, 3, users)
}

func TestRunFailsWithTheTableAndTheFailedThresholds(t *testing.T) {
	srv := startService(t)
	typ := &locust.UserType{Name: "Mixed", Tasks: locust.NewTaskSet("m").Task(1, get("/ok")).Task(1, get("/fail"))}
	f, s := runFake(t, t.Context(), locusttest.Options{
		Host:       srv.URL,
		Users:      2,
		Iterations: 40,
		Thresholds: []string{"p99 < 10s", "fail_ratio < 1%"},
	}, typ)
	require.False(t, f.fatal)
	require.Len(t, f.errs, 1)
	log := f.errs[0]
	assert.Contains(t, log, "load test failed: 1 of 2 thresholds failed")
	assert.Contains(t, log, "Aggregated", "the stats table")
	assert.Contains(t, log, "GET      /fail")
	assert.Contains(t, log, "Response time percentiles")
	assert.Contains(t, log, "HTTP 500 Internal Server Error", "the error report")
	assert.Regexp(t, `fail_ratio < 1%\s+\S+\s+FAIL`, log)
	assert.Regexp(t, `p99 < 10s\s+\S+\s+PASS`, log)
	require.NotNil(t, s)
	assert.Equal(t, int64(40), s.Total.Requests)
}

func TestRunFailsOnErrorsInUserCode(t *testing.T) {
	boom := &locust.UserType{Name: "Boom", Tasks: locust.NewTaskSet("b").Task(1, func(context.Context, *locust.User) error {
		return errors.New("bug in the task")
	})}
	f, _ := runFake(t, t.Context(), locusttest.Options{Iterations: 3}, boom)
	require.Len(t, f.errs, 1)
	assert.Contains(t, f.errs[0], "3 errors in user code")
	assert.Contains(t, f.errs[0], "bug in the task")

	f, _ = runFake(t, t.Context(), locusttest.Options{Iterations: 3, AllowExceptions: true}, boom)
	assert.Empty(t, f.errs)
}

func TestRunRefusesUnboundedTestsAndBadThresholds(t *testing.T) {
	srv := startService(t)
	typ := locusttest.User(get("/ok"))
	f, _ := runFake(t, t.Context(), locusttest.Options{Host: srv.URL}, typ)
	assert.True(t, f.fatal)
	assert.Contains(t, f.errs[0], "set Options.RunTime or Options.Iterations")

	f, _ = runFake(t, t.Context(), locusttest.Options{Host: srv.URL, Iterations: 5, Thresholds: []string{"p95 < fast"}}, typ)
	assert.True(t, f.fatal)
	assert.Contains(t, f.errs[0], "p95 < fast")

	f, _ = runFake(t, t.Context(), locusttest.Options{Host: srv.URL, Iterations: 5}, &locust.UserType{Name: "NoTasks"})
	assert.True(t, f.fatal)
	assert.Contains(t, f.errs[0], "has no tasks")
	assert.Zero(t, srv.hits.Load(), "nothing was sent")
}

// short sets -short for the rest of the test.
func short(t *testing.T) {
	require.NoError(t, flag.Set("test.short", "true"))
	t.Cleanup(func() { flag.Set("test.short", "false") })
}

func TestRunUnderShortIsShortened(t *testing.T) {
	srv := startService(t)
	short(t)
	s := locusttest.Run(t, locusttest.Options{Host: srv.URL, Users: 2, Iterations: 1_000_000, ShortIterations: 7}, locusttest.User(get("/ok")))
	assert.Equal(t, int64(7), s.Total.Requests)

	// the default cap: 100 iterations
	s = locusttest.Run(t, locusttest.Options{Host: srv.URL, Users: 2, RunTime: time.Hour}, locusttest.User(get("/ok")))
	assert.Equal(t, int64(locusttest.DefaultShortIterations), s.Total.Requests)

	f, _ := runFake(t, t.Context(), locusttest.Options{Host: srv.URL, Iterations: 5, ShortRunTime: -1}, locusttest.User(get("/ok")))
	assert.True(t, f.skipped)
	assert.Equal(t, int64(7+100), srv.hits.Load())
}

func TestRunStopsWithTheTestsContext(t *testing.T) {
	srv := startService(t)
	ctx, cancel := context.WithCancel(t.Context())
	time.AfterFunc(100*time.Millisecond, cancel)
	f, s := runFake(t, ctx, locusttest.Options{Host: srv.URL, RunTime: time.Hour, Thresholds: []string{"requests > 0"}}, &locust.UserType{
		Name: "Slow", Tasks: locust.NewTaskSet("s").Task(1, get("/ok")), Wait: locust.Constant(10 * time.Millisecond),
	})
	assert.Empty(t, f.errs)
	assert.Positive(t, s.Total.Requests)
}

func TestBenchmarkReportsPercentilesAndRate(t *testing.T) {
	srv := startService(t)
	var runs atomic.Int64
	res := testing.Benchmark(func(b *testing.B) {
		runs.Add(int64(b.N))
		locusttest.Benchmark(b, locusttest.Options{Host: srv.URL, Users: 4}, locusttest.User(get("/ok")))
	})
	require.Positive(t, res.N)
	for _, m := range []string{"p50-ms", "p95-ms", "p99-ms", "req/s"} {
		assert.Contains(t, res.Extra, m)
	}
	assert.Positive(t, res.Extra["p99-ms"])
	assert.GreaterOrEqual(t, res.Extra["p99-ms"], res.Extra["p50-ms"])
	assert.Positive(t, res.Extra["req/s"])
	assert.Equal(t, runs.Load(), srv.hits.Load(), "b.N task runs, one request each, in every round")
}

func TestBenchmarkFailsOnFailedRequests(t *testing.T) {
	srv := startService(t)
	res := testing.Benchmark(func(b *testing.B) {
		locusttest.Benchmark(b, locusttest.Options{Host: srv.URL, Users: 2}, locusttest.User(get("/fail")))
	})
	assert.Zero(t, res.N, "a failed benchmark has no result")

	res = testing.Benchmark(func(b *testing.B) {
		locusttest.Benchmark(b, locusttest.Options{Host: srv.URL, Users: 2, Thresholds: []string{"fail_ratio <= 100%"}}, locusttest.User(get("/fail")))
	})
	assert.Positive(t, res.N, "thresholds decide when given")
}
