package locust_test

import (
	"context"
	"flag"
	"log/slog"
	"os"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/golocust/locust"
	"github.com/golocust/locust/internal/testutil"
)

type cmdResult struct {
	code           int
	stdout, stderr string
	runner         *locust.Runner
}

// runCmd runs c with args and the environment env (never the process's).
func runCmd(t *testing.T, c *locust.Command, env map[string]string, args ...string) cmdResult {
	t.Helper()
	var out, errb testutil.Buffer
	c.Stdout, c.Stderr = &out, &errb
	c.Getenv = func(k string) string { return env[k] }
	if c.Dir == "" {
		c.Dir = t.TempDir() // no ./locust.conf of the developer's
	}
	if c.Name == "" {
		c.Name = "loadtest"
	}
	var res cmdResult
	setup := c.Setup
	c.Setup = func(ctx context.Context, r *locust.Runner) error {
		res.runner = r
		if setup != nil {
			return setup(ctx, r)
		}
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	res.code = c.Run(ctx, args)
	require.NoError(t, ctx.Err(), "the command hit the 20 s safety net")
	res.stdout, res.stderr = out.String(), errb.String()
	return res
}

// stopAtOnce is a Setup that ends the test as soon as it starts.
func stopAtOnce(_ context.Context, r *locust.Runner) error { r.Stop(); return nil }

func fastUser(name string) *locust.UserType {
	return &locust.UserType{Name: name, Tasks: locust.NewTaskSet(name).Task(1, func(_ context.Context, u *locust.User) error {
		u.RecordSuccess("GET", "/", time.Microsecond, 0)
		return nil
	})}
}

func TestCommandFlagsSetConfig(t *testing.T) {
	for _, tc := range []struct {
		args  []string
		env   map[string]string
		check func(t *testing.T, c locust.Config)
	}{
		{[]string{"-u", "3"}, nil, func(t *testing.T, c locust.Config) { assert.Equal(t, 3, c.Users) }},
		{[]string{"--users", "4"}, nil, func(t *testing.T, c locust.Config) { assert.Equal(t, 4, c.Users) }},
		{[]string{"-c", "5"}, nil, func(t *testing.T, c locust.Config) { assert.Equal(t, 5, c.Users) }},
		{[]string{"--clients=6"}, nil, func(t *testing.T, c locust.Config) { assert.Equal(t, 6, c.Users) }},
		{[]string{}, nil, func(t *testing.T, c locust.Config) { assert.Equal(t, 1, c.Users); assert.Equal(t, 1.0, c.SpawnRate) }},
		{[]string{"-r", "7.5"}, nil, func(t *testing.T, c locust.Config) { assert.Equal(t, 7.5, c.SpawnRate) }},
		{[]string{"--spawn-rate", "8"}, nil, func(t *testing.T, c locust.Config) { assert.Equal(t, 8.0, c.SpawnRate) }},
		{[]string{"--hatch-rate", "9"}, nil, func(t *testing.T, c locust.Config) { assert.Equal(t, 9.0, c.SpawnRate) }},
		{[]string{"-t", "30s"}, nil, func(t *testing.T, c locust.Config) { assert.Equal(t, 30*time.Second, c.RunTime) }},
		{[]string{"--run-time", "5m"}, nil, func(t *testing.T, c locust.Config) { assert.Equal(t, 5*time.Minute, c.RunTime) }},
		{[]string{"-t", "1h30m"}, nil, func(t *testing.T, c locust.Config) { assert.Equal(t, 90*time.Minute, c.RunTime) }},
		{[]string{"-t", "45"}, nil, func(t *testing.T, c locust.Config) { assert.Equal(t, 45*time.Second, c.RunTime) }},
		{[]string{"-H", "http://127.0.0.1:8080"}, nil, func(t *testing.T, c locust.Config) { assert.Equal(t, "http://127.0.0.1:8080", c.Host) }},
		{[]string{"--host", "http://127.0.0.1:9"}, nil, func(t *testing.T, c locust.Config) { assert.Equal(t, "http://127.0.0.1:9", c.Host) }},
		{[]string{"-i", "12"}, nil, func(t *testing.T, c locust.Config) { assert.EqualValues(t, 12, c.Iterations) }},
		{[]string{"--iterations", "13"}, nil, func(t *testing.T, c locust.Config) { assert.EqualValues(t, 13, c.Iterations) }},
		{[]string{"-n", "1000"}, nil, func(t *testing.T, c locust.Config) { assert.EqualValues(t, 1000, c.MaxRequests) }},
		{[]string{"--num-request", "10"}, nil, func(t *testing.T, c locust.Config) { assert.EqualValues(t, 10, c.MaxRequests) }},
		{[]string{"--stop-timeout", "5s"}, nil, func(t *testing.T, c locust.Config) { assert.Equal(t, 5*time.Second, c.StopTimeout) }},
		{[]string{"-s", "2"}, nil, func(t *testing.T, c locust.Config) { assert.Equal(t, 2*time.Second, c.StopTimeout) }},
		{[]string{"--reset-stats"}, nil, func(t *testing.T, c locust.Config) { assert.True(t, c.ResetStats) }},
		{[]string{"-T", "a,b", "--tags", "c", "-u", "1"}, nil, func(t *testing.T, c locust.Config) { assert.Equal(t, []string{"a", "b", "c"}, c.Tags) }},
		{[]string{"-E", "slow", "--exclude-tags", "x y"}, nil, func(t *testing.T, c locust.Config) {
			assert.Equal(t, []string{"slow", "x", "y"}, c.ExcludeTags)
		}},
		{[]string{"-L", "DEBUG"}, nil, func(t *testing.T, c locust.Config) {
			assert.True(t, c.Logger.Enabled(context.Background(), slog.LevelDebug))
		}},
		{[]string{"--loglevel", "error"}, nil, func(t *testing.T, c locust.Config) {
			assert.False(t, c.Logger.Enabled(context.Background(), slog.LevelWarn))
		}},
		// LOCUST_* variables, and the command line over them
		{nil, map[string]string{"LOCUST_USERS": "11", "LOCUST_SPAWN_RATE": "3", "LOCUST_RUN_TIME": "1m", "LOCUST_HOST": "http://127.0.0.1:1",
			"LOCUST_ITERATIONS": "9", "LOCUST_NUM_REQUEST": "99", "LOCUST_STOP_TIMEOUT": "3", "LOCUST_RESET_STATS": "true",
			"LOCUST_TAGS": "a,b", "LOCUST_EXCLUDE_TAGS": "c"}, func(t *testing.T, c locust.Config) {
			assert.Equal(t, 11, c.Users)
			assert.Equal(t, 3.0, c.SpawnRate)
			assert.Equal(t, time.Minute, c.RunTime)
			assert.Equal(t, "http://127.0.0.1:1", c.Host)
			assert.EqualValues(t, 9, c.Iterations)
			assert.EqualValues(t, 99, c.MaxRequests)
			assert.Equal(t, 3*time.Second, c.StopTimeout)
			assert.True(t, c.ResetStats)
			assert.Equal(t, []string{"a", "b"}, c.Tags)
			assert.Equal(t, []string{"c"}, c.ExcludeTags)
		}},
		{[]string{"-u", "2", "-t", "10s", "--host", "http://127.0.0.1:2"}, map[string]string{"LOCUST_USERS": "11", "LOCUST_RUN_TIME": "1m", "LOCUST_HOST": "http://127.0.0.1:1"},
			func(t *testing.T, c locust.Config) {
				assert.Equal(t, 2, c.Users)
				assert.Equal(t, 10*time.Second, c.RunTime)
				assert.Equal(t, "http://127.0.0.1:2", c.Host)
			}},
	} {
		t.Run(strings.Join(tc.args, " ")+envString(tc.env), func(t *testing.T) {
			tagged := &locust.UserType{Name: "U", Tasks: locust.NewTaskSet("t").Task(1, noop, locust.Tags("a", "b")).Task(1, noop, locust.Tags("c"))}
			res := runCmd(t, &locust.Command{Users: []*locust.UserType{tagged}, Setup: stopAtOnce}, tc.env, tc.args...)
			require.Equal(t, 0, res.code, res.stderr)
			require.NotNil(t, res.runner)
			tc.check(t, res.runner.Config())
		})
	}
}

func envString(env map[string]string) string {
	if len(env) == 0 {
		return ""
	}
	return " (env)"
}

func TestParseTimespan(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"30s":    30 * time.Second,
		"5m":     5 * time.Minute,
		"1h":     time.Hour,
		"1h30m":  90 * time.Minute,
		"2h3m4s": 2*time.Hour + 3*time.Minute + 4*time.Second,
		"1m30s":  90 * time.Second,
		"90":     90 * time.Second,
		"0":      0,
		"1.5":    1500 * time.Millisecond,
		"250ms":  250 * time.Millisecond,
		"1.5s":   1500 * time.Millisecond,
		" 10s ":  10 * time.Second,
	} {
		got, err := locust.ParseTimespan(in)
		if assert.NoError(t, err, in) {
			assert.Equal(t, want, got, in)
		}
	}
	for _, in := range []string{"", " ", "abc", "-5", "-1s", "5x", "1m30", "s", "h1", "1d"} {
		_, err := locust.ParseTimespan(in)
		assert.Error(t, err, "%q", in)
	}
}

func TestCommandHeadlessNote(t *testing.T) {
	for _, tc := range []struct {
		args []string
		env  map[string]string
		note bool
	}{
		{nil, nil, true},
		{[]string{"--headless"}, nil, false},
		{[]string{"--no-web"}, nil, false},
		{[]string{"--autostart"}, nil, false},
		{nil, map[string]string{"LOCUST_HEADLESS": "true"}, false},
	} {
		res := runCmd(t, &locust.Command{Users: []*locust.UserType{idleUser("U")}, Setup: stopAtOnce}, tc.env, tc.args...)
		require.Equal(t, 0, res.code, res.stderr)
		assert.Equal(t, tc.note, strings.Contains(res.stderr, "no web UI"), "%v %v", tc.args, tc.env)
	}
}

func TestCommandExitCodeOnError(t *testing.T) {
	failing := &locust.UserType{Name: "F", Tasks: locust.NewTaskSet("f").Task(1, func(_ context.Context, u *locust.User) error {
		u.RecordFailure("GET", "/broken", time.Millisecond, nil)
		return nil
	})}
	raising := &locust.UserType{Name: "R", Tasks: locust.NewTaskSet("r").Task(1, func(context.Context, *locust.User) error {
		return os.ErrPermission
	})}
	for _, tc := range []struct {
		user *locust.UserType
		args []string
		env  map[string]string
		code int
	}{
		{failing, nil, nil, 1},
		{failing, []string{"--exit-code-on-error", "3"}, nil, 3},
		{failing, []string{"--exit-code-on-error", "0"}, nil, 0},
		{failing, nil, map[string]string{"LOCUST_EXIT_CODE_ON_ERROR": "4"}, 4},
		{raising, nil, nil, 1},
		{fastUser("OK"), []string{"--exit-code-on-error", "3"}, nil, 0},
	} {
		args := append([]string{"--headless", "-i", "3", "--only-summary"}, tc.args...)
		res := runCmd(t, &locust.Command{Users: []*locust.UserType{tc.user}}, tc.env, args...)
		assert.Equal(t, tc.code, res.code, "%s %v %v: %s", tc.user.Name, tc.args, tc.env, res.stderr)
		if tc.user == failing {
			assert.Contains(t, res.stdout, "Error report")
			assert.Contains(t, res.stdout, "GET /broken: unknown error")
		}
	}
}

func TestCommandListVersionHelp(t *testing.T) {
	users := []*locust.UserType{idleUser("WebsiteUser"), idleUser("MobileUser")}
	for _, a := range []string{"-l", "--list"} {
		res := runCmd(t, &locust.Command{Users: users}, nil, a)
		assert.Equal(t, 0, res.code)
		assert.Equal(t, "Available Users:\n    WebsiteUser\n    MobileUser\n", res.stdout, "Locust 2.12.1's layout")
	}
	for _, a := range []string{"-V", "--version"} {
		res := runCmd(t, &locust.Command{Users: users}, nil, a)
		assert.Equal(t, 0, res.code)
		assert.Equal(t, "golocust "+locust.Version+"\n", res.stdout)
	}
	for _, a := range []string{"-h", "--help"} {
		res := runCmd(t, &locust.Command{Users: users}, nil, a)
		assert.Equal(t, 0, res.code)
		for _, want := range []string{"Usage: loadtest [options] [UserType ...]",
			"-u, --users N", "-c, --clients N", "-r, --spawn-rate RATE", "--hatch-rate RATE",
			"-t, --run-time TIME", "-H, --host URL", "--headless", "--no-web", "-i, --iterations N",
			"-n, --num-request N", "-s, --stop-timeout TIME", "--only-summary", "--print-stats", "--reset-stats",
			"-T, --tags", "-E, --exclude-tags", "-L, --loglevel", "--exit-code-on-error", "-l, --list", "-V, --version",
			"[env LOCUST_USERS]", "[env LOCUST_RUN_TIME]"} {
			assert.Contains(t, res.stdout, want)
		}
	}
	res := runCmd(t, &locust.Command{Users: users}, nil, "--show-task-ratio")
	assert.Equal(t, 0, res.code)
	assert.Contains(t, res.stdout, "\n Task ratio per User class\n"+strings.Repeat("-", 80)+"\n 50.0       WebsiteUser")
}

func TestCommandBadInput(t *testing.T) {
	for _, tc := range []struct {
		args []string
		env  map[string]string
		want []string
	}{
		{[]string{"--bogus"}, nil, []string{"bogus"}},
		{[]string{"-u", "many"}, nil, []string{"-u", "many"}},
		{[]string{"--users", "-3"}, nil, []string{"--users", "-3"}},
		{[]string{"-r", "0"}, nil, []string{"--spawn-rate"}},
		{[]string{"-t", "5x"}, nil, []string{"-t", "5x"}},
		{[]string{"--run-time", "-1s"}, nil, []string{"run-time", "negative"}},
		{[]string{"-i", "-1"}, nil, []string{"--iterations"}},
		{[]string{"-n", "-1"}, nil, []string{"--num-request"}},
		{[]string{"-L", "LOUD"}, nil, []string{"--loglevel", "LOUD"}},
		{[]string{"--exit-code-on-error", "x"}, nil, []string{"exit-code-on-error"}},
		{nil, map[string]string{"LOCUST_USERS": "lots"}, []string{"LOCUST_USERS", "--users", "lots"}},
		{nil, map[string]string{"LOCUST_RUN_TIME": "soon"}, []string{"LOCUST_RUN_TIME", "--run-time"}},
		{nil, map[string]string{"LOCUST_HEADLESS": "maybe"}, []string{"LOCUST_HEADLESS", "--headless"}},
		{[]string{"Nobody"}, nil, []string{`unknown user type "Nobody"`}},
	} {
		res := runCmd(t, &locust.Command{Users: []*locust.UserType{idleUser("U")}, Setup: stopAtOnce}, tc.env, tc.args...)
		assert.Equal(t, locust.ExitUsage, res.code, "%v %v", tc.args, tc.env)
		assert.Equal(t, 1, strings.Count(res.stderr, "\n"), "one line: %q", res.stderr)
		assert.True(t, strings.HasPrefix(res.stderr, "loadtest: error: "), res.stderr)
		for _, w := range tc.want {
			assert.Contains(t, res.stderr, w, "%v %v", tc.args, tc.env)
		}
		assert.Nil(t, res.runner, "no test starts")
	}

	// a bad definition is a usage error too, on one line
	res := runCmd(t, &locust.Command{Users: []*locust.UserType{{Name: "Empty", Tasks: locust.NewTaskSet("none")}, {Name: "Bad"}}}, nil)
	assert.Equal(t, locust.ExitUsage, res.code)
	assert.Equal(t, 1, strings.Count(res.stderr, "\n"), res.stderr)
	assert.Contains(t, res.stderr, `"Empty"`)
	assert.Contains(t, res.stderr, `"Bad"`)
}

func TestCommandSelectsUserTypes(t *testing.T) {
	a, b, c := idleUser("A"), idleUser("B"), idleUser("C")
	res := runCmd(t, &locust.Command{Users: []*locust.UserType{a, b, c}, Setup: stopAtOnce}, nil, "C", "A")
	require.Equal(t, 0, res.code, res.stderr)
	assert.Equal(t, []*locust.UserType{c, a}, res.runner.UserTypes())

	res = runCmd(t, &locust.Command{Users: []*locust.UserType{a, b, c}, Setup: stopAtOnce}, nil, "-u", "3", "D")
	assert.Equal(t, locust.ExitUsage, res.code)
	assert.Contains(t, res.stderr, `"D"`)
}

func TestCommandOwnFlags(t *testing.T) {
	fs := flag.NewFlagSet("shop", flag.ContinueOnError)
	product := fs.String("product-id", "1", "the `ID` of the product to view")
	verbose := fs.Bool("verbose", false, "say more")
	res := runCmd(t, &locust.Command{Flags: fs, Users: []*locust.UserType{idleUser("U")}, Setup: stopAtOnce}, nil,
		"--product-id", "42", "-u", "2", "--verbose")
	require.Equal(t, 0, res.code, res.stderr)
	assert.Equal(t, "42", *product)
	assert.True(t, *verbose)
	assert.Equal(t, 2, res.runner.Config().Users)

	fs = flag.NewFlagSet("shop", flag.ContinueOnError)
	fs.String("product-id", "1", "the `ID` of the product to view")
	res = runCmd(t, &locust.Command{Flags: fs, Users: []*locust.UserType{idleUser("U")}}, nil, "-h")
	assert.Equal(t, 0, res.code)
	assert.Contains(t, res.stdout, "More options:")
	assert.Contains(t, res.stdout, "--product-id ID")
}

// The command of the talk: old flag names, stop after 1000 requests.
func TestCommandTalkCommandLine(t *testing.T) {
	res := runCmd(t, &locust.Command{Users: []*locust.UserType{fastUser("Fast")}}, nil,
		"--no-web", "-c", "100", "-r", "10", "-n", "1000", "--print-stats")
	require.Equal(t, 0, res.code, res.stderr)
	require.NotNil(t, res.runner)
	assert.Equal(t, "requests", res.runner.StopReason())
	n := res.runner.Snapshot().Total.Requests
	assert.GreaterOrEqual(t, n, int64(1000))
	assert.LessOrEqual(t, n, int64(1100), "stops near 1000 requests")
	assert.Contains(t, res.stdout, "Aggregated")
	assert.Contains(t, res.stdout, "Response time percentiles")
}

func TestCommandPeriodicTable(t *testing.T) {
	user := &locust.UserType{Name: "U", Wait: locust.Constant(50 * time.Millisecond), Tasks: locust.NewTaskSet("t").Task(1, func(_ context.Context, u *locust.User) error {
		u.RecordSuccess("GET", "/", time.Millisecond, 0)
		return nil
	})}
	for _, tc := range []struct {
		flag   string
		tables int
	}{{"--print-stats", 2}, {"--only-summary", 1}} {
		t.Run(tc.flag, func(t *testing.T) {
			t.Parallel()
			res := runCmd(t, &locust.Command{Users: []*locust.UserType{user}}, nil, "--headless", "-u", "2", "-r", "100", "-t", "2500ms", tc.flag)
			require.Equal(t, 0, res.code, res.stderr)
			// each stats table has one header with "failures/s"
			assert.Equal(t, tc.tables, strings.Count(res.stdout, "failures/s"), res.stdout)
			assert.Equal(t, 1, strings.Count(res.stdout, "Response time percentiles"))
		})
	}
}

func TestCommandStopsOnSignal(t *testing.T) {
	var stopped atomic.Bool
	c := &locust.Command{
		Users:   []*locust.UserType{idleUser("U")},
		Signals: []os.Signal{syscall.SIGUSR1},
		Setup: func(_ context.Context, r *locust.Runner) error {
			r.Events().TestStop.Add(func(*locust.Runner) { stopped.Store(true) })
			r.Events().SpawningComplete.Add(func(int) {
				go func() {
					time.Sleep(time.Second)
					_ = syscall.Kill(os.Getpid(), syscall.SIGUSR1)
				}()
			})
			return nil
		},
	}
	t0 := time.Now()
	res := runCmd(t, c, nil, "--headless", "-u", "2", "-r", "100", "-t", "30s", "--only-summary")
	assert.Less(t, time.Since(t0), 25*time.Second, "the signal stopped the test")
	assert.Equal(t, 0, res.code, res.stderr)
	assert.True(t, stopped.Load())
	assert.Contains(t, res.stdout, "Aggregated")
	assert.Contains(t, res.stdout, "Response time percentiles")
}

// A stop signal stops the test like Runner.Stop: --stop-timeout lets the
// running task finish.
func TestCommandSignalRespectsStopTimeout(t *testing.T) {
	var sent atomic.Bool
	var finished, cancelled atomic.Int64
	user := &locust.UserType{Name: "U", Wait: locust.Constant(time.Minute),
		Tasks: locust.NewTaskSet("t").Task(1, func(ctx context.Context, _ *locust.User) error {
			if !sent.Swap(true) {
				_ = syscall.Kill(os.Getpid(), syscall.SIGUSR1)
			}
			select {
			case <-time.After(300 * time.Millisecond):
				finished.Add(1)
			case <-ctx.Done():
				cancelled.Add(1)
			}
			return nil
		})}
	res := runCmd(t, &locust.Command{Users: []*locust.UserType{user}, Signals: []os.Signal{syscall.SIGUSR1}}, nil,
		"--headless", "-t", "30s", "--stop-timeout", "5s", "--only-summary")
	assert.Equal(t, 0, res.code, res.stderr)
	assert.EqualValues(t, 1, finished.Load(), "the task finished within the stop timeout")
	assert.Zero(t, cancelled.Load())
	assert.Equal(t, "stopped", res.runner.StopReason())
	assert.Contains(t, res.stdout, "Aggregated")
}

// The Report hook lets a program add its own data to the final report, and
// Quitting fires once, after the summary, before Run returns.
func TestReportAndQuittingHooks(t *testing.T) {
	var quitting atomic.Int32
	var report *locust.ReportData
	c := &locust.Command{Users: []*locust.UserType{fastUser("U")}, Setup: func(_ context.Context, r *locust.Runner) error {
		r.Events().Report.Add(func(d *locust.ReportData) {
			report = d
			d.Add("git_commit", "3f2a9c1")
			d.Add("build", 42)
		})
		r.Events().Quitting.Add(func(*locust.Runner) { quitting.Add(1) })
		return nil
	}}
	res := runCmd(t, c, nil, "--headless", "-i", "50")
	require.Equal(t, 0, res.code, res.stderr)
	assert.EqualValues(t, 1, quitting.Load())
	require.NotNil(t, report)
	require.NotNil(t, report.Snapshot)
	assert.EqualValues(t, 50, report.Snapshot.Total.Requests, "the report sees the final statistics")
	keys, values := report.Extra()
	assert.Equal(t, []string{"git_commit", "build"}, keys)
	assert.Equal(t, map[string]any{"git_commit": "3f2a9c1", "build": 42}, values)
}
