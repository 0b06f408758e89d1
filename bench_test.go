package locust

import (
	"context"
	"errors"
	"fmt"
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
