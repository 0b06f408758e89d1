package locust

import (
	"context"
	"log/slog"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
)

// recordUser is a user of a runner that is never run, for the record path.
func recordUser(tb testing.TB) *User {
	r, err := NewRunner(Config{Logger: slog.New(slog.DiscardHandler)}, &UserType{Name: "R",
		Tasks: NewTaskSet("r").Task(1, func(context.Context, *User) error { return nil })})
	if err != nil {
		tb.Fatal(err)
	}
	return &User{runner: r, plan: r.plans[r.types[0]], wake: make(chan struct{}, 1), heapIdx: -1}
}

// listen adds non-allocating listeners to the three request hooks.
func listen(u *User) *atomic.Int64 {
	var n atomic.Int64
	ev := &u.runner.events
	ev.Request.Add(func(Request) { n.Add(1) })
	ev.RequestSuccess.Add(func(Request) { n.Add(1) })
	ev.RequestFailure.Add(func(Request) { n.Add(1) })
	return &n
}

func TestRecordWithRequestHooksDoesNotAllocate(t *testing.T) {
	for _, hooked := range []bool{false, true} {
		u := recordUser(t)
		var n *atomic.Int64
		if hooked {
			n = listen(u)
		}
		ok, bad := benchRequest(), benchRequest()
		bad.Err = errBench
		u.Record(ok)
		u.Record(bad)
		allocs := testing.AllocsPerRun(200, func() { u.Record(ok); u.Record(bad) })
		assert.Zero(t, allocs, "hooked=%v", hooked)
		if hooked {
			assert.Equal(t, int64(4*(200+1+1)), n.Load()) // AllocsPerRun runs once more to warm up
		}
	}
}

func BenchmarkRecordHooks(b *testing.B) {
	for _, c := range []struct {
		name   string
		hooked bool
		fail   bool
	}{{"success/no-listener", false, false}, {"success/listeners", true, false},
		{"failure/no-listener", false, true}, {"failure/listeners", true, true}} {
		b.Run(c.name, func(b *testing.B) {
			u := recordUser(b)
			if c.hooked {
				listen(u)
			}
			req := benchRequest()
			if c.fail {
				req.Err = errBench
			}
			b.ReportAllocs()
			for b.Loop() {
				u.Record(req)
			}
		})
	}
}
