package report

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/golocust/locust"
)

var t0 = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC) // epoch 1704067200

// fixture records known requests on a fake clock and returns the stats and
// their snapshot taken at t0+10s.
func fixture(t *testing.T, opts locust.StatsOptions) (*locust.Stats, *locust.Snapshot) {
	t.Helper()
	now := t0
	opts.Now = func() time.Time { return now }
	st := locust.NewStats(opts)
	rec := func(typ, name string, at, d time.Duration, n int64, err error) {
		st.Record(locust.Request{Type: typ, Name: name, Start: t0.Add(at), Duration: d, Length: n, Err: err})
	}
	rec("GET", "/a", 1*time.Second, 10*time.Millisecond, 100, nil)
	rec("GET", "/a", 2*time.Second, 20*time.Millisecond, 200, nil)
	rec("GET", "/a", 3*time.Second, 30*time.Millisecond, 300, errors.New("HTTP 500, \"oops\""))
	rec("POST", "/b", 4*time.Second, 5*time.Millisecond, 0, nil)
	st.RecordException("panic in task x: boom", "goroutine 1:\nmain.x()\n", "")
	now = t0.Add(10 * time.Second)
	s := st.Snapshot()
	s.UserCount = 7
	return st, s
}

func crlf(lines ...string) string { return strings.Join(lines, "\r\n") + "\r\n" }

func TestStatsCSVGolden(t *testing.T) {
	_, s := fixture(t, locust.StatsOptions{})
	var b bytes.Buffer
	require.NoError(t, WriteStatsCSV(&b, s))
	// /a: 3 requests over 4.005 s (from the start to the aggregate's last
	// request end at t0+4s+5ms), percentiles as whole milliseconds.
	want := crlf(
		"Type,Name,Request Count,Failure Count,Median Response Time,Average Response Time,Min Response Time,Max Response Time,Average Content Size,Requests/s,Failures/s,50%,66%,75%,80%,90%,95%,98%,99%,99.9%,99.99%,100%",
		"GET,/a,3,1,20,20.0,10.0,30.0,200.0,0.7490636704119851,0.24968789013732834,20,20,20,20,30,30,30,30,30,30,30",
		"POST,/b,1,0,5,5.0,5.0,5.0,0.0,0.24968789013732834,0.0,5,5,5,5,5,5,5,5,5,5,5",
		",Aggregated,4,1,10,16.25,5.0,30.0,150.0,0.9987515605493134,0.24968789013732834,10,20,20,20,30,30,30,30,30,30,30",
	)
	assert.Equal(t, want, b.String())
}

func TestStatsHistoryCSVGolden(t *testing.T) {
	_, s := fixture(t, locust.StatsOptions{})
	var b bytes.Buffer
	require.NoError(t, WriteStatsHistoryHeader(&b))
	require.NoError(t, WriteStatsHistoryRows(&b, s, false))
	// Current rates: the window is the last 10 s as of the snapshot at
	// t0+10s (not before the start): 4 requests, 1 failed, in 10 seconds.
	want := crlf(
		"Timestamp,User Count,Type,Name,Requests/s,Failures/s,50%,66%,75%,80%,90%,95%,98%,99%,99.9%,99.99%,100%,Total Request Count,Total Failure Count,Total Median Response Time,Total Average Response Time,Total Min Response Time,Total Max Response Time,Total Average Content Size",
		"1704067210,7,,Aggregated,0.400000,0.100000,10,20,20,20,30,30,30,30,30,30,30,4,1,10,16.25,5.0,30.0,150.0",
	)
	assert.Equal(t, want, b.String())

	// full history: every entry, with current-window percentiles
	_, s = fixture(t, locust.StatsOptions{CurrentPercentiles: true})
	b.Reset()
	require.NoError(t, WriteStatsHistoryRows(&b, s, true))
	want = crlf(
		"1704067210,7,GET,/a,0.300000,0.100000,20,20,20,20,30,30,30,30,30,30,30,3,1,20,20.0,10.0,30.0,200.0",
		"1704067210,7,POST,/b,0.100000,0.000000,5,5,5,5,5,5,5,5,5,5,5,1,0,5,5.0,5.0,5.0,0.0",
		"1704067210,7,,Aggregated,0.400000,0.100000,10,20,20,20,30,30,30,30,30,30,30,4,1,10,16.25,5.0,30.0,150.0",
	)
	assert.Equal(t, want, b.String())
}

func TestFailuresAndExceptionsCSVGolden(t *testing.T) {
	_, s := fixture(t, locust.StatsOptions{})
	var b bytes.Buffer
	require.NoError(t, WriteFailuresCSV(&b, s))
	assert.Equal(t, crlf("Method,Name,Error,Occurrences", `GET,/a,"HTTP 500, ""oops""",1`), b.String())

	b.Reset()
	require.NoError(t, WriteExceptionsCSV(&b, s))
	assert.Equal(t, crlf("Count,Message,Traceback,Nodes", "1,panic in task x: boom,\"goroutine 1:\r\nmain.x()\r\n\",local"), b.String())
}

func TestStatsCSVWithoutRequests(t *testing.T) {
	st := locust.NewStats(locust.StatsOptions{Now: func() time.Time { return t0 }})
	var b bytes.Buffer
	require.NoError(t, WriteStatsCSV(&b, st.Snapshot()))
	lines := strings.Split(strings.TrimSuffix(b.String(), "\r\n"), "\r\n")
	require.Len(t, lines, 2)
	assert.Equal(t, ",Aggregated,0,0,0,0,0,0,0,0.0,0.0,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A", lines[1])

	b.Reset()
	require.NoError(t, WriteStatsHistoryRows(&b, st.Snapshot(), true))
	assert.Equal(t, crlf("1704067200,0,,Aggregated,0.000000,0.000000,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,0,0,0,0,0,0,0"), b.String())
}

func TestPyFloat(t *testing.T) {
	for f, want := range map[float64]string{
		0: "0.0", 12: "12.0", 7.4: "7.4", 0.901183477111169: "0.901183477111169",
		1234567: "1234567.0", 1e16: "1e+16", 1.5e-5: "1.5e-05", 0.0001: "0.0001", -2.5: "-2.5",
	} {
		assert.Equal(t, want, pyFloat(f), "%v", f)
	}
}

func TestBucketMS(t *testing.T) {
	// Python's round is half to even: 145 -> 140, 155 -> 160, 0.5 -> 0.
	for in, want := range map[float64]int64{
		0.4: 0, 0.5: 0, 1.5: 2, 99.4: 99, 99.5: 100, 145: 140, 155: 160, 145.2: 150,
		999: 1000, 1250: 1200, 1350: 1400, 12500: 12000, 13500: 14000,
	} {
		assert.Equal(t, want, BucketMS(in), "%v", in)
	}
}
