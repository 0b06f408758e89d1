package examples_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/golocust/locust/demo"
)

var binDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "golocust-examples-")
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

// binary builds the example programs once (go build, as a user would) and
// returns the path of one of them.
func binary(t *testing.T, name string) string {
	t.Helper()
	buildOnce.Do(func() {
		cmd := exec.Command("go", "build", "-buildvcs=false", "-o", binDir+string(filepath.Separator),
			"./quickstart", "./website", "./customclient")
		out, err := cmd.CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	require.NoError(t, buildErr)
	return filepath.Join(binDir, name)
}

// result is what a finished program left.
type result struct {
	code           int
	stdout, stderr string
	took           time.Duration
}

// start starts an example program with args and extra environment.
func start(t *testing.T, name string, env []string, args ...string) (*exec.Cmd, *bytes.Buffer, *bytes.Buffer) {
	t.Helper()
	cmd := exec.Command(binary(t, name), args...)
	cmd.Env = append(cleanEnv(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	require.NoError(t, cmd.Start())
	return cmd, &stdout, &stderr
}

// wait waits up to limit for cmd to exit, killing it after that.
func wait(t *testing.T, cmd *exec.Cmd, stdout, stderr *bytes.Buffer, began time.Time, limit time.Duration) result {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(limit):
		cmd.Process.Kill()
		<-done
		t.Fatalf("%s did not exit within %s\nstdout:\n%s\nstderr:\n%s", cmd.Path, limit, stdout, stderr)
	}
	r := result{code: cmd.ProcessState.ExitCode(), stdout: stdout.String(), stderr: stderr.String(), took: time.Since(began)}
	t.Logf("%s %s: exit %d after %s\n%s", filepath.Base(cmd.Path), strings.Join(cmd.Args[1:], " "), r.code, r.took.Round(time.Millisecond), r.stdout)
	return r
}

// run runs an example program to its end.
func run(t *testing.T, name string, env []string, args ...string) result {
	t.Helper()
	began := time.Now()
	cmd, stdout, stderr := start(t, name, env, args...)
	return wait(t, cmd, stdout, stderr, began, 30*time.Second)
}

// cleanEnv is the environment without LOCUST_* variables and with HOME in
// the build directory (no ~/.locust.conf), so that a developer's settings
// do not change what the programs do.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "LOCUST_") && !strings.HasPrefix(kv, "HOME=") {
			env = append(env, kv)
		}
	}
	return append(env, "HOME="+binDir)
}

var statsRow = regexp.MustCompile(`(?m)^(\S+) +(.+?) +(\d+) +(\d+)\(\d+\.\d+%\) \|`)
var totalRow = regexp.MustCompile(`(?m)^ +Aggregated +(\d+) +(\d+)\(\d+\.\d+%\) \|`)

// final returns the request and failure counts of the last Aggregated row
// of the stats table, and the per-entry request counts of the table that
// precedes it ("TYPE NAME" -> requests).
func final(t *testing.T, out string) (reqs, fails int64, rows map[string]int64) {
	t.Helper()
	idx := totalRow.FindAllStringSubmatchIndex(out, -1)
	require.NotEmpty(t, idx, "no Aggregated row in the output")
	last := idx[len(idx)-1]
	reqs, _ = strconv.ParseInt(out[last[2]:last[3]], 10, 64)
	fails, _ = strconv.ParseInt(out[last[4]:last[5]], 10, 64)
	// the final table starts after the previous table's end
	from := 0
	if i := strings.LastIndex(out[:last[0]], "Type     Name"); i >= 0 {
		from = i
	}
	rows = map[string]int64{}
	for _, m := range statsRow.FindAllStringSubmatch(out[from:last[0]], -1) {
		n, _ := strconv.ParseInt(m[3], 10, 64)
		rows[m[1]+" "+m[2]] = n
	}
	return reqs, fails, rows
}

// assertSummary checks that out ends with Locust's final summary.
func assertSummary(t *testing.T, out string) {
	t.Helper()
	for _, s := range []string{"Type", "Name", "# reqs", "# fails", "Aggregated", "Response time percentiles", "95%"} {
		assert.Contains(t, out, s)
	}
}

func TestQuickstartHeadlessExitsOneBecauseErrorFailsOnPurpose(t *testing.T) {
	t.Parallel()
	r := run(t, "quickstart", nil, "-u", "20", "-r", "20", "-t", "3s", "--headless")
	assert.Equal(t, 1, r.code, "README: the quickstart exits 1, as /error fails on purpose\n%s", r.stderr)
	assert.Contains(t, r.stdout, "a demo server started by this program on 127.0.0.1")
	assertSummary(t, r.stdout)
	reqs, fails, rows := final(t, r.stdout)
	assert.Greater(t, reqs, int64(100))
	assert.Positive(t, fails)
	assert.Equal(t, int64(20), rows["POST /login"], "every user logs in once")
	for _, name := range []string{"GET /home", "GET /profile", "GET /item/{id}", "GET /error"} {
		assert.Positive(t, rows[name], name)
	}
	assert.Contains(t, r.stdout, "GET /error: HTTP 500 Internal Server Error")
	// a 3 s test that ends: 3.03 s alone, 11 s once under the race detector
	// beside the cluster's Python workers on two cores
	assert.Less(t, r.took, 30*time.Second)
}

func TestQuickstartListAndHelp(t *testing.T) {
	t.Parallel()
	r := run(t, "quickstart", nil, "--list")
	assert.Equal(t, 0, r.code)
	assert.Equal(t, "Available Users:\n    Shopper\n", r.stdout, "Locust's -l layout")
	r = run(t, "quickstart", nil, "--help")
	assert.Equal(t, 0, r.code)
	assert.Contains(t, r.stdout, "--host")
	r = run(t, "quickstart", nil, "-u", "-3")
	assert.Equal(t, 2, r.code)
	assert.Contains(t, r.stderr, "--users")
	assert.NotContains(t, r.stdout, "demo server", "no server for a usage error")
}

func TestQuickstartTargetsGivenHost(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		args func(url string) []string
		env  func(url string) []string
	}{
		{name: "--host", args: func(u string) []string { return []string{"--host", u} }},
		{name: "-H=", args: func(u string) []string { return []string{"-H=" + u} }},
		{name: "-host", args: func(u string) []string { return []string{"-host", u} }},
		{name: "LOCUST_HOST", env: func(u string) []string { return []string{"LOCUST_HOST=" + u} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv, err := demo.Start(demo.Options{})
			require.NoError(t, err)
			defer srv.Close()
			args := []string{"-u", "5", "-r", "5", "-t", "2s", "--headless", "--only-summary"}
			var env []string
			if tc.args != nil {
				args = append(args, tc.args(srv.URL)...)
			}
			if tc.env != nil {
				env = tc.env(srv.URL)
			}
			r := run(t, "quickstart", env, args...)
			assert.Contains(t, r.stdout, "quickstart: load testing "+srv.URL+" (no local demo server started)")
			assert.NotContains(t, r.stdout, "started by this program")
			reqs, _, rows := final(t, r.stdout)
			assert.Equal(t, int64(5), rows["POST /login"])
			// every request the program counted reached our server (and
			// maybe one per user that the stop cut short, not counted)
			assert.GreaterOrEqual(t, srv.Requests(), reqs)
			assert.LessOrEqual(t, srv.Requests(), reqs+5)
			assert.Contains(t, []int{0, 1}, r.code)
		})
	}
}

func TestQuickstartSIGINTStopsAndPrintsSummary(t *testing.T) {
	t.Parallel()
	began := time.Now()
	cmd, stdout, stderr := start(t, "quickstart", nil, "-u", "20", "-r", "20", "-t", "60s", "--headless")
	time.Sleep(2 * time.Second)
	require.NoError(t, cmd.Process.Signal(syscall.SIGINT))
	signalled := time.Now()
	r := wait(t, cmd, stdout, stderr, began, 20*time.Second)
	assert.Less(t, time.Since(signalled), 5*time.Second, "exit soon after SIGINT")
	assert.Contains(t, []int{0, 1}, r.code, "a stopped test still exits by its results:\n%s", r.stderr)
	assertSummary(t, r.stdout)
	reqs, _, _ := final(t, r.stdout)
	assert.Positive(t, reqs)
	assert.Contains(t, r.stderr, "test stopped")
}

func TestWebsiteLogsInEveryUser(t *testing.T) {
	t.Parallel()
	prefix := filepath.Join(t.TempDir(), "website")
	r := run(t, "website", nil, "-u", "5", "-r", "5", "-t", "3s", "--headless", "--csv", prefix, "--threshold", "fail_ratio == 0")
	assert.Equal(t, 0, r.code, r.stderr)
	assert.FileExists(t, prefix+"_stats.csv", "run.Command: the report options work")
	assert.Contains(t, r.stdout, "1 of 1 passed", "run.Command: the threshold options work")
	assertSummary(t, r.stdout)
	_, fails, rows := final(t, r.stdout)
	assert.Equal(t, int64(5), rows["POST /login"])
	assert.Zero(t, fails)
	// the first task runs right after the login; the next waits 5 to 15 s
	assert.Equal(t, int64(5), rows["GET /home"]+rows["GET /profile"])
}

func TestCustomClient(t *testing.T) {
	t.Parallel()
	r := run(t, "customclient", nil, "-u", "5", "-r", "5", "-t", "3s", "--headless")
	assert.Equal(t, 1, r.code, "FAIL fails on purpose\n%s", r.stderr)
	assert.Contains(t, r.stdout, "a key-value server started by this program on 127.0.0.1")
	assertSummary(t, r.stdout)
	reqs, fails, rows := final(t, r.stdout)
	assert.Positive(t, reqs)
	assert.Positive(t, fails)
	for _, name := range []string{"tcp PING", "tcp GET key", "tcp SLOW"} {
		assert.Positive(t, rows[name], name)
	}
	assert.Regexp(t, `tcp (FAIL: failed on purpose|GET key: no such key)`, r.stdout)
	assert.NotContains(t, r.stdout, "Exceptions", "no error in user code")
}

func TestCustomClientTargetsGivenHost(t *testing.T) {
	t.Parallel()
	// a server of the same protocol that answers PONG to everything
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	var lines atomic.Int64
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				sc := bufio.NewScanner(c)
				for sc.Scan() {
					lines.Add(1)
					if _, err := c.Write([]byte("PONG\n")); err != nil {
						return
					}
				}
			}()
		}
	}()
	defer func() { ln.Close(); wg.Wait() }()

	r := run(t, "customclient", nil, "-u", "3", "-r", "3", "-t", "2s", "--headless", "--host", "tcp://"+ln.Addr().String())
	assert.Equal(t, 0, r.code, "this server never says ERR\n%s", r.stderr)
	assert.Contains(t, r.stdout, "(no local server started)")
	reqs, fails, _ := final(t, r.stdout)
	assert.Zero(t, fails)
	assert.Positive(t, reqs)
	assert.GreaterOrEqual(t, lines.Load(), reqs)
	assert.LessOrEqual(t, lines.Load(), reqs+3)

	r = run(t, "customclient", nil, "-t", "1s", "--headless", "--host", "http://127.0.0.1:1")
	assert.Equal(t, 2, r.code)
	assert.Contains(t, r.stderr, "want tcp://HOST:PORT")
}

func TestGoTestBenchmarkReportsPercentiles(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs another test binary")
	}
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "test", "-count=1", "-run", "^$", "-bench", ".", "-benchtime", "300x", "./gotest")
	cmd.Env = cleanEnv()
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	for _, s := range []string{"BenchmarkItems", "p50-ms", "p99-ms", "req/s"} {
		assert.Contains(t, string(out), s)
	}
}

func TestQuickstartThresholdsDecideTheExitCode(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	prefix := filepath.Join(dir, "run")
	// 20 users for 3 s make about 350 requests, of which about 3.4% go to
	// /error: with 10 users for 2 s (115 requests) none did in 2% of runs
	r := run(t, "quickstart", nil, "-u", "20", "-r", "20", "-t", "3s", "--headless", "--only-summary",
		"--threshold", "p95<2s", "--threshold", "fail_ratio<0.5", "--csv", prefix, "--html", prefix+".html")
	assert.Equal(t, 0, r.code, "thresholds that pass decide, even with failed requests\n%s", r.stderr)
	assert.Contains(t, r.stdout, "2 of 2 passed")
	for _, f := range []string{"_stats.csv", "_stats_history.csv", "_failures.csv", "_exceptions.csv", ".html"} {
		st, err := os.Stat(prefix + f)
		if assert.NoError(t, err) {
			assert.Positive(t, st.Size(), f)
		}
	}
	failures, err := os.ReadFile(prefix + "_failures.csv")
	require.NoError(t, err)
	assert.Contains(t, string(failures), "GET,/error,HTTP 500 Internal Server Error,")

	r = run(t, "quickstart", nil, "-u", "5", "-r", "5", "-t", "1s", "--headless", "--only-summary",
		"--threshold", "max<1us")
	assert.Equal(t, 3, r.code, "a failed threshold exits 3\n%s", r.stderr)
	assert.Contains(t, r.stdout, "FAIL")
}
