package run_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/golocust/locust/internal/testutil"
)

var binDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "golocust-run-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// program builds testdata/loadtest (a main of one line: run.Main) once,
// with go build as a user would, and returns its path.
func program(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() { binPath, buildErr = testutil.Build("./testdata/loadtest", binDir) })
	require.NoError(t, buildErr)
	return binPath
}

// start starts the program in a fresh directory (its working directory and
// HOME), with no LOCUST_* variable of the developer's.
func start(t *testing.T, args ...string) *testutil.Proc {
	t.Helper()
	return startIn(t, t.TempDir(), args...)
}

// startIn starts the program with dir as its working directory and HOME.
func startIn(t *testing.T, dir string, args ...string) *testutil.Proc {
	t.Helper()
	return testutil.Start(t, dir, nil, program(t), args...)
}

// A main of one line, run.Main(types...), accepts the report and
// threshold options, from the command line and from locust.conf.
func TestMainAcceptsEveryStandardOption(t *testing.T) {
	t.Parallel()
	p := start(t, "Fast", "--headless", "-u", "2", "-r", "100", "-t", "1500ms", "--only-summary",
		"--csv", "out", "--csv-full-history", "--html", "report.html", "--json", "--threshold", "fail_ratio < 1%")
	r := p.Wait(t, 30*time.Second)
	require.Equal(t, 0, r.Code, r.Stderr)
	assert.True(t, json.Valid([]byte(r.Stdout)), "--json: stdout holds the JSON alone:\n%s", r.Stdout)
	assert.Contains(t, r.Stderr, "Aggregated", "the tables go to stderr with --json")
	for _, f := range []string{"out_stats.csv", "out_stats_history.csv", "out_failures.csv", "out_exceptions.csv", "report.html"} {
		assert.FileExists(t, filepath.Join(p.Dir, f))
	}

	// a threshold that fails decides the exit code
	p = start(t, "Fast", "--headless", "-t", "1s", "--only-summary", "--threshold", "rps > 1000000")
	r = p.Wait(t, 30*time.Second)
	assert.Equal(t, 3, r.Code, r.Stderr)

	// the same options in ./locust.conf
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "locust.conf"), []byte("headless = true\nrun-time = 1s\nonly-summary\ncsv = conf\n"), 0o644))
	p = startIn(t, dir, "Fast")
	r = p.Wait(t, 30*time.Second)
	require.Equal(t, 0, r.Code, r.Stderr)
	assert.FileExists(t, filepath.Join(dir, "conf_stats.csv"))
	assert.Contains(t, r.Stderr, "read config file")
}

// A second SIGINT or SIGTERM exits at once, with the summary and the
// report files of what there was, even while a task ignores its context
// (Stubborn sleeps a minute).
func TestSecondSignalExitsAtOnce(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		sig  syscall.Signal
		code int
	}{{syscall.SIGINT, 130}, {syscall.SIGTERM, 143}} {
		t.Run(tc.sig.String(), func(t *testing.T) {
			t.Parallel()
			p := start(t, "Stubborn", "--headless", "-t", "5m", "--only-summary", "--csv", "out", "--html", "report.html")
			p.WaitFor(t, "starting test", 1, 15*time.Second)
			time.Sleep(500 * time.Millisecond) // the user is inside its sleep
			require.NoError(t, p.Cmd.Process.Signal(tc.sig))
			p.WaitFor(t, "stopping on signal", 1, 15*time.Second)
			time.Sleep(300 * time.Millisecond)
			require.NoError(t, p.Cmd.Process.Signal(tc.sig))
			r := p.Wait(t, 20*time.Second)
			assert.Equal(t, tc.code, r.Code, r.Stderr)
			assert.Less(t, r.Took, 15*time.Second, "did not wait for the minute-long task")
			assert.Contains(t, r.Stderr, "second signal: exiting without waiting for the users")
			assert.Contains(t, r.Stdout, "/before-sleep", "the summary of what there was")
			assert.Contains(t, r.Stdout, "Response time percentiles")
			stats, err := os.ReadFile(filepath.Join(p.Dir, "out_stats.csv"))
			require.NoError(t, err)
			assert.Contains(t, string(stats), "/before-sleep")
			assert.FileExists(t, filepath.Join(p.Dir, "report.html"))
		})
	}
}

// An aborted test (a client found no host) prints one clear line and
// exits with 2 at once.
func TestAbortPrintsOneLineAndExitsTwo(t *testing.T) {
	t.Parallel()
	p := start(t, "NoHost", "--headless", "-t", "1m", "--only-summary")
	r := p.Wait(t, 20*time.Second)
	assert.Equal(t, 2, r.Code, r.Stderr)
	assert.Less(t, r.Took, 10*time.Second)
	lines := strings.Split(strings.TrimSpace(r.Stderr), "\n")
	assert.Equal(t, "loadtest: error: no host: pass --host or set UserType.Host", lines[len(lines)-1])
	assert.Equal(t, 1, strings.Count(r.Stderr, "error:"), r.Stderr)
}
