// Package locusttest runs golocust load tests inside go test: Run is a
// bounded load test in a testing.T that fails on thresholds (the same
// expressions as --threshold), and Benchmark runs tasks b.N times across
// users and reports latency percentiles and requests per second with
// b.ReportMetric, so that benchstat compares two commits.
//
//	func TestItemsUnderLoad(t *testing.T) {
//		srv := startService(t)
//		locusttest.Run(t, locusttest.Options{
//			Host:       srv.URL,
//			Users:      10,
//			RunTime:    2 * time.Second,
//			Thresholds: []string{"p95 < 200ms", "fail_ratio == 0"},
//		}, browser)
//	}
//
//	func BenchmarkItems(b *testing.B) {
//		srv := startService(b)
//		locusttest.Benchmark(b, locusttest.Options{Host: srv.URL, Users: 8}, locusttest.User(getItem))
//	}
//
// # -short
//
// Under go test -short, Run shortens the test: RunTime is capped at
// Options.ShortRunTime (1 s when zero) and Iterations at
// Options.ShortIterations (100 when zero); a negative value skips the
// test under -short instead. Benchmark is not changed by -short (go test
// runs benchmarks only with -bench, and b.N decides their length).
//
// # Context
//
// The test runs under t.Context(): it stops when the test's context ends
// (the test's deadline, or a Cleanup), and its users see that context's
// values.
package locusttest

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	locust "github.com/golocust/locust"
	"github.com/golocust/locust/threshold"
)

// Short-mode defaults (see the package doc).
const (
	DefaultShortRunTime    = time.Second
	DefaultShortIterations = 100
)

// Options is one load test. Zero values are the defaults noted on each
// field. An Options is plain data: safe to copy and to share between tests
// that only read it.
type Options struct {
	// Host is the target (Config.Host); "" keeps each type's own Host.
	Host string
	// Users is the number of users; 0 means 1.
	Users int
	// SpawnRate is users started per second; 0 starts all at once.
	SpawnRate float64
	// RunTime stops the test after this long. Run needs RunTime or
	// Iterations (or both): a test inside go test is always bounded.
	// Benchmark ignores it.
	RunTime time.Duration
	// Iterations stops the test after this many task runs across all
	// users. Benchmark sets it to b.N.
	Iterations int64
	// StopTimeout lets running tasks finish for up to this long at the
	// end (Config.StopTimeout); 0 cuts them short at once.
	StopTimeout time.Duration
	// Thresholds are pass/fail criteria in the --threshold syntax ("p95 <
	// 300ms", "fail_ratio < 1%", "GET /item/{id}: p99 < 1s", "rps > 100");
	// see package threshold. The test fails when one fails. A threshold
	// that does not parse fails the test before any load is sent.
	Thresholds []string
	// AllowExceptions lets the test pass with errors or panics in user
	// code (the exceptions table); by default any fails the test.
	AllowExceptions bool
	// ShortRunTime and ShortIterations bound the test under -short (see
	// the package doc).
	ShortRunTime    time.Duration
	ShortIterations int64
	// Configure, if set, changes the runner's configuration last (tags,
	// statistics options, a logger...).
	Configure func(*locust.Config)
	// Setup, if set, runs once the runner is made, before the test starts:
	// add event listeners there (r.Events()).
	Setup func(r *locust.Runner)
}

// Run runs one bounded load test of the given user types inside t, under
// t.Context(), and returns its final statistics for further assertions.
// The test fails (t.Errorf) when a threshold fails or, unless
// AllowExceptions, user code failed; the log then holds the stats table,
// the percentiles, the errors and the thresholds that failed. Mistakes in
// the options or the user types stop the test at once (t.Fatalf). Run
// calls t's methods from the calling goroutine only.
func Run(t testing.TB, o Options, types ...*locust.UserType) *locust.Snapshot {
	t.Helper()
	if testing.Short() {
		rt, it := o.ShortRunTime, o.ShortIterations
		if rt < 0 || it < 0 {
			t.Skip("locusttest: load test skipped under -short")
		}
		if rt == 0 {
			rt = DefaultShortRunTime
		}
		if it == 0 {
			it = DefaultShortIterations
		}
		if o.RunTime == 0 || o.RunTime > rt {
			o.RunTime = rt
		}
		if o.Iterations == 0 || o.Iterations > it {
			o.Iterations = it
		}
	}
	if o.RunTime <= 0 && o.Iterations <= 0 {
		t.Fatalf("locusttest: set Options.RunTime or Options.Iterations: a load test in go test must be bounded")
	}
	ts, err := threshold.ParseAll(o.Thresholds)
	if err != nil {
		t.Fatalf("locusttest: %v", err)
	}
	s, err := run(t.Context(), o, types)
	if err != nil {
		t.Fatalf("locusttest: %v", err)
	}
	check(t, o, ts, s)
	return s
}

// run makes the runner of o and runs it.
func run(ctx context.Context, o Options, types []*locust.UserType) (*locust.Snapshot, error) {
	cfg := locust.Config{
		Host:        o.Host,
		Users:       max(o.Users, 1), // 0 means 1 here; locust.Config's 0 is none
		SpawnRate:   o.SpawnRate,
		RunTime:     o.RunTime,
		Iterations:  o.Iterations,
		StopTimeout: o.StopTimeout,
		Logger:      slog.New(slog.DiscardHandler),
	}
	if o.Configure != nil {
		o.Configure(&cfg)
	}
	r, err := locust.NewRunner(cfg, types...)
	if err != nil {
		return nil, err
	}
	if o.Setup != nil {
		o.Setup(r)
	}
	if err := r.Run(ctx); err != nil {
		return r.Snapshot(), err
	}
	return r.Snapshot(), nil
}

// check fails t, with the statistics in its log, when a threshold failed
// or user code failed.
func check(t testing.TB, o Options, ts []threshold.Threshold, s *locust.Snapshot, why ...string) {
	t.Helper()
	rs := threshold.Evaluate(ts, s)
	var failed []threshold.Result
	for _, r := range rs {
		if !r.Pass {
			failed = append(failed, r)
		}
	}
	if len(failed) > 0 {
		why = append(why, fmt.Sprintf("%d of %d thresholds failed", len(failed), len(rs)))
	}
	if len(s.Exceptions) > 0 && !o.AllowExceptions {
		n := int64(0)
		for _, e := range s.Exceptions {
			n += e.Count
		}
		why = append(why, fmt.Sprintf("%d errors in user code (Options.AllowExceptions to allow)", n))
	}
	if len(why) == 0 {
		return
	}
	var b strings.Builder
	fmt.Fprintf(&b, "locusttest: load test failed: %s\n\n", strings.Join(why, "; "))
	Report(&b, s)
	if len(failed) > 0 {
		b.WriteString("Thresholds (the failed ones say FAIL)\n")
		threshold.PrintResults(&b, rs)
	}
	t.Errorf("%s", b.String())
}

// Report writes the final statistics of s to w as the command line's
// summary does: the stats table, the percentiles, the errors and the
// requests cut short. Safe for concurrent use (it only reads s).
func Report(w io.Writer, s *locust.Snapshot) {
	locust.PrintStats(w, s, false)
	locust.PrintPercentiles(w, s)
	locust.PrintErrors(w, s)
	locust.PrintCutShort(w, s)
}

// User returns a user type that runs task again and again with no wait:
// the usual shape of a benchmark (Benchmark runs it b.N times).
func User(task locust.TaskFunc) *locust.UserType {
	return &locust.UserType{Name: "User", Tasks: locust.NewTaskSet("task").Task(1, task)}
}

// Benchmark runs b.N task runs of the given user types across o.Users
// users (Iterations = b.N; RunTime is ignored) and reports, with
// b.ReportMetric, the 50th, 95th and 99th percentile response times of
// all requests ("p50-ms", "p95-ms", "p99-ms") and the requests per second
// over the benchmark's time ("req/s"); ns/op is the time per task run.
// The benchmark fails (b.Fatalf) when a request failed (unless
// Thresholds, checked as by Run, are given: then they decide) or user
// code failed (unless AllowExceptions). It returns the final statistics.
//
// Compare two commits with benchstat:
//
//	go test -run '^$' -bench . -count 10 ./... > old.txt   # at the old commit
//	go test -run '^$' -bench . -count 10 ./... > new.txt   # at the new one
//	benchstat old.txt new.txt
func Benchmark(b *testing.B, o Options, types ...*locust.UserType) *locust.Snapshot {
	b.Helper()
	ts, err := threshold.ParseAll(o.Thresholds)
	if err != nil {
		b.Fatalf("locusttest: %v", err)
	}
	o.RunTime = 0
	o.Iterations = int64(b.N)
	b.ResetTimer()
	start := time.Now()
	s, err := run(b.Context(), o, types)
	elapsed := time.Since(start)
	b.StopTimer()
	if err != nil {
		b.Fatalf("locusttest: %v", err)
	}
	for _, p := range []float64{50, 95, 99} {
		d, _ := s.Total.Percentile(p)
		b.ReportMetric(float64(d)/float64(time.Millisecond), fmt.Sprintf("p%g-ms", p))
	}
	if elapsed > 0 {
		b.ReportMetric(float64(s.Total.Requests)/elapsed.Seconds(), "req/s")
	}
	var extra []string
	if len(ts) == 0 && s.Total.Failures > 0 {
		extra = append(extra, fmt.Sprintf("%d of %d requests failed (give Options.Thresholds to allow some)", s.Total.Failures, s.Total.Requests))
	}
	check(b, o, ts, s, extra...)
	if b.Failed() {
		b.FailNow()
	}
	return s
}
