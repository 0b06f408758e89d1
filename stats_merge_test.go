package locust_test

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/golocust/locust"
)

// A merged remote report shows in the snapshot as the same requests
// recorded locally would: counts, times, percentiles, rates and errors.
func TestMergeMatchesLocalRecording(t *testing.T) {
	for _, n := range []int64{3, 64, 100, 10000} { // exact values, then a full histogram
		local := locust.NewStats(locust.StatsOptions{})
		remote := locust.NewStats(locust.StatsOptions{})
		// the second of the report, not before the remote Stats began (a
		// second that ended before it counts in no current window)
		sec := time.Now().Unix()
		buckets := map[int64]int64{}
		var sum time.Duration
		for i := range n {
			ms := []int64{5, 20, 230}[i%3]
			buckets[ms]++
			d := time.Duration(ms) * time.Millisecond
			sum += d
			var err error
			if i%10 == 0 {
				err = errors.New("boom")
			}
			local.Record(locust.Request{Type: "GET", Name: "/a", Duration: d, Length: 7, Err: err})
		}
		fails := (n + 9) / 10
		remote.Merge([]locust.RemoteEntry{{
			Type: "GET", Name: "/a", Requests: n, Failures: fails, TotalTime: sum,
			Min: 5 * time.Millisecond, Max: 230 * time.Millisecond, ContentLength: 7 * n,
			Buckets: buckets, RequestsPerSec: map[int64]int64{sec: n}, FailuresPerSec: map[int64]int64{sec: fails},
		}}, []locust.RemoteError{{Method: "GET", Name: "/a", Text: "boom", Count: fails}})
		ls, rs := local.Snapshot(), remote.Snapshot()
		for _, pair := range [][2]locust.EntryStats{{ls.Total, rs.Total}, {ls.Entries[0], rs.Entries[0]}} {
			l, r := pair[0], pair[1]
			assert.Equal(t, l.Requests, r.Requests, "n=%d %s", n, r.Name)
			assert.Equal(t, l.Failures, r.Failures)
			assert.Equal(t, l.TotalTime, r.TotalTime)
			assert.Equal(t, l.Min, r.Min)
			assert.Equal(t, l.Max, r.Max)
			assert.Equal(t, l.ContentLength, r.ContentLength)
			assert.Equal(t, l.PercentileValues, r.PercentileValues, "n=%d", n)
			assert.Greater(t, r.CurrentRPS, 0.0)
			assert.Greater(t, r.CurrentFailPerSec, 0.0)
		}
		p, ok := rs.Total.CurrentPercentile(50)
		require.True(t, ok)
		lp, _ := ls.Total.CurrentPercentile(50)
		assert.Equal(t, lp, p)
		require.Len(t, rs.Errors, 1)
		assert.Equal(t, locust.ErrorStats{Method: "GET", Name: "/a", Error: "boom", Occurrences: fails},
			locust.ErrorStats{Method: rs.Errors[0].Method, Name: rs.Errors[0].Name, Error: rs.Errors[0].Error, Occurrences: rs.Errors[0].Occurrences})
	}
}

// Reports add up, and merge with requests recorded locally; bad entries are
// skipped.
func TestMergeAddsUp(t *testing.T) {
	s := locust.NewStats(locust.StatsOptions{})
	s.Record(locust.Request{Type: "GET", Name: "/a", Duration: time.Millisecond})
	for range 3 {
		s.Merge([]locust.RemoteEntry{
			{Type: "GET", Name: "/a", Requests: 2, TotalTime: 4 * time.Millisecond, Min: time.Millisecond, Max: 3 * time.Millisecond, Buckets: map[int64]int64{1: 1, 3: 1}},
			{Type: "POST", Name: "/b", Requests: 1, Failures: 1, Buckets: map[int64]int64{10: 1}, Min: 10 * time.Millisecond, Max: 10 * time.Millisecond},
			{Type: "GET", Name: "/bad", Requests: 1, Failures: 2},
			{Type: "GET", Name: "/neg", Requests: -1},
		}, []locust.RemoteError{{Method: "POST", Name: "/b", Text: "e", Count: 1},
			{Method: "GET", Name: "/bad", Text: "refused with its entry", Count: 2}})
	}
	snap := s.Snapshot()
	assert.Equal(t, int64(10), snap.Total.Requests)
	assert.Equal(t, int64(3), snap.Total.Failures)
	a, ok := snap.Entry("GET", "/a")
	require.True(t, ok)
	assert.Equal(t, int64(7), a.Requests)
	assert.Equal(t, 13*time.Millisecond, a.TotalTime)
	_, ok = snap.Entry("GET", "/bad")
	assert.False(t, ok)
	require.Len(t, snap.Errors, 1, "the refused entry's errors are refused too: %+v", snap.Errors)
	assert.Equal(t, int64(3), snap.Errors[0].Occurrences)
	var failures int64
	for _, e := range snap.Errors {
		failures += e.Occurrences
	}
	assert.Equal(t, snap.Total.Failures, failures, "the failures table adds up to the failures")
}
