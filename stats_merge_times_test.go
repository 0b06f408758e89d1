package locust_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/golocust/locust"
)

// Times (nanoseconds) are merged as given: percentiles equal those of a
// local recording of the same durations, which rounded millisecond buckets
// cannot give; only Buckets count as rounded requests.
func TestMergeTimesArePrecise(t *testing.T) {
	ds := []time.Duration{1234567, 2345678, 3456789, 45678901, 7654321}
	local := locust.NewStats(locust.StatsOptions{})
	remote := locust.NewStats(locust.StatsOptions{})
	times := map[int64]int64{}
	var sum time.Duration
	for _, d := range ds {
		local.Record(locust.Request{Type: "GET", Name: "/t", Duration: d})
		times[int64(d)]++
		sum += d
	}
	remote.Merge([]locust.RemoteEntry{{
		Type: "GET", Name: "/t", Requests: int64(len(ds)), TotalTime: sum,
		Min: 1234567, Max: 45678901, Times: times,
		Buckets: map[int64]int64{1: 1, 2: 1, 3: 1, 46: 1, 8: 1}, // ignored: Times is set
	}}, nil)
	ls, rs := local.Snapshot(), remote.Snapshot()
	le, _ := ls.Entry("GET", "/t")
	re, ok := rs.Entry("GET", "/t")
	require.True(t, ok)
	assert.Equal(t, le.PercentileValues, re.PercentileValues)
	assert.Zero(t, rs.RoundedRequests)
	var b bytes.Buffer
	locust.PrintPercentiles(&b, rs)
	assert.Contains(t, b.String(), "(ms; HDR histogram, 3 significant digits)\n")

	remote.Merge([]locust.RemoteEntry{{Type: "GET", Name: "/t", Requests: 2, Min: time.Millisecond, Max: time.Millisecond, Buckets: map[int64]int64{1: 2}}}, nil)
	rs = remote.Snapshot()
	assert.Equal(t, int64(2), rs.RoundedRequests)
	b.Reset()
	locust.PrintPercentiles(&b, rs)
	assert.Contains(t, b.String(), "but 2 requests came from Locust's rounded buckets")
	remote.Reset()
	assert.Zero(t, remote.Snapshot().RoundedRequests)
}
