package locust_test

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/golocust/locust"
)

// Response times from a minute to an hour keep 3 significant digits: the
// histogram range is one hour by default, not 60 s.
func TestHistogramRangeOneHour(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	const n = 2000
	s := locust.NewStats(locust.StatsOptions{})
	rc := s.Recorder()
	samples := make([]time.Duration, n)
	for i := range samples {
		// log-uniform over 1 min .. 1 h
		d := time.Duration(math.Exp(math.Log(60)+rng.Float64()*math.Log(60)) * float64(time.Second))
		samples[i] = d
		rc.Record(locust.Request{Type: "JOB", Name: "batch", Duration: d})
	}
	slices.Sort(samples)
	e, ok := s.Snapshot().Entry("JOB", "batch")
	require.True(t, ok)
	assert.Equal(t, samples[n-1], e.Max)
	for _, p := range locust.Percentiles {
		got, _ := e.Percentile(p)
		ref := samples[hdrRank(p, n)-1]
		assert.InDelta(t, float64(ref), float64(got), float64(ref)*0.001+float64(time.Microsecond), "p%g: got %s, want %s", p, got, ref)
	}
	h := s.Histogram("JOB", "batch")
	require.NotNil(t, h)
	assert.InDelta(t, float64(samples[n-1]/time.Microsecond), float64(h.Max()), float64(samples[n-1]/time.Microsecond)*0.001)
}

// A 120 s request reads p100 = 120 s, from the histogram as well as from
// the exact values of a small entry.
func TestLongRequestPercentiles(t *testing.T) {
	for _, n := range []int{10, 500} { // 500: past the exact values, in the histogram
		s := locust.NewStats(locust.StatsOptions{})
		for range n {
			s.Record(locust.Request{Type: "GET", Name: "/long", Duration: 120 * time.Second})
		}
		s.Record(locust.Request{Type: "GET", Name: "/long", Duration: 100 * time.Millisecond})
		e, ok := s.Snapshot().Entry("GET", "/long")
		require.True(t, ok)
		for _, p := range []float64{50, 90, 99, 100} {
			got, _ := e.Percentile(p)
			assert.InDelta(t, float64(120*time.Second), float64(got), float64(120*time.Second)*0.001, "n=%d p%g: %s", n, p, got)
		}
		h := s.Histogram("GET", "/long")
		assert.InDelta(t, float64(120_000_000), float64(h.ValueAtPercentile(100)), 120_000, "n=%d", n)
		assert.EqualValues(t, n+1, h.TotalCount())
	}
}

// Above StatsOptions.HistogramMax a response time is counted in the top
// bucket: Max and p100 stay exact, no percentile exceeds Max.
func TestHistogramMaxClamps(t *testing.T) {
	s := locust.NewStats(locust.StatsOptions{HistogramMax: time.Minute})
	for i := range 300 {
		d := time.Second
		if i%3 == 0 {
			d = 2 * time.Minute
		}
		s.Record(locust.Request{Type: "GET", Name: "/x", Duration: d})
	}
	e, _ := s.Snapshot().Entry("GET", "/x")
	assert.Equal(t, 2*time.Minute, e.Max)
	p100, _ := e.Percentile(100)
	assert.Equal(t, 2*time.Minute, p100)
	p50, _ := e.Percentile(50)
	assert.InDelta(t, float64(time.Second), float64(p50), float64(time.Millisecond))
	p99, _ := e.Percentile(99)
	assert.InDelta(t, float64(time.Minute), float64(p99), float64(time.Minute)*0.001, "clamped into the top bucket")
	h := s.Histogram("GET", "/x")
	assert.LessOrEqual(t, h.Max(), int64(time.Minute/time.Microsecond)*1001/1000)
}

// The whole-run percentiles and the current ones stay within the exact
// min and max of the same requests, also when the extremes are not on a
// microsecond boundary and the values are in the histogram.
func TestPercentilesWithinExactExtremes(t *testing.T) {
	clock := time.Unix(1_700_000_000, 0)
	for _, n := range []int{2, 400} {
		now := clock.Add(-10 * time.Second)
		s := locust.NewStats(locust.StatsOptions{CurrentPercentiles: true, Now: func() time.Time { return now }})
		lo, hi := 1234567*time.Nanosecond, 2345678*time.Nanosecond
		for i := range n {
			d := lo
			if i%2 == 1 {
				d = hi
			}
			s.Record(locust.Request{Type: "GET", Name: "/m", Start: clock.Add(-3 * time.Second), Duration: d})
		}
		// one more at the end (with the min), so that a window lagging
		// behind now would hold the requests above as well
		s.Record(locust.Request{Type: "GET", Name: "/marker", Start: clock, Duration: lo})
		now = clock.Add(500 * time.Millisecond)
		snap := s.Snapshot()
		e, ok := snap.Entry("GET", "/m")
		require.True(t, ok)
		for _, row := range []locust.EntryStats{e, snap.Total} {
			require.Len(t, row.CurrentPercentileValues, len(row.PercentileList), row.Name)
			for i, p := range row.PercentileList {
				for what, v := range map[string]time.Duration{"whole-run": row.PercentileValues[i], "current": row.CurrentPercentileValues[i]} {
					assert.GreaterOrEqual(t, v, lo, "n=%d %s %s p%g", n, row.Name, what, p)
					assert.LessOrEqual(t, v, hi, "n=%d %s %s p%g", n, row.Name, what, p)
				}
			}
			cur50, _ := row.CurrentPercentile(50)
			assert.Equal(t, lo, cur50, "n=%d %s: current p50 is the exact min", n, row.Name)
			cur100, _ := row.CurrentPercentile(100)
			assert.Equal(t, hi, cur100, "n=%d %s: current p100 is the exact max", n, row.Name)
		}
	}
}

// A negative duration is a client's bug: an exception naming the entry and
// the duration, and no request in the entries.
func TestNegativeDurationIsAnException(t *testing.T) {
	s := locust.NewStats(locust.StatsOptions{})
	s.Record(locust.Request{Type: "GET", Name: "/neg", Duration: -5 * time.Millisecond})
	rc := s.Recorder()
	rc.Record(locust.Request{Type: "POST", Name: "/neg", Duration: -time.Second, Start: time.Now()})
	rc.Record(locust.Request{Type: "GET", Name: "/ok", Duration: time.Millisecond})
	s.Record(locust.Request{Type: "GET", Name: "/neg", Duration: -7 * time.Millisecond}) // same row
	snap := s.Snapshot()
	_, ok := snap.Entry("GET", "/neg")
	assert.False(t, ok, "no entry for a negative duration")
	assert.EqualValues(t, 1, snap.Total.Requests)
	assert.Equal(t, time.Millisecond, snap.Total.Min)
	require.Len(t, snap.Exceptions, 2)
	assert.Equal(t, `negative response time recorded for GET "/neg" (the first: -5ms): not counted in the statistics`, snap.Exceptions[0].Message)
	assert.EqualValues(t, 2, snap.Exceptions[0].Count)
	assert.Contains(t, snap.Exceptions[1].Message, `POST "/neg" (the first: -1s)`)
	assert.EqualValues(t, 1, snap.Exceptions[1].Count)
}

// The running sum of response times does not overflow: 2^63 ns (292
// years) is reached on a long soak at a high rate.
func TestTotalTimeDoesNotOverflow(t *testing.T) {
	s := locust.NewStats(locust.StatsOptions{})
	d := time.Duration(math.MaxInt64/2 - 7) // three of them pass the old limit
	for range 3 {
		s.Record(locust.Request{Type: "GET", Name: "/soak", Duration: d})
	}
	e, _ := s.Snapshot().Entry("GET", "/soak")
	assert.EqualValues(t, 3, e.Requests)
	assert.Equal(t, time.Duration(math.MaxInt64), e.TotalTime, "saturated, not wrapped")
	assert.InDelta(t, 3*d.Seconds(), e.TotalSeconds, 1e-6*d.Seconds())
	assert.InDelta(t, float64(d), float64(e.Avg()), float64(d)*1e-9)
	assert.Equal(t, d, e.Max)

	// just below the old limit the sum is still exact
	s = locust.NewStats(locust.StatsOptions{})
	s.Record(locust.Request{Type: "GET", Name: "/soak", Duration: d})
	s.Record(locust.Request{Type: "GET", Name: "/soak", Duration: d})
	e, _ = s.Snapshot().Entry("GET", "/soak")
	assert.Equal(t, 2*d, e.TotalTime)
	assert.Equal(t, d, e.Avg())
}

// An entry keeps its first values exactly, then in a packed histogram,
// then in a full one: at every size the percentiles agree with the sorted
// values within 3 significant digits, and the histogram holds them all.
func TestPercentilesAtEverySize(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, n := range []int{1, 10, 64, 65, 500, 4096, 4097, 20000} {
		s := locust.NewStats(locust.StatsOptions{})
		samples := make([]time.Duration, n)
		for i := range samples {
			// log-uniform over 100 µs .. 10 s
			samples[i] = time.Duration(math.Exp(math.Log(1e5)+rng.Float64()*math.Log(1e5)) * float64(time.Nanosecond))
			s.Record(locust.Request{Type: "GET", Name: "/s", Duration: samples[i]})
		}
		slices.Sort(samples)
		e, _ := s.Snapshot().Entry("GET", "/s")
		require.EqualValues(t, n, e.Requests)
		for _, p := range locust.Percentiles {
			got, _ := e.Percentile(p)
			ref := samples[hdrRank(p, n)-1]
			assert.InDelta(t, float64(ref), float64(got), float64(ref)*0.001+float64(time.Microsecond), "n=%d p%g", n, p)
		}
		assert.EqualValues(t, n, s.Histogram("GET", "/s").TotalCount(), "n=%d", n)
	}
}
