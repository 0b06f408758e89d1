package locust

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"strconv"
	"testing"
	"time"
)

func benchRequest() Request {
	return Request{Type: "GET", Name: "/index", Start: time.Now(), Duration: 1234 * time.Microsecond, Length: 512}
}

var errBench = errors.New("503 Service Unavailable")

func BenchmarkRecordSuccess(b *testing.B) {
	s := NewStats(StatsOptions{})
	rc := s.Recorder()
	req := benchRequest()
	b.ReportAllocs()
	for b.Loop() {
		rc.Record(req)
	}
}

func BenchmarkRecordFailure(b *testing.B) {
	s := NewStats(StatsOptions{})
	rc := s.Recorder()
	req := benchRequest()
	req.Err = errBench
	b.ReportAllocs()
	for b.Loop() {
		rc.Record(req)
	}
}

func BenchmarkRecordSuccessParallel(b *testing.B) {
	s := NewStats(StatsOptions{})
	req := benchRequest()
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		rc := s.Recorder()
		for pb.Next() {
			rc.Record(req)
		}
	})
}

func BenchmarkRecordFailureParallel(b *testing.B) {
	s := NewStats(StatsOptions{})
	req := benchRequest()
	req.Err = errBench
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		rc := s.Recorder()
		for pb.Next() {
			rc.Record(req)
		}
	})
}

func BenchmarkSnapshot(b *testing.B) {
	s := NewStats(StatsOptions{})
	rc := s.Recorder()
	now := time.Now()
	for i := range 100 {
		for j := range 50 {
			var err error
			if j%10 == 0 {
				err = errBench
			}
			rc.Record(Request{Type: "GET", Name: fmt.Sprintf("/item/%d", i), Start: now, Duration: time.Duration(j+1) * time.Millisecond, Err: err})
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		_ = s.Snapshot()
	}
}

// BenchmarkNewName records one request under a name not seen before into a
// Stats that already holds about `existing` entries (it is rebuilt, off the
// clock, every max(existing/10, 1000) new names): adding an entry should
// cost the same with 10 or 100,000 of them.
func BenchmarkNewName(b *testing.B) {
	for _, existing := range []int{10, 100_000} {
		b.Run("existing="+strconv.Itoa(existing), func(b *testing.B) {
			batch := max(existing/10, 1000)
			names := make([]string, existing+batch)
			for i := range names {
				names[i] = "/item/" + strconv.Itoa(i)
			}
			var rc Recorder
			fresh := func() {
				s := NewStats(StatsOptions{Logger: slog.New(slog.DiscardHandler)})
				rc = s.Recorder()
				for _, n := range names[:existing] {
					rc.Record(Request{Type: "GET", Name: n, Duration: time.Millisecond})
				}
				s.Flush()
				runtime.GC() // no collection of the set-up left to the timed part
			}
			fresh()
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				k := i % batch
				if k == 0 && i > 0 {
					b.StopTimer()
					fresh()
					b.StartTimer()
				}
				rc.Record(Request{Type: "GET", Name: names[existing+k], Duration: time.Millisecond})
			}
		})
	}
}

func BenchmarkTaskPick(b *testing.B) {
	noop := func(context.Context, *User) error { return nil }
	ts := NewTaskSet("five")
	for w := 1; w <= 5; w++ {
		ts.Task(w, noop)
	}
	c := ts.compile(tagFilter{}, nil)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i += c.pick(i)
	}
}

func BenchmarkWaitBetween(b *testing.B) {
	w := Between(time.Millisecond, 2*time.Millisecond)
	var sum time.Duration
	b.ReportAllocs()
	for b.Loop() {
		sum += w.Wait(nil)
	}
	_ = sum
}
