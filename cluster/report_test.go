package cluster

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/golocust/locust"
)

func ms(f float64) time.Duration { return time.Duration(f * float64(time.Millisecond)) }

// The expected keys are what Locust 2.12.1's StatsEntry._log_response_time
// gives (Python's round, half to even), printed by python3.
func TestBucketMillisMatchesLocust(t *testing.T) {
	for in, want := range map[float64]int64{
		0.4: 0, 0.5: 0, 1.5: 2, 2.5: 2, 7.4: 7, 99.4: 99, 99.5: 100, 100: 100, 104.9: 100,
		105: 100, 115: 120, 145: 140, 155: 160, 145.2: 150, 999: 1000, 999.4: 1000,
		1250: 1200, 1350: 1400, 3432: 3400, 9949: 9900, 9950: 10000, 12500: 12000,
		13500: 14000, 58760: 59000,
	} {
		assert.Equal(t, want, BucketMillis(ms(in)), "%v ms", in)
	}
	assert.Equal(t, int64(0), BucketMillis(-time.Second))
}

func TestErrorKeyMatchesLocust(t *testing.T) {
	// hashlib.sha256(("GET./x." + repr("HTTP 500: it's")).encode()).hexdigest()
	assert.Equal(t, "446e3885c6871dec914cd672cc24ea45be5d9d6fc85ef9d6d9e85ff33f8c2067",
		ErrorKey("GET", "/x", "HTTP 500: it's"))
}

func TestCollectorTakeIsADelta(t *testing.T) {
	now := time.Unix(1795637470, 500e6)
	c := NewCollector(func() time.Time { return now })
	start := now
	c.Record(locust.Request{Type: "GET", Name: "/a", Duration: ms(145), Length: 10})
	now = now.Add(time.Second)
	c.Record(locust.Request{Type: "GET", Name: "/a", Duration: ms(7.4), Length: 5})
	c.Record(locust.Request{Type: "POST", Name: "/b", Duration: ms(1250), Err: errors.New("HTTP 500")})
	c.Record(locust.Request{Type: "POST", Name: "/b", Duration: ms(20), Err: errors.New("HTTP 500")})
	now = now.Add(time.Second)

	r := c.Take(map[string]int64{"Web": 2, "API": 1})
	require.Len(t, r.Stats, 2)
	a := r.Stats[0]
	assert.Equal(t, "/a", a.Name)
	assert.Equal(t, "GET", a.Method)
	assert.EqualValues(t, 2, a.NumRequests)
	assert.EqualValues(t, 0, a.NumFailures)
	assert.EqualValues(t, 15, a.TotalContentLength)
	assert.InDelta(t, 152.4, a.TotalResponseTime, 1e-9)
	assert.InDelta(t, 7.4, *a.MinResponseTime, 1e-9)
	assert.InDelta(t, 145, a.MaxResponseTime, 1e-9)
	assert.Equal(t, map[int64]int64{140: 1, 7: 1}, a.ResponseTimes)
	assert.Equal(t, map[int64]int64{1795637470: 1, 1795637471: 1}, a.NumReqsPerSec)
	assert.Empty(t, a.NumFailPerSec)
	assert.InDelta(t, 1795637471.5, *a.LastRequestTimestamp, 1e-6)
	assert.InDelta(t, epoch(start), a.StartTime, 1e-6)
	b := r.Stats[1]
	assert.EqualValues(t, 2, b.NumFailures)
	assert.Equal(t, map[int64]int64{1795637471: 2}, b.NumFailPerSec)
	assert.Equal(t, "Aggregated", r.StatsTotal.Name)
	assert.Equal(t, "", r.StatsTotal.Method)
	assert.EqualValues(t, 4, r.StatsTotal.NumRequests)
	assert.EqualValues(t, 2, r.StatsTotal.NumFailures)
	assert.Equal(t, map[int64]int64{140: 1, 7: 1, 1200: 1, 20: 1}, r.StatsTotal.ResponseTimes)
	require.Len(t, r.Errors, 1)
	e := r.Errors[ErrorKey("POST", "/b", "HTTP 500")]
	assert.Equal(t, ErrorReport{Name: "/b", Method: "POST", Error: "HTTP 500", Occurrences: 2}, e)
	assert.EqualValues(t, 3, r.UserCount)
	assert.Equal(t, map[string]int64{"Web": 2, "API": 1}, r.UserClassesCount)

	// the next report has nothing: nil where Locust sends None
	r2 := c.Take(nil)
	assert.Empty(t, r2.Stats)
	assert.Empty(t, r2.Errors)
	assert.EqualValues(t, 0, r2.StatsTotal.NumRequests)
	assert.Nil(t, r2.StatsTotal.MinResponseTime)
	assert.Nil(t, r2.StatsTotal.LastRequestTimestamp)
	assert.InDelta(t, epoch(now), r2.StatsTotal.StartTime, 1e-6)

	// a report put back is sent again, merged with what came since
	c.Restore(r)
	c.Record(locust.Request{Type: "GET", Name: "/a", Duration: ms(3)})
	r3 := c.Take(nil)
	assert.EqualValues(t, 5, r3.StatsTotal.NumRequests)
	assert.EqualValues(t, 2, r3.StatsTotal.NumFailures)
	assert.Equal(t, map[int64]int64{140: 1, 7: 1, 1200: 1, 20: 1, 3: 1}, r3.StatsTotal.ResponseTimes)
	assert.InDelta(t, 3, *r3.StatsTotal.MinResponseTime, 1e-9)
	assert.InDelta(t, epoch(start), r3.StatsTotal.StartTime, 1e-6)
	require.Len(t, r3.Stats, 2)
	assert.EqualValues(t, 3, r3.Stats[0].NumRequests)
	assert.EqualValues(t, 2, r3.Errors[ErrorKey("POST", "/b", "HTTP 500")].Occurrences)
}

func TestCollectorConcurrentRecordAndTake(t *testing.T) {
	c := NewCollector(nil)
	var wg sync.WaitGroup
	const goroutines, each = 8, 5000
	for g := range goroutines {
		wg.Go(func() {
			for i := range each {
				var err error
				if i%10 == 0 {
					err = errors.New("bad")
				}
				c.Record(locust.Request{Type: "GET", Name: "/" + string(rune('a'+g%3)), Duration: time.Millisecond, Err: err})
			}
		})
	}
	var sum, fails, errs int64
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	for stop := false; !stop; {
		select {
		case <-done:
			stop = true
		default:
		}
		r := c.Take(nil)
		sum += r.StatsTotal.NumRequests
		fails += r.StatsTotal.NumFailures
		for _, e := range r.Errors {
			errs += e.Occurrences
		}
	}
	r := c.Take(nil)
	sum += r.StatsTotal.NumRequests
	fails += r.StatsTotal.NumFailures
	for _, e := range r.Errors {
		errs += e.Occurrences
	}
	assert.EqualValues(t, goroutines*each, sum)
	assert.EqualValues(t, goroutines*each/10, fails)
	assert.Equal(t, fails, errs)
}

// BenchmarkRecord shows the worker's hot path: a request goes to the
// runner's own stats (core) and to the Collector (collector). Run with
// -benchmem: both report 0 allocs/op; the ratio of their ns/op is the cost
// the cluster adds.
func BenchmarkRecord(b *testing.B) {
	req := locust.Request{Type: "GET", Name: "/item", Duration: 12 * time.Millisecond, Length: 512}
	b.Run("core", func(b *testing.B) {
		s := locust.NewStats(locust.StatsOptions{})
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			rc := s.Recorder()
			for pb.Next() {
				rc.Record(req)
			}
		})
	})
	b.Run("collector", func(b *testing.B) {
		c := NewCollector(nil)
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				c.Record(req)
			}
		})
	})
	// as the clients record: with the request's start, so the collector
	// reads no clock
	started := req
	started.Start = time.Now()
	b.Run("collector-started", func(b *testing.B) {
		c := NewCollector(nil)
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				c.Record(started)
			}
		})
	})
}
