package run_test

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
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
	buildErr  error
)

// program builds testdata/loadtest (a main of one line: run.Main) once,
// with go build as a user would, and returns its path.
func program(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		out, err := exec.Command("go", "build", "-buildvcs=false", "-o", binDir+string(filepath.Separator), "./testdata/loadtest").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	require.NoError(t, buildErr)
	return filepath.Join(binDir, "loadtest")
}

type proc struct {
	cmd            *exec.Cmd
	dir            string
	stdout, stderr testutil.Buffer
	began          time.Time
}

type result struct {
	code           int
	stdout, stderr string
	took           time.Duration
}

// start starts the program in a fresh directory (its working directory and
// HOME), with no LOCUST_* variable of the developer's.
func start(t *testing.T, args ...string) *proc {
	t.Helper()
	return startIn(t, t.TempDir(), args...)
}

// startIn starts the program with dir as its working directory and HOME.
func startIn(t *testing.T, dir string, args ...string) *proc {
	t.Helper()
	p := &proc{dir: dir}
	p.cmd = exec.Command(program(t), args...)
	p.cmd.Dir = p.dir
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "LOCUST_") && !strings.HasPrefix(kv, "HOME=") {
			p.cmd.Env = append(p.cmd.Env, kv)
		}
	}
	p.cmd.Env = append(p.cmd.Env, "HOME="+p.dir)
	p.cmd.Stdout, p.cmd.Stderr = &p.stdout, &p.stderr
	p.began = time.Now()
	require.NoError(t, p.cmd.Start())
	return p
}

// wait waits up to limit for the program to exit, killing it after that.
func (p *proc) wait(t *testing.T, limit time.Duration) result {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(limit):
		_ = p.cmd.Process.Kill()
		<-done
		t.Fatalf("the program did not exit within %s\nstdout:\n%s\nstderr:\n%s", limit, p.stdout.String(), p.stderr.String())
	}
	return result{code: p.cmd.ProcessState.ExitCode(), stdout: p.stdout.String(), stderr: p.stderr.String(), took: time.Since(p.began)}
}

// waitFor waits until the program's stderr contains s.
func (p *proc) waitFor(t *testing.T, s string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !strings.Contains(p.stderr.String(), s) {
		if time.Now().After(deadline) {
			_ = p.cmd.Process.Kill()
			t.Fatalf("no %q on stderr:\n%s", s, p.stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// A main of one line, run.Main(types...), accepts the report and
// threshold options, from the command line and from locust.conf.
func TestMainAcceptsEveryStandardOption(t *testing.T) {
	t.Parallel()
	p := start(t, "Fast", "--headless", "-u", "2", "-r", "100", "-t", "1500ms", "--only-summary",
		"--csv", "out", "--csv-full-history", "--html", "report.html", "--json", "--threshold", "fail_ratio < 1%")
	r := p.wait(t, 30*time.Second)
	require.Equal(t, 0, r.code, r.stderr)
	assert.True(t, json.Valid([]byte(r.stdout)), "--json: stdout holds the JSON alone:\n%s", r.stdout)
	assert.Contains(t, r.stderr, "Aggregated", "the tables go to stderr with --json")
	for _, f := range []string{"out_stats.csv", "out_stats_history.csv", "out_failures.csv", "out_exceptions.csv", "report.html"} {
		assert.FileExists(t, filepath.Join(p.dir, f))
	}

	// a threshold that fails decides the exit code
	p = start(t, "Fast", "--headless", "-t", "1s", "--only-summary", "--threshold", "rps > 1000000")
	r = p.wait(t, 30*time.Second)
	assert.Equal(t, 3, r.code, r.stderr)

	// the same options in ./locust.conf
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "locust.conf"), []byte("headless = true\nrun-time = 1s\nonly-summary\ncsv = conf\n"), 0o644))
	p = startIn(t, dir, "Fast")
	r = p.wait(t, 30*time.Second)
	require.Equal(t, 0, r.code, r.stderr)
	assert.FileExists(t, filepath.Join(dir, "conf_stats.csv"))
	assert.Contains(t, r.stderr, "read config file")
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
			p.waitFor(t, "starting test")
			time.Sleep(500 * time.Millisecond) // the user is inside its sleep
			require.NoError(t, p.cmd.Process.Signal(tc.sig))
			p.waitFor(t, "stopping on signal")
			time.Sleep(300 * time.Millisecond)
			require.NoError(t, p.cmd.Process.Signal(tc.sig))
			r := p.wait(t, 20*time.Second)
			assert.Equal(t, tc.code, r.code, r.stderr)
			assert.Less(t, r.took, 15*time.Second, "did not wait for the minute-long task")
			assert.Contains(t, r.stderr, "second signal: exiting without waiting for the users")
			assert.Contains(t, r.stdout, "/before-sleep", "the summary of what there was")
			assert.Contains(t, r.stdout, "Response time percentiles")
			stats, err := os.ReadFile(filepath.Join(p.dir, "out_stats.csv"))
			require.NoError(t, err)
			assert.Contains(t, string(stats), "/before-sleep")
			assert.FileExists(t, filepath.Join(p.dir, "report.html"))
		})
	}
}

// An aborted test (a client found no host) prints one clear line and
// exits with 2 at once.
func TestAbortPrintsOneLineAndExitsTwo(t *testing.T) {
	t.Parallel()
	p := start(t, "NoHost", "--headless", "-t", "1m", "--only-summary")
	r := p.wait(t, 20*time.Second)
	assert.Equal(t, 2, r.code, r.stderr)
	assert.Less(t, r.took, 10*time.Second)
	lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
	assert.Equal(t, "loadtest: error: no host: pass --host or set UserType.Host", lines[len(lines)-1])
	assert.Equal(t, 1, strings.Count(r.stderr, "error:"), r.stderr)
}
