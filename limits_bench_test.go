package locust_test

import (
	"context"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golocust/locust"
)

// BenchmarkRecordParallelLimits records one request per task from one
// user per core, with no limit, with a request limit (-n) and with an
// iteration limit (-i) that are never reached: the limits' bookkeeping
// must cost next to nothing (no cache line written by every request or
// task is shared between cores). ns/op is wall time per request over all
// cores; compare the three sub-benchmarks of one run.
func BenchmarkRecordParallelLimits(b *testing.B) {
	const far = 1 << 62
	for _, tc := range []struct {
		name string
		cfg  locust.Config
	}{
		{"none", locust.Config{}},
		{"requests", locust.Config{MaxRequests: far}},
		{"iterations", locust.Config{Iterations: far}},
	} {
		b.Run(tc.name, func(b *testing.B) { benchUsersRecording(b, tc.cfg) })
	}
}

// benchUsersRecording runs GOMAXPROCS users that share b.N tasks of one
// request each.
func benchUsersRecording(b *testing.B, cfg locust.Config) {
	users := runtime.GOMAXPROCS(0)
	var left atomic.Int64 // users not done
	left.Store(int64(users))
	var r *locust.Runner
	start := time.Now()
	// the tasks of user i are left[i]: one padded slot per user
	type slot struct {
		n int
		_ [56]byte
	}
	shares := make([]slot, users+1)
	for i := 1; i <= users; i++ {
		shares[i].n = b.N / users
	}
	shares[1].n += b.N % users
	task := func(_ context.Context, u *locust.User) error {
		p := &shares[u.ID()].n
		if *p == 0 {
			if left.Add(-1) == 0 {
				r.Stop()
			}
			return locust.ErrStopUser
		}
		*p--
		u.Record(locust.Request{Type: "GET", Name: "/", Start: start, Duration: time.Duration(*p%5000) * time.Microsecond, Length: 2})
		return nil
	}
	cfg.Users = users
	var err error
	r, err = locust.NewRunner(quiet(cfg), &locust.UserType{Name: "U", Tasks: locust.NewTaskSet("t").Task(1, task)})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	if err := r.Run(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	if got := r.Snapshot().Total.Requests; got != int64(b.N) {
		b.Fatalf("recorded %d requests, not %d", got, b.N)
	}
}
