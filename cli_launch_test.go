package locust_test

import (
	"context"
	"errors"
	"flag"
	"io"
	"os"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/golocust/locust"
)

// fakeLauncher starts the tests in plan, one per Launch, then quits.
type fakeLauncher struct {
	plan      []locust.Config
	mu        sync.Mutex
	autostart []bool
	started   []locust.Config
	stopped   []*locust.Snapshot
	runners   []*locust.Runner
	closed    int
	wait      chan struct{} // if set, Launch waits on it or ctx after the plan
}

func (f *fakeLauncher) Flags(*flag.FlagSet) {}
func (f *fakeLauncher) Start(_ context.Context, r *locust.Runner, _ io.Writer) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.started = append(f.started, r.Config())
	f.runners = append(f.runners, r)
	return nil
}
func (f *fakeLauncher) Stop(_ context.Context, _ *locust.Runner, final *locust.Snapshot, _ io.Writer) (locust.Verdict, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.stopped = append(f.stopped, final)
	return locust.Verdict{}, nil
}
func (f *fakeLauncher) Launch(ctx context.Context, cfg *locust.Config, autostart bool) (bool, error) {
	f.mu.Lock()
	f.autostart = append(f.autostart, autostart)
	i := len(f.autostart) - 1
	f.mu.Unlock()
	if i < len(f.plan) {
		p := f.plan[i]
		cfg.Users, cfg.RunTime = p.Users, p.RunTime
		if p.Host != "" {
			cfg.Host = p.Host
		}
		return true, nil
	}
	if f.wait != nil {
		close(f.wait)
		<-ctx.Done()
	}
	return false, nil
}
func (f *fakeLauncher) Close() error { f.closed++; return nil }

func TestLauncherRunsEachTestWithANewRunner(t *testing.T) {
	f := &fakeLauncher{plan: []locust.Config{
		{Users: 2, RunTime: 300 * time.Millisecond, Host: "http://127.0.0.1:1"},
		{Users: 3, RunTime: 300 * time.Millisecond},
	}}
	res := runCmd(t, &locust.Command{Users: []*locust.UserType{fastUser("U")}, Extensions: []locust.Extension{f}}, nil, "-u", "9", "--only-summary")
	assert.Equal(t, 0, res.code, res.stderr)
	assert.Equal(t, []bool{false, false, false}, f.autostart, "two tests, then the launcher quits")
	require.Len(t, f.started, 2)
	assert.Equal(t, 2, f.started[0].Users)
	assert.Equal(t, 3, f.started[1].Users)
	assert.Equal(t, "http://127.0.0.1:1", f.started[1].Host, "the previous test's values carry over")
	assert.NotSame(t, f.runners[0], f.runners[1], "a Runner runs once: each test has its own")
	require.Len(t, f.stopped, 2, "every test ends with the extensions' Stop")
	assert.Positive(t, f.stopped[1].Total.Requests)
	assert.Equal(t, 1, f.closed)
	assert.NotContains(t, res.stderr, "no web UI")
	assert.Contains(t, res.stderr, "users=3")
}

func TestLauncherAutostartAndHeadless(t *testing.T) {
	f := &fakeLauncher{plan: []locust.Config{{Users: 1, RunTime: 100 * time.Millisecond}}}
	res := runCmd(t, &locust.Command{Users: []*locust.UserType{fastUser("U")}, Extensions: []locust.Extension{f}}, nil, "--autostart", "--only-summary")
	assert.Equal(t, 0, res.code, res.stderr)
	assert.Equal(t, []bool{true, false}, f.autostart, "only the first test autostarts")

	f = &fakeLauncher{}
	res = runCmd(t, &locust.Command{Users: []*locust.UserType{fastUser("U")}, Extensions: []locust.Extension{f}}, nil, "--headless", "-t", "100ms", "--only-summary")
	assert.Equal(t, 0, res.code, res.stderr)
	assert.Empty(t, f.autostart, "headless: no launcher")
	assert.Len(t, f.started, 1)
	assert.Zero(t, f.closed)
}

func TestLauncherQuitsOnSignalWhileWaiting(t *testing.T) {
	f := &fakeLauncher{plan: []locust.Config{{Users: 1, RunTime: 100 * time.Millisecond}}, wait: make(chan struct{})}
	go func() {
		<-f.wait
		_ = syscall.Kill(os.Getpid(), syscall.SIGUSR1)
	}()
	res := runCmd(t, &locust.Command{Users: []*locust.UserType{fastUser("U")}, Extensions: []locust.Extension{f}, Signals: []os.Signal{syscall.SIGUSR1}}, nil, "--only-summary")
	assert.Equal(t, 0, res.code, "the last test's code")
	assert.Contains(t, res.stderr, "quitting on signal")
	assert.Equal(t, 1, f.closed)
}

// failingStart is an extension whose Start fails.
type failingStart struct{}

func (failingStart) Flags(*flag.FlagSet) {}
func (failingStart) Start(context.Context, *locust.Runner, io.Writer) error {
	return errors.New("cannot read the baseline")
}
func (failingStart) Stop(context.Context, *locust.Runner, *locust.Snapshot, io.Writer) (locust.Verdict, error) {
	return locust.Verdict{}, nil
}

func TestLauncherEndsWhenATestCannotStart(t *testing.T) {
	f := &fakeLauncher{plan: []locust.Config{{Users: 1}, {Users: 1}, {Users: 1}}}
	res := runCmd(t, &locust.Command{Users: []*locust.UserType{fastUser("U")}, Extensions: []locust.Extension{f, failingStart{}}}, nil, "--only-summary")
	assert.Equal(t, locust.ExitUsage, res.code)
	assert.Contains(t, res.stderr, "cannot read the baseline")
	assert.Len(t, f.autostart, 1, "no second Launch: the program ends")
	assert.Equal(t, 1, f.closed)
}
