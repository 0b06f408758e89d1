package locust_test

import (
	"context"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golocust/locust"
)

// BenchmarkRecordParallelLimits measures what the limits' bookkeeping
// costs, from one user per core, with limits that are never reached:
//
//   - record/none and record/requests: each user records its share of b.N
//     requests in one task (User.Record in a loop), without and with a
//     request limit (-n);
//   - tasks/none and tasks/iterations: each user runs its share of b.N
//     tasks of one request each, without and with an iteration limit (-i).
//
// ns/op is wall time per request over all cores; compare the pairs of one
// run (no cache line written by every request or task is shared between
// cores, so a limit costs next to nothing).
func BenchmarkRecordParallelLimits(b *testing.B) {
	const far = 1 << 62
	for _, tc := range []struct {
		name    string
		cfg     locust.Config
		perTask bool
	}{
		{"record/none", locust.Config{}, false},
		{"record/requests", locust.Config{MaxRequests: far}, false},
		{"tasks/none", locust.Config{}, true},
		{"tasks/iterations", locust.Config{Iterations: far}, true},
	} {
		b.Run(tc.name, func(b *testing.B) { benchUsersRecording(b, tc.cfg, tc.perTask) })
	}
}

// benchUsersRecording runs GOMAXPROCS users that share b.N requests, one
// per task (perTask) or all in a user's first task.
func benchUsersRecording(b *testing.B, cfg locust.Config, perTask bool) {
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
		for *p > 0 {
			*p--
			u.Record(locust.Request{Type: "GET", Name: "/", Start: start, Duration: time.Duration(*p%5000) * time.Microsecond, Length: 2})
			if perTask {
				break
			}
		}
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
