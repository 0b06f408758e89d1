package threshold_test

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	locust "github.com/golocust/locust"
	"github.com/golocust/locust/threshold"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

var errBoom = errors.New("boom")

// testUser records one success on "GET /ok" taking okDur and one failure
// on "GET /bad" taking 20ms per task run.
func testUser(okDur time.Duration) *locust.UserType {
	return &locust.UserType{
		Name: "Tester",
		Wait: locust.Constant(5 * time.Millisecond),
		Tasks: locust.NewTaskSet("tasks").Task(1, func(ctx context.Context, u *locust.User) error {
			u.RecordSuccess("GET", "/ok", okDur, 100)
			u.RecordFailure("GET", "/bad", 20*time.Millisecond, errBoom)
			return nil
		}),
	}
}

type run struct {
	code           int
	stdout, stderr string
	elapsed        time.Duration
	runner         *locust.Runner
	ext            *threshold.Extension
}

func runCommand(t *testing.T, ext *threshold.Extension, okDur time.Duration, args ...string) run {
	t.Helper()
	var out, errOut bytes.Buffer
	var r *locust.Runner
	c := &locust.Command{
		Name:       "loadtest",
		Users:      []*locust.UserType{testUser(okDur)},
		Extensions: []locust.Extension{ext},
		Stdout:     &out,
		Stderr:     &errOut,
		Getenv:     func(string) string { return "" },
		Signals:    []os.Signal{syscall.SIGUSR2},
		Setup: func(_ context.Context, rr *locust.Runner) error {
			r = rr
			return nil
		},
	}
	start := time.Now()
	code := c.Run(context.Background(), append([]string{"--headless", "--only-summary", "-u", "2", "-r", "100"}, args...))
	return run{code: code, stdout: out.String(), stderr: errOut.String(), elapsed: time.Since(start), runner: r, ext: ext}
}

func TestCommandAllPassWithFailedRequests(t *testing.T) {
	res := runCommand(t, threshold.NewExtension(), 10*time.Millisecond, "-t", "1s",
		"--threshold", "p95 < 500ms", "--threshold", "fail_ratio <= 50%", "--threshold", "GET /ok: max < 1s",
		"--threshold", "/bad: p99.5 < 1s")
	assert.Equal(t, 0, res.code, "thresholds decide, not the failed requests\n%s%s", res.stdout, res.stderr)
	assert.Contains(t, res.stdout, "Thresholds: 4 of 4 passed")
	assert.Contains(t, res.stdout, "GET /ok: max < 1s")
	rs := res.ext.Results()
	require.Len(t, rs, 4)
	assert.True(t, threshold.AllPass(rs))
	assert.InDelta(t, 20, rs[3].Actual, 0.1, "p99.5 was computed as an extra percentile")
	assert.False(t, res.ext.Aborted())
	assert.Contains(t, res.runner.Config().Stats.ExtraPercentiles, 99.5)
}

func TestCommandWithoutThresholds(t *testing.T) {
	res := runCommand(t, threshold.NewExtension(), 10*time.Millisecond, "-t", "1s")
	assert.Equal(t, 1, res.code, "failed requests decide without thresholds")
	assert.NotContains(t, res.stdout, "Thresholds:")
	assert.Nil(t, res.ext.Results())
}

func TestCommandThresholdFails(t *testing.T) {
	res := runCommand(t, threshold.NewExtension(), 10*time.Millisecond, "-t", "1s",
		"--threshold", "p95 < 1ms", "--threshold", "rps > 1")
	assert.Equal(t, threshold.ExitCode, res.code, res.stdout+res.stderr)
	assert.Contains(t, res.stdout, "Thresholds: 1 of 2 passed")
	assert.Regexp(t, `p95 < 1ms\s+\S+\s+FAIL`, res.stdout)

	// with a threshold added from code and a custom --exit-code-on-error
	ext := threshold.NewExtension()
	require.NoError(t, ext.Add("GET /bad: failures == 0"))
	res = runCommand(t, ext, 10*time.Millisecond, "-t", "1s", "--exit-code-on-error", "7")
	assert.Equal(t, threshold.ExitCode, res.code, "thresholds decide, not --exit-code-on-error")
}

func TestCommandBadExpression(t *testing.T) {
	res := runCommand(t, threshold.NewExtension(), 10*time.Millisecond, "-t", "30s",
		"--threshold", "p95 < 300ms", "--threshold", "p95 < abc")
	assert.Equal(t, locust.ExitUsage, res.code)
	assert.Contains(t, res.stderr, `threshold "p95 < abc": invalid value "abc"`)
	assert.Less(t, res.elapsed, 5*time.Second, "the test never started")
	assert.Nil(t, res.runner, "fails before the runner is made")

	ext := threshold.NewExtension()
	err := ext.Add("p95 < 1s", "fail_ratio < 1 %%")
	require.Error(t, err)
	assert.Contains(t, err.Error(), `threshold "fail_ratio < 1 %%"`)
	assert.Empty(t, ext.Thresholds(), "nothing added on error")
}

func TestCommandAbort(t *testing.T) {
	res := runCommand(t, threshold.NewExtension(), 10*time.Millisecond, "-t", "30s",
		"--threshold-abort", "--threshold-grace", "1s",
		"--threshold", "requests > 1000000", // a count that may still come true never aborts
		"--threshold", "fail_ratio < 1%")
	assert.Equal(t, threshold.ExitCode, res.code, res.stdout+res.stderr)
	assert.Less(t, res.elapsed, 10*time.Second, "stopped early")
	assert.True(t, res.ext.Aborted())
	assert.Equal(t, "threshold failed: fail_ratio < 1%", res.runner.StopReason())
	assert.Contains(t, res.stdout, `The test was stopped early: threshold "fail_ratio < 1%" failed`)
	assert.Contains(t, res.stderr, "threshold failed: stopping the test")
}

func TestCommandAbortNotNeeded(t *testing.T) {
	// the live checker runs but finds nothing, and ends with the test
	res := runCommand(t, threshold.NewExtension(), 10*time.Millisecond, "-t", "2s",
		"--threshold-abort", "--threshold-grace", "0", "--threshold", "p95 < 1s")
	assert.Equal(t, 0, res.code, res.stdout+res.stderr)
	assert.False(t, res.ext.Aborted())
	assert.Equal(t, "run time", res.runner.StopReason())
}

func TestExtensionReuse(t *testing.T) {
	ext := threshold.NewExtension()
	res := runCommand(t, ext, 10*time.Millisecond, "-t", "1s", "--threshold", "p95 < 1ms")
	assert.Equal(t, threshold.ExitCode, res.code)
	res = runCommand(t, ext, 10*time.Millisecond, "-t", "1s", "--threshold", "p95 < 1s")
	assert.Equal(t, 0, res.code, "flags of the first run are forgotten")
	require.Len(t, ext.Results(), 1)
}

func TestExtensionFlags(t *testing.T) {
	ext := threshold.NewExtension()
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	fs.SetOutput(&bytes.Buffer{})
	ext.Flags(fs)
	require.NoError(t, fs.Parse([]string{"--threshold", "p95<1s", "--threshold=rps>1", "--threshold-grace", "5s"}))
	assert.Equal(t, "p95<1s; rps>1", fs.Lookup("threshold").Value.String())
	assert.Equal(t, "5s", fs.Lookup("threshold-grace").Value.String())
	assert.Equal(t, "10s", fs.Lookup("threshold-grace").DefValue)
	assert.Error(t, fs.Parse([]string{"--threshold-grace", "soon"}))
	assert.Error(t, fs.Parse([]string{"--threshold", " "}))

	cfg := locust.Config{Stats: locust.StatsOptions{ExtraPercentiles: []float64{99.5}}}
	require.NoError(t, ext.Configure(&cfg))
	assert.Equal(t, []float64{99.5}, cfg.Stats.ExtraPercentiles, "no duplicates, none of Locust's own")

	require.NoError(t, ext.Add("p99.5 < 2s", "p97 < 1s", "med < 1s"))
	require.NoError(t, ext.Configure(&cfg))
	assert.Equal(t, []float64{99.5, 97}, cfg.Stats.ExtraPercentiles)
	assert.Len(t, ext.Thresholds(), 5)
}

// TestExtensionRunnerFromCode drives a Runner directly with the extension.
func TestExtensionRunnerFromCode(t *testing.T) {
	ext := threshold.NewExtension()
	require.NoError(t, ext.Add("GET /ok: p95 < 1s", "failures == 0"))
	r, err := locust.NewRunner(locust.Config{Users: 1, RunTime: 300 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}, testUser(time.Millisecond))
	require.NoError(t, err)
	var out bytes.Buffer
	require.NoError(t, ext.Start(context.Background(), r, &out))
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); _ = r.Run(context.Background()) }()
	wg.Wait()
	v, err := ext.Stop(context.Background(), r, r.Snapshot(), &out)
	require.NoError(t, err)
	assert.Equal(t, locust.Verdict{Decided: true, ExitCode: threshold.ExitCode}, v)
	assert.True(t, strings.Contains(out.String(), "Thresholds: 1 of 2 passed"), out.String())

	// a percentile the runner does not compute is an error before the start
	ext = threshold.NewExtension()
	require.NoError(t, ext.Add("p99.5 < 1s"))
	r, err = locust.NewRunner(locust.Config{}, testUser(time.Millisecond))
	require.NoError(t, err)
	err = ext.Start(context.Background(), r, &out)
	require.Error(t, err)
	assert.Contains(t, err.Error(), `threshold "p99.5 < 1s" needs percentile 99.5`)
}
