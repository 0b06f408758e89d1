package locust_test

import (
	"context"
	"flag"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/golocust/locust"
)

// fakeDriver merges one remote report per test and ends the test after
// RunTime (or at once), as a master does; its Remote is a fakeRemote.
type fakeDriver struct {
	on       bool
	rem      *fakeRemote
	mu       sync.Mutex
	connects int
	closes   int
	gotTypes []string
	gotCfg   []locust.Config
	last     []bool
	runners  []*locust.Runner
	localN   []int
	started  bool
	final    *locust.Snapshot
	driveEnd time.Time
	stopAt   time.Time
}

func (d *fakeDriver) Flags(fs *flag.FlagSet) { fs.BoolVar(&d.on, "fake-master", false, "") }
func (d *fakeDriver) Start(context.Context, *locust.Runner, io.Writer) error {
	d.started = true
	return nil
}
func (d *fakeDriver) Stop(_ context.Context, _ *locust.Runner, s *locust.Snapshot, _ io.Writer) (locust.Verdict, error) {
	d.final, d.stopAt = s, time.Now()
	return locust.Verdict{}, nil
}
func (d *fakeDriver) Drives() bool { return d.on }
func (d *fakeDriver) Connect(_ context.Context, _ locust.Config, types []*locust.UserType) (locust.Remote, error) {
	d.connects++
	for _, t := range types {
		d.gotTypes = append(d.gotTypes, t.Name)
	}
	if d.rem == nil {
		d.rem = &fakeRemote{}
	}
	return d.rem, nil
}
func (d *fakeDriver) Close() error { d.closes++; return nil }
func (d *fakeDriver) Drive(_ context.Context, r *locust.Runner, cfg locust.Config, last bool) {
	d.mu.Lock()
	d.gotCfg = append(d.gotCfg, cfg)
	d.last = append(d.last, last)
	d.runners = append(d.runners, r)
	d.mu.Unlock()
	time.Sleep(50 * time.Millisecond)
	d.localN = append(d.localN, int(r.Snapshot().Total.Requests))
	r.Stats().Merge([]locust.RemoteEntry{{Type: "GET", Name: "/remote", Requests: 4, Failures: 1,
		TotalTime: 8 * time.Millisecond, Min: time.Millisecond, Max: 3 * time.Millisecond,
		Buckets: map[int64]int64{1: 2, 2: 1, 3: 1}}}, nil)
	select {
	case <-r.Stopping():
	case <-time.After(cfg.RunTime):
		r.StopWith("run time")
	}
	<-r.Stopping()
	time.Sleep(50 * time.Millisecond) // a final report after the stop still counts
	r.Stats().Merge([]locust.RemoteEntry{{Type: "GET", Name: "/remote", Requests: 1, Min: time.Millisecond, Max: time.Millisecond, Buckets: map[int64]int64{1: 1}}}, nil)
	d.driveEnd = time.Now()
}

// shaper sets the user count in its Start, as a load shape does.
type shaper struct{ n int }

func (s *shaper) Flags(*flag.FlagSet) {}
func (s *shaper) Start(_ context.Context, r *locust.Runner, _ io.Writer) error {
	return r.SetUsers(s.n, 4)
}
func (s *shaper) Stop(context.Context, *locust.Runner, *locust.Snapshot, io.Writer) (locust.Verdict, error) {
	return locust.Verdict{}, nil
}

// A Driver runs the test through the usual path: no local user, the
// extensions' Start and Stop, and a summary that holds what it merged,
// including what it merged after the stop. The runner controls the
// Driver's Remote: -u and an extension's SetUsers (a load shape) reach it,
// and the console's user count is the Remote's.
func TestDriverRunsThroughTheSummary(t *testing.T) {
	d := &fakeDriver{rem: &fakeRemote{}}
	d.rem.users.Store(6)
	c := &locust.Command{Users: []*locust.UserType{fastUser("A")}, Extensions: []locust.Extension{d, &shaper{n: 11}}}
	res := runCmd(t, c, nil, "--headless", "--fake-master", "-u", "7", "-r", "2", "-t", "1s")
	assert.Equal(t, 1, res.code, res.stderr) // a merged failure: --exit-code-on-error
	assert.True(t, d.started)
	assert.Equal(t, 1, d.connects)
	assert.Equal(t, 1, d.closes)
	assert.Equal(t, []string{"A"}, d.gotTypes)
	require.Len(t, d.gotCfg, 1)
	assert.Equal(t, 7, d.gotCfg[0].Users)
	assert.Equal(t, time.Second, d.gotCfg[0].RunTime)
	assert.Equal(t, []bool{true}, d.last, "headless: no test follows")
	assert.Zero(t, d.runners[0].Config().RunTime, "the remote side keeps the clock")
	assert.Same(t, d.rem, d.runners[0].Remote())
	assert.Equal(t, [][2]float64{{7, 2}, {11, 4}}, d.rem.got(), "-u, then the shape's SetUsers")
	assert.Equal(t, []int{0}, d.localN)
	require.NotNil(t, d.final)
	assert.Equal(t, int64(5), d.final.Total.Requests)
	assert.Equal(t, int64(1), d.final.Total.Failures)
	assert.Equal(t, 6, d.final.UserCount, "the summary's users are the remote's")
	assert.True(t, d.stopAt.After(d.driveEnd))
	assert.Contains(t, res.stdout, "/remote")
	assert.Contains(t, res.stderr, `msg="starting test" users=7 spawn_rate=2 run_time=1s`, "the test's run time, kept by the remote side")
	assert.NotContains(t, res.stderr, "all users spawned", "the runner spawns none: the remote side says when its users run")
	_, ok := d.final.Entry("GET", "/")
	assert.False(t, ok, "no local user ran")
}

// With a Launcher (the web UI) the Driver connects once and drives every
// test the Launcher starts, each with a new Runner on the same Remote; it
// is closed once at the end.
func TestDriverUnderALauncher(t *testing.T) {
	d := &fakeDriver{}
	f := &fakeLauncher{plan: []locust.Config{
		{Users: 2, RunTime: 200 * time.Millisecond},
		{Users: 3, RunTime: 200 * time.Millisecond},
	}}
	c := &locust.Command{Users: []*locust.UserType{fastUser("A")}, Extensions: []locust.Extension{f, d}}
	res := runCmd(t, c, nil, "--fake-master", "--only-summary")
	assert.Equal(t, 1, res.code, res.stderr) // merged failures
	assert.Equal(t, 1, d.connects)
	assert.Equal(t, 1, d.closes)
	assert.Equal(t, 1, f.closed)
	assert.Equal(t, []bool{false, false}, d.last, "more tests may follow")
	require.Len(t, d.runners, 2)
	assert.NotSame(t, d.runners[0], d.runners[1])
	for _, r := range d.runners {
		assert.Same(t, d.rem, r.Remote())
	}
	assert.Equal(t, [][2]float64{{2, 1}, {3, 1}}, d.rem.got(), "each test's users go to the remote")
	require.Len(t, f.stopped, 2)
	for _, s := range f.stopped {
		assert.Equal(t, int64(5), s.Total.Requests, "each test reports what was merged into its own runner")
	}
}
