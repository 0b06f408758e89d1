package locust_test

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/golocust/locust"
)

// hdrRank is the rank (1-based) HDR histograms use for percentile p of n
// samples: round(p/100 × n), at least 1 and at most n.
func hdrRank(p float64, n int) int {
	r := int(p/100*float64(n) + 0.5)
	return min(max(r, 1), n)
}

func TestPercentilesAgreeWithSortedSamples(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	const n = 50000
	s := locust.NewStats(locust.StatsOptions{ExtraPercentiles: []float64{99.5}})
	rc := s.Recorder()
	samples := make([]time.Duration, n)
	var sum time.Duration
	for i := range samples {
		// log-uniform over 1 µs .. 10 s, in whole nanoseconds
		d := time.Duration(math.Exp(rng.Float64()*math.Log(1e7)) * float64(time.Microsecond))
		samples[i] = d
		sum += d
		rc.Record(locust.Request{Type: "GET", Name: "/", Duration: d})
	}
	slices.Sort(samples)
	snap := s.Snapshot()
	e, ok := snap.Entry("GET", "/")
	require.True(t, ok)
	require.EqualValues(t, n, e.Requests)
	assert.Equal(t, samples[0], e.Min, "min is exact")
	assert.Equal(t, samples[n-1], e.Max, "max is exact")
	assert.Equal(t, sum, e.TotalTime)
	assert.Equal(t, sum/n, e.Avg())

	check := func(p float64, got time.Duration) {
		ref := samples[hdrRank(p, n)-1]
		// HDR at 3 significant digits over microseconds: 0.1 % relative
		// plus the truncation to a microsecond.
		tol := float64(ref)*0.001 + float64(time.Microsecond)
		assert.InDelta(t, float64(ref), float64(got), tol, "p%g: got %s, sorted-sample reference %s", p, got, ref)
		assert.LessOrEqual(t, got, e.Max, "p%g above max", p)
		assert.GreaterOrEqual(t, got, e.Min, "p%g below min", p)
	}
	require.Len(t, e.PercentileValues, len(locust.Percentiles)+1)
	for _, p := range append(slices.Clone(locust.Percentiles), 99.5) {
		got, ok := e.Percentile(p)
		require.True(t, ok, "p%g computed", p)
		check(p, got)
	}
	med := e.Median()
	p50, _ := e.Percentile(50)
	assert.Equal(t, p50, med)
	check(50, med)
	p100, _ := e.Percentile(100)
	assert.Equal(t, e.Max, p100, "p100 is the max")
	_, ok = e.Percentile(42)
	assert.False(t, ok, "p42 was not asked for")

	// the aggregate holds the same samples
	for i, p := range snap.Total.PercentileList {
		assert.Equal(t, e.PercentileValues[i], snap.Total.PercentileValues[i], "aggregate p%g", p)
	}
}

func TestPercentilesClampedToMinMax(t *testing.T) {
	s := locust.NewStats(locust.StatsOptions{})
	d := 1234567 * time.Nanosecond // not on a microsecond boundary
	s.Record(locust.Request{Type: "GET", Name: "/one", Duration: d})
	e, ok := s.Snapshot().Entry("GET", "/one")
	require.True(t, ok)
	for i, p := range e.PercentileList {
		assert.Equal(t, d, e.PercentileValues[i], "p%g of a single sample", p)
	}
	assert.Equal(t, d, e.Median())
	assert.Equal(t, d, e.Avg())

	// two samples far apart: every percentile within [min, max]
	s.Record(locust.Request{Type: "GET", Name: "/one", Duration: 9*time.Second + 999999*time.Nanosecond})
	e, _ = s.Snapshot().Entry("GET", "/one")
	for i, p := range e.PercentileList {
		assert.GreaterOrEqual(t, e.PercentileValues[i], e.Min, "p%g", p)
		assert.LessOrEqual(t, e.PercentileValues[i], e.Max, "p%g", p)
	}
}

func TestEmptyStats(t *testing.T) {
	snap := locust.NewStats(locust.StatsOptions{}).Snapshot()
	assert.Empty(t, snap.Entries)
	assert.Equal(t, locust.AggregatedName, snap.Total.Name)
	assert.Zero(t, snap.Total.Requests)
	assert.Zero(t, snap.Total.Avg())
	assert.Zero(t, snap.Total.Median())
	assert.Zero(t, snap.Total.FailRatio())
	assert.Zero(t, snap.Total.CurrentRPS)
	assert.Zero(t, snap.Total.TotalRPS(snap.Total))
}

func TestFailuresGroupedByMethodNameError(t *testing.T) {
	s := locust.NewStats(locust.StatsOptions{})
	rec := func(typ, name string, n int, msg string) {
		for range n {
			var err error
			if msg != "" {
				err = fmt.Errorf("%s", msg) // a new error value each time: grouped by text
			}
			s.Record(locust.Request{Type: typ, Name: name, Duration: time.Millisecond, Length: 10, Err: err})
		}
	}
	rec("GET", "/a", 5, "")
	rec("GET", "/a", 3, "boom")
	rec("GET", "/a", 1, "bang")
	rec("POST", "/a", 2, "boom")
	rec("GET", "/b", 1, "boom")
	snap := s.Snapshot()

	got := make([]string, 0, len(snap.Errors))
	for _, e := range snap.Errors {
		got = append(got, fmt.Sprintf("%s %s %s %d", e.Method, e.Name, e.Error, e.Occurrences))
		assert.False(t, e.FirstSeen.After(e.LastSeen))
	}
	assert.Equal(t, []string{"GET /a boom 3", "POST /a boom 2", "GET /a bang 1", "GET /b boom 1"}, got)

	ga, _ := snap.Entry("GET", "/a")
	assert.EqualValues(t, 9, ga.Requests, "failures count as requests")
	assert.EqualValues(t, 4, ga.Failures)
	assert.InDelta(t, 4.0/9, ga.FailRatio(), 1e-12)
	assert.EqualValues(t, 90, ga.ContentLength)
	assert.InDelta(t, 10, ga.AvgContentLength(), 1e-12)
	assert.EqualValues(t, 12, snap.Total.Requests)
	assert.EqualValues(t, 7, snap.Total.Failures)

	// entries sorted by name, then type
	var names []string
	for _, e := range snap.Entries {
		names = append(names, e.Type+" "+e.Name)
	}
	assert.Equal(t, []string{"GET /a", "POST /a", "GET /b"}, names)
}

func TestExceptionsGroupedByMessage(t *testing.T) {
	s := locust.NewStats(locust.StatsOptions{})
	s.RecordException("KeyError: 'id'", "stack one", "")
	s.RecordException("timeout", "stack two", "worker-1")
	s.RecordException("KeyError: 'id'", "stack three", "worker-2")
	s.AddException("timeout", "stack two", "worker-1", 5)
	ex := s.Snapshot().Exceptions
	require.Len(t, ex, 2)
	assert.Equal(t, locust.ExceptionStats{Count: 2, Message: "KeyError: 'id'", Traceback: "stack one", Nodes: []string{"local", "worker-2"}}, ex[0])
	assert.Equal(t, locust.ExceptionStats{Count: 6, Message: "timeout", Traceback: "stack two", Nodes: []string{"worker-1"}}, ex[1])
}

func TestReset(t *testing.T) {
	var now atomic.Int64
	t0 := time.Unix(1_700_000_000, 0)
	now.Store(t0.UnixNano())
	s := locust.NewStats(locust.StatsOptions{Now: func() time.Time { return time.Unix(0, now.Load()) }})
	rc := s.Recorder()
	for i := range 100 {
		var err error
		if i%4 == 0 {
			err = errors.New("bad")
		}
		rc.Record(locust.Request{Type: "GET", Name: "/r", Duration: time.Millisecond, Err: err})
	}
	s.RecordException("oops", "stack", "")
	snap := s.Snapshot()
	require.EqualValues(t, 100, snap.Total.Requests)
	require.Len(t, snap.Errors, 1)

	now.Add(int64(time.Minute))
	s.Reset()
	snap = s.Snapshot()
	assert.Empty(t, snap.Entries)
	assert.Zero(t, snap.Total.Requests)
	assert.Zero(t, snap.Total.Failures)
	assert.Zero(t, snap.Total.Max)
	assert.Empty(t, snap.Errors)
	assert.Empty(t, snap.Exceptions)
	assert.True(t, snap.Total.Start.Equal(t0.Add(time.Minute)), "start moves to the reset")

	// recording goes on after a reset
	rc.Record(locust.Request{Type: "GET", Name: "/r", Duration: 3 * time.Millisecond})
	e, ok := s.Snapshot().Entry("GET", "/r")
	require.True(t, ok)
	assert.EqualValues(t, 1, e.Requests)
	assert.Equal(t, 3*time.Millisecond, e.Min)
	assert.True(t, e.Start.Equal(t0.Add(time.Minute)))
}

// currentRef is the rule of the current window: the requests that ended
// in the whole seconds from now-10 s to now (not before the start), over
// the time from the first of those seconds (or the start) to now, at
// least one second.
func currentRef(perSec map[int64]int64, start int64, now time.Time) float64 {
	to := now.Unix()
	from := max(to-10, start)
	var n int64
	for s := from; s <= to; s++ {
		n += perSec[s]
	}
	span := max(now.Sub(time.Unix(from, 0)).Seconds(), 1)
	return float64(n) / span
}

func TestCurrentRPSLastTenSeconds(t *testing.T) {
	base := int64(1_700_000_000)
	rng := rand.New(rand.NewPCG(7, 8))
	for trial := range 40 {
		start := base + int64(trial)*1000
		var now atomic.Int64
		now.Store(time.Unix(start, 0).UnixNano())
		s := locust.NewStats(locust.StatsOptions{Now: func() time.Time { return time.Unix(0, now.Load()) }})
		span := 1 + rng.IntN(40) // seconds with traffic: start .. start+span-1
		reqs := map[int64]int64{}
		fails := map[int64]int64{}
		other := map[int64]int64{}
		var events []locust.Request
		for sec := start; sec < start+int64(span); sec++ {
			if rng.IntN(4) == 0 {
				continue // a second without requests counts as 0
			}
			for range 1 + rng.IntN(6) {
				var err error
				if rng.IntN(3) == 0 {
					err = errors.New("fail")
					fails[sec]++
				}
				name := "/a"
				if rng.IntN(2) == 0 {
					name = "/b"
					other[sec]++
				}
				reqs[sec]++
				at := time.Unix(sec, int64(rng.IntN(900))*int64(time.Millisecond))
				events = append(events, locust.Request{Type: "GET", Name: name, Start: at, Duration: 50 * time.Millisecond, Err: err})
			}
		}
		rng.Shuffle(len(events), func(i, j int) { events[i], events[j] = events[j], events[i] })
		rc := s.Recorder()
		for _, ev := range events {
			rc.Record(ev)
		}
		// the snapshot is taken up to 15 s after the traffic ended
		at := time.Unix(start+int64(span), int64(rng.IntN(15_000))*int64(time.Millisecond))
		now.Store(at.UnixNano())
		snap := s.Snapshot()
		assert.InDelta(t, currentRef(reqs, start, at), snap.Total.CurrentRPS, 1e-9, "trial %d: span %d", trial, span)
		assert.InDelta(t, currentRef(fails, start, at), snap.Total.CurrentFailPerSec, 1e-9, "trial %d: span %d", trial, span)
		if b, ok := snap.Entry("GET", "/b"); ok {
			assert.InDelta(t, currentRef(other, start, at), b.CurrentRPS, 1e-9, "trial %d", trial)
		}
	}
}

func TestCurrentRPSFixedCases(t *testing.T) {
	start := int64(1_700_000_000)
	var now atomic.Int64
	newStats := func() *locust.Stats {
		now.Store(time.Unix(start, 0).UnixNano())
		return locust.NewStats(locust.StatsOptions{Now: func() time.Time { return time.Unix(0, now.Load()) }})
	}
	at := func(sec float64) {
		now.Store(time.Unix(start, 0).Add(time.Duration(sec * float64(time.Second))).UnixNano())
	}
	put := func(s *locust.Stats, sec int64, n int, fail bool) {
		for range n {
			var err error
			if fail {
				err = errors.New("x")
			}
			s.Record(locust.Request{Type: "GET", Name: "/", Start: time.Unix(sec, 0), Duration: 10 * time.Millisecond, Err: err})
		}
	}

	// 21 seconds with i+1 requests in second i, failures in odd seconds;
	// at 20.5 s the window is seconds 10..20 over 10.5 s: (11+...+21)/10.5.
	s := newStats()
	for i := range int64(21) {
		put(s, start+i, int(i), false)
		put(s, start+i, 1, i%2 == 1)
	}
	at(20.5)
	snap := s.Snapshot()
	assert.InDelta(t, 176/10.5, snap.Total.CurrentRPS, 1e-9)
	assert.InDelta(t, 5/10.5, snap.Total.CurrentFailPerSec, 1e-9)

	// only seconds 0..5, read at 6 s: the window starts at the start
	s = newStats()
	for i := range int64(6) {
		put(s, start+i, int(i+1), false)
	}
	at(6)
	assert.InDelta(t, 21/6.0, s.Snapshot().Total.CurrentRPS, 1e-9)

	// the last seconds are in the window: Locust's lag of 3 s is gone
	s = newStats()
	put(s, start, 5, false)
	put(s, start+2, 5, false)
	at(2.5)
	assert.InDelta(t, 10/2.5, s.Snapshot().Total.CurrentRPS, 1e-9)

	// the first moments of a run count over one second at least
	s = newStats()
	put(s, start, 3, false)
	at(0.1)
	assert.InDelta(t, 3, s.Snapshot().Total.CurrentRPS, 1e-9)

	// missing seconds count as zero
	s = newStats()
	put(s, start+5, 10, false)
	put(s, start+15, 1, false)
	at(15.5)
	assert.InDelta(t, 11/10.5, s.Snapshot().Total.CurrentRPS, 1e-9)
}

func TestConcurrentRecordingLosesNothing(t *testing.T) {
	s := locust.NewStats(locust.StatsOptions{Shards: 3})
	const goroutines, perG = 8, 4000
	names := []string{"/a", "/b", "/c", "/d"}
	errs := []error{errors.New("e0"), errors.New("e1"), errors.New("e2")}
	stop := make(chan struct{})
	var readers sync.WaitGroup
	readers.Add(1)
	go func() { // snapshots and resets of other Stats run meanwhile
		defer readers.Done()
		for {
			select {
			case <-stop:
				return
			default:
				snap := s.Snapshot()
				if snap.Total.Requests > goroutines*perG {
					t.Errorf("more requests than recorded: %d", snap.Total.Requests)
				}
				time.Sleep(time.Millisecond)
			}
		}
	}()
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rc := s.Recorder()
			for i := range perG {
				var err error
				if i%7 == 0 {
					err = errs[i%3]
				}
				r := locust.Request{Type: "GET", Name: names[i%4], Duration: time.Duration(i+1) * time.Microsecond, Length: 1, Err: err}
				if g%2 == 0 {
					rc.Record(r)
				} else {
					s.Record(r)
				}
				if i%1000 == 0 {
					s.RecordException("panic", "stack", "")
				}
			}
		}()
	}
	wg.Wait()
	close(stop)
	readers.Wait()

	snap := s.Snapshot()
	assert.EqualValues(t, goroutines*perG, snap.Total.Requests)
	assert.EqualValues(t, goroutines*perG, snap.Total.ContentLength)
	var wantFails int64
	for i := range perG {
		if i%7 == 0 {
			wantFails++
		}
	}
	assert.EqualValues(t, goroutines*wantFails, snap.Total.Failures)
	for _, n := range names {
		e, ok := snap.Entry("GET", n)
		require.True(t, ok)
		assert.EqualValues(t, goroutines*perG/4, e.Requests, n)
	}
	var occ int64
	for _, e := range snap.Errors {
		occ += e.Occurrences
	}
	assert.EqualValues(t, goroutines*wantFails, occ)
	require.Len(t, snap.Exceptions, 1)
	assert.EqualValues(t, goroutines*perG/1000, snap.Exceptions[0].Count)
	h := s.Histogram("", "")
	require.NotNil(t, h)
	assert.EqualValues(t, goroutines*perG, h.TotalCount())
	assert.Nil(t, s.Histogram("GET", "/none"))
}

// panicky is an error whose Error method panics.
type panicky struct{}

func (panicky) Error() string { panic("no text for you") }

// An error whose Error method panics neither crashes the flush nor leaves
// its shard locked: it is counted under a text that says what happened.
func TestFailureWithPanickingErrorText(t *testing.T) {
	s := locust.NewStats(locust.StatsOptions{Shards: 1})
	rc := s.Recorder()
	rc.Record(locust.Request{Type: "GET", Name: "/x", Duration: time.Millisecond, Err: panicky{}})
	snap := s.Snapshot()
	require.Len(t, snap.Errors, 1)
	assert.Equal(t, "locust_test.panicky whose Error method panicked: no text for you", snap.Errors[0].Error)
	assert.EqualValues(t, 1, snap.Total.Failures)
	rc.Record(locust.Request{Type: "GET", Name: "/x", Duration: time.Millisecond})
	assert.EqualValues(t, 2, s.Snapshot().Total.Requests, "the shard still records")
}
