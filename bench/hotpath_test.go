// Package bench holds the benchmark programs of golocust (see README.md)
// and Go benchmarks of its hot paths.
package bench

import (
	"context"
	"errors"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	locust "github.com/golocust/locust"
)

// BenchmarkRecordParallelManyNames records from every core, each goroutine
// with its own Recorder (as each user has), spread over 100 names.
func BenchmarkRecordParallelManyNames(b *testing.B) {
	s := locust.NewStats(locust.StatsOptions{})
	names := make([]string, 100)
	for i := range names {
		names[i] = "/item/" + strconv.Itoa(i)
	}
	var seq atomic.Int64
	start := time.Now()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		rc := s.Recorder()
		i := int(seq.Add(1)) * 7
		for pb.Next() {
			i++
			rc.Record(locust.Request{Type: "GET", Name: names[i%len(names)], Start: start, Duration: time.Duration(i%5000) * time.Microsecond, Length: 2})
		}
	})
}

// BenchmarkUserRecord is one request reported through a running user
// (User.Record: statistics plus the Request event with no listener).
func BenchmarkUserRecord(b *testing.B) {
	errBoom := errors.New("boom")
	_ = errBoom
	task := func(ctx context.Context, u *locust.User) error {
		start := time.Now()
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			u.Record(locust.Request{Type: "GET", Name: "/", Start: start, Duration: time.Duration(i%5000) * time.Microsecond, Length: 2})
		}
		b.StopTimer()
		return nil
	}
	ut := &locust.UserType{Name: "U", Tasks: locust.NewTaskSet("t").Task(1, task)}
	r, err := locust.NewRunner(locust.Config{Users: 1, Iterations: 1, Logger: discard()}, ut)
	if err != nil {
		b.Fatal(err)
	}
	if err := r.Run(context.Background()); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkRecordParallel records one name from every core, each goroutine
// with its own Recorder. Compare -cpu 1 and -cpu 2: with perfect scaling
// ns/op halves (ns/op is wall time per event over all cores).
func BenchmarkRecordParallel(b *testing.B) {
	s := locust.NewStats(locust.StatsOptions{})
	start := time.Now()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		rc := s.Recorder()
		i := 0
		for pb.Next() {
			i++
			rc.Record(locust.Request{Type: "GET", Name: "/", Start: start, Duration: time.Duration(i%5000) * time.Microsecond, Length: 2})
		}
	})
}
