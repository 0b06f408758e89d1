package locust_test

import (
	"context"
	"flag"
	"io"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/golocust/locust"
)

// fakeDriver merges one remote report and ends the test, as a master does.
type fakeDriver struct {
	on       bool
	gotCfg   locust.Config
	localN   int
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
func (d *fakeDriver) Drive(_ context.Context, r *locust.Runner, cfg locust.Config, _ []*locust.UserType) {
	d.gotCfg = cfg
	time.Sleep(50 * time.Millisecond)
	d.localN = r.UserCount()
	r.Stats().Merge([]locust.RemoteEntry{{Type: "GET", Name: "/remote", Requests: 4, Failures: 1,
		TotalTime: 8 * time.Millisecond, Min: time.Millisecond, Max: 3 * time.Millisecond,
		Buckets: map[int64]int64{1: 2, 2: 1, 3: 1}}}, nil)
	r.StopWith("run time")
	<-r.Stopping()
	time.Sleep(50 * time.Millisecond) // a final report after the stop still counts
	r.Stats().Merge([]locust.RemoteEntry{{Type: "GET", Name: "/remote", Requests: 1, Min: time.Millisecond, Max: time.Millisecond, Buckets: map[int64]int64{1: 1}}}, nil)
	d.driveEnd = time.Now()
}

// A Driver runs the test through the usual path: no local user, the
// extensions' Start and Stop, and a summary that holds what it merged,
// including what it merged after the stop.
func TestDriverRunsThroughTheSummary(t *testing.T) {
	d := &fakeDriver{}
	c := &locust.Command{Users: []*locust.UserType{fastUser("A")}, Extensions: []locust.Extension{d}}
	res := runCmd(t, c, nil, "--headless", "--fake-master", "-u", "7", "-r", "2", "-t", "1h")
	assert.Equal(t, 1, res.code, res.stderr) // a merged failure: --exit-code-on-error
	assert.True(t, d.started)
	assert.Equal(t, 7, d.gotCfg.Users)
	assert.Equal(t, time.Hour, d.gotCfg.RunTime)
	assert.Equal(t, 0, d.localN)
	require.NotNil(t, d.final)
	assert.Equal(t, int64(5), d.final.Total.Requests)
	assert.Equal(t, int64(1), d.final.Total.Failures)
	assert.True(t, d.stopAt.After(d.driveEnd))
	assert.Contains(t, res.stdout, "/remote")
	_, ok := d.final.Entry("GET", "/")
	assert.False(t, ok, "no local user ran")
}
