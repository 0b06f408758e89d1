package locust_test

import (
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/golocust/locust"
)

// When the target hangs and nothing completes, the current rate falls to 0
// within the window instead of repeating the last healthy rate, and the
// current percentiles empty.
func TestCurrentRPSFallsWhenTargetHangs(t *testing.T) {
	t0 := time.Unix(1_700_000_000, 0)
	var now atomic.Int64
	now.Store(t0.UnixNano())
	s := locust.NewStats(locust.StatsOptions{Now: func() time.Time { return time.Unix(0, now.Load()) }})
	rc := s.Recorder()
	for sec := range 30 { // 100 requests a second for 30 s
		for i := range 100 {
			at := t0.Add(time.Duration(sec)*time.Second + time.Duration(i)*10*time.Millisecond)
			rc.Record(locust.Request{Type: "GET", Name: "/", Start: at, Duration: 5 * time.Millisecond})
		}
	}
	now.Store(t0.Add(30 * time.Second).UnixNano())
	assert.InDelta(t, 100, s.Snapshot().Total.CurrentRPS, 1e-9, "healthy")

	now.Store(t0.Add(35 * time.Second).UnixNano()) // hanging for 5 s
	snap := s.Snapshot()
	assert.InDelta(t, 50, snap.Total.CurrentRPS, 1e-9, "half the window is silent")

	now.Store(t0.Add(41 * time.Second).UnixNano()) // hanging for 11 s
	snap = s.Snapshot()
	assert.Zero(t, snap.Total.CurrentRPS)
	assert.Zero(t, snap.Total.CurrentFailPerSec)
	p50, ok := snap.Total.CurrentPercentile(50)
	assert.True(t, ok)
	assert.Zero(t, p50, "no request in the window")
	assert.EqualValues(t, 3000, snap.Total.Requests, "the whole-run figures stay")
}

// The per-second buckets follow the monotonic clock: a wall clock stepped
// back an hour does not freeze the current rate, which goes on following
// the traffic (20 requests a second before the step, 40 after).
func TestCurrentRPSSurvivesWallClockStep(t *testing.T) {
	wall0 := time.Unix(1_700_000_000, 0)
	var mono, step atomic.Int64 // nanoseconds since start; wall-clock step
	s := locust.NewStats(locust.StatsOptions{
		Now:     func() time.Time { return wall0.Add(time.Duration(mono.Load() + step.Load())) },
		Elapsed: func() time.Duration { return time.Duration(mono.Load()) },
	})
	rc := s.Recorder()
	for sec := range 40 {
		rate := 20
		if sec >= 15 {
			step.Store(int64(-time.Hour))
			rate = 40
		}
		for i := range rate { // no Start: they end now
			mono.Store(int64(time.Duration(sec)*time.Second + time.Duration(i)*time.Second/time.Duration(rate)))
			rc.Record(locust.Request{Type: "GET", Name: "/", Duration: time.Millisecond})
		}
		mono.Store(int64(time.Duration(sec+1) * time.Second))
		got := s.Snapshot().Total.CurrentRPS
		switch {
		case sec >= 9 && sec < 15:
			require.InDelta(t, 20, got, 1e-9, "second %d", sec)
		case sec >= 15 && sec < 24:
			want := float64(20*(24-sec)+40*(sec-14)) / 10 // the window's seconds sec-9..sec
			require.InDelta(t, want, got, 1e-9, "second %d", sec)
		case sec >= 24:
			require.InDelta(t, 40, got, 1e-9, "second %d", sec)
		}
	}
}

// One snapshot is consistent: its entries add up to its Total, while
// recording goes on from several goroutines.
func TestSnapshotEntriesAddUpToTotal(t *testing.T) {
	defer goleak.VerifyNone(t)
	s := locust.NewStats(locust.StatsOptions{Shards: 2})
	names := []string{"/a", "/b", "/c", "/d", "/e"}
	boom := errors.New("boom")
	stop := make(chan struct{})
	var wg, started sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		started.Add(1)
		go func() {
			defer wg.Done()
			rc := s.Recorder()
			for i := 0; ; i++ {
				if i == 1000 {
					started.Done()
				}
				select {
				case <-stop:
					return
				default:
				}
				var err error
				if i%5 == g {
					err = boom
				}
				rc.Record(locust.Request{Type: "GET", Name: names[(i+g)%len(names)], Duration: time.Duration(i%1000) * time.Microsecond, Length: 3, Err: err})
			}
		}()
	}
	started.Wait() // every goroutine is recording
	var bad int
	for range 300 {
		snap := s.Snapshot()
		var reqs, fails, length int64
		var sum time.Duration
		for _, e := range snap.Entries {
			reqs += e.Requests
			fails += e.Failures
			length += e.ContentLength
			sum += e.TotalTime
		}
		if reqs != snap.Total.Requests || fails != snap.Total.Failures || length != snap.Total.ContentLength || sum != snap.Total.TotalTime {
			bad++
		}
	}
	close(stop)
	wg.Wait()
	assert.Zero(t, bad, "snapshots whose entries do not add up to their Total")
	assert.Positive(t, s.Snapshot().Total.Requests)
}
