package shape_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	locust "github.com/golocust/locust"
	"github.com/golocust/locust/shape"
)

// openCommand runs the command line with the shape extension; it returns
// the exit code, the runner and the report data.
func openCommand(t *testing.T, typ *locust.UserType, args ...string) (int, *locust.Runner, *locust.ReportData, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	var r *locust.Runner
	var rd *locust.ReportData
	cmd := command(&out, &errOut, func(rr *locust.Runner) {
		r = rr
		rr.Events().Report.Add(func(d *locust.ReportData) { rd = d })
	}, shape.NewExtension(nil))
	if typ != nil {
		cmd.Users = []*locust.UserType{typ}
	}
	code := cmd.Run(context.Background(), append([]string{"--headless", "--only-summary"}, args...))
	return code, r, rd, out.String() + errOut.String()
}

// --arrival-rate 500 -t 10s starts 5,000 ± 2% iterations (one request
// each), whatever -u says.
func TestCommandArrivalRate(t *testing.T) {
	if testing.Short() {
		t.Skip("10 s")
	}
	code, r, rd, out := openCommand(t, nil, "-u", "3", "--arrival-rate", "500", "--max-users", "50", "-t", "10s")
	require.Equal(t, 0, code, out)
	s := r.Snapshot()
	assert.InDelta(t, 5000, float64(s.Total.Requests), 100, "started iterations")
	assert.InDelta(t, 5000, float64(s.Total.Requests+s.Dropped), 100, "started + dropped")
	assert.LessOrEqual(t, s.Total.Requests+s.Dropped, int64(5000), "none is due at or after the run time")
	require.NotNil(t, rd)
	_, extra := rd.Extra()
	assert.Equal(t, s.Dropped, extra["dropped_iterations"])
	svc, ok := extra["service_time"].(shape.ServiceTime)
	require.True(t, ok, "service_time: %#v", extra["service_time"])
	assert.Equal(t, s.Total.Requests, svc.Requests)
}

// A slow task on few users drops iterations, counted and printed.
func TestCommandArrivalRateDrops(t *testing.T) {
	slow := &locust.UserType{Name: "Slow", Tasks: locust.NewTaskSet("t").Task(1, func(ctx context.Context, u *locust.User) error {
		return u.Measure(ctx, "GET", "/slow", func(ctx context.Context) (int64, error) {
			select {
			case <-time.After(200 * time.Millisecond):
			case <-ctx.Done():
			}
			return 1, nil
		})
	})}
	code, r, rd, out := openCommand(t, slow, "--arrival-rate", "50", "--max-users", "2", "-t", "2s")
	require.Equal(t, 0, code, out)
	s := r.Snapshot()
	assert.Greater(t, s.Dropped, int64(50), "2 users of 200 ms run ~20 of the 100 due")
	assert.InDelta(t, 100, float64(r.Iterations()+s.Dropped), 3)
	assert.Contains(t, out, "iterations were dropped")
	assert.Contains(t, out, "service time from the actual start")
	_, extra := rd.Extra()
	assert.Equal(t, s.Dropped, extra["dropped_iterations"])
	svc, ok := extra["service_time"].(shape.ServiceTime)
	require.True(t, ok)
	assert.InDelta(t, 200, svc.P50Ms, 50, "the service time of a 200 ms request")
	assert.InDelta(t, 200, svc.P99Ms, 100)
}

// --arrival-wait lets the iterations that find no free user wait for one:
// with 2 users of 200 ms at 20/s nothing is dropped, the iterations that
// waited are counted as late, and their latency (from the intended start)
// includes the wait while their service time does not.
func TestCommandArrivalWait(t *testing.T) {
	slow := &locust.UserType{Name: "Slow", Tasks: locust.NewTaskSet("t").Task(1, func(ctx context.Context, u *locust.User) error {
		return u.Measure(ctx, "GET", "/slow", func(ctx context.Context) (int64, error) {
			select {
			case <-time.After(100 * time.Millisecond):
			case <-ctx.Done():
			}
			return 1, nil
		})
	})}
	code, r, rd, out := openCommand(t, slow, "--arrival-rate", "30", "--max-users", "2", "--arrival-wait", "5s", "-t", "2s")
	require.Equal(t, 0, code, out)
	s := r.Snapshot()
	assert.Positive(t, s.Late, "2 users of 100 ms serve 20 of the 30 due each second: the rest wait")
	assert.Contains(t, out, "started late")
	_, extra := rd.Extra()
	assert.Equal(t, s.Late, extra["late_iterations"])
	assert.InDelta(t, 60, float64(r.Iterations()+s.Dropped), 2, "started + dropped is what was due")
	e, ok := s.Entry("GET", "/slow")
	require.True(t, ok)
	svc, ok := extra["service_time"].(shape.ServiceTime)
	require.True(t, ok)
	assert.Greater(t, float64(e.Max)/1e6, svc.MaxMs+200, "the waits show in the latency, not in the service time")
}

// --arrival-rate with --stages makes the targets rates, ramped from the
// arrival rate: 0 to 100 per second over 1 s, held 1 s: 50 + 100 due,
// exactly, and the first at 0.
func TestCommandArrivalRateStages(t *testing.T) {
	start := time.Now()
	code, _, _, out := openCommand(t, nil, "--arrival-rate", "0", "--max-users", "20", "--stages", "1s:100,1s:100")
	assert.Equal(t, 2, code, "--arrival-rate 0 is the closed model: --max-users alone is an error: %s", out)
	code, r, _, out := openCommand(t, nil, "--arrival-rate", "0.001", "--max-users", "20", "--stages", "1s:100,1s:100", "-t", "30s")
	require.Equal(t, 0, code, out)
	assert.Contains(t, out, "load shape ended")
	assert.Less(t, time.Since(start), 5*time.Second)
	got := r.Iterations() + r.Snapshot().Dropped
	assert.InDelta(t, 151, float64(got), 1, "started + dropped: the first at 0, then 50 + 100")
}

func TestCommandArrivalRateBadFlagsExit2(t *testing.T) {
	for _, c := range []struct {
		args []string
		msg  string
	}{
		{[]string{"--arrival-rate", "10"}, "needs --max-users"},
		{[]string{"--max-users", "10"}, "give both"},
		{[]string{"--arrival-rate", "-1", "--max-users", "1"}, "--arrival-rate"},
		{[]string{"--arrival-rate", "10", "--max-users", "1", "--find-capacity"}, "at least one threshold"},
		{[]string{"--arrival-rate", "10", "--max-users", "1", "--find-capacity", "--stages", "1s:20"}, "choose one"},
		{[]string{"--arrival-wait", "1s"}, "give --arrival-rate too"},
		{[]string{"--arrival-rate", "10", "--max-users", "1", "--arrival-wait", "soon"}, "--arrival-wait"},
	} {
		start := time.Now()
		code, _, _, out := openCommand(t, nil, append([]string{"-t", "30s"}, c.args...)...)
		assert.Equal(t, 2, code, "%v: %s", c.args, out)
		assert.Contains(t, out, c.msg, c.args)
		assert.Less(t, time.Since(start), 5*time.Second, "%v: no test ran", c.args)
	}
}
