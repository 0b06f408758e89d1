package locust

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// benchUser returns a user of a new open-model runner (not running), in
// an iteration that was due 5 ms ago when open is true.
func benchUser(tb testing.TB, open bool) *User {
	tb.Helper()
	typ := &UserType{Name: "b", Tasks: NewTaskSet("t").Task(1, func(context.Context, *User) error { return nil })}
	r, err := NewRunner(Config{ArrivalRate: 1, MaxUsers: 1, Logger: slog.New(slog.DiscardHandler)}, typ)
	require.NoError(tb, err)
	r.sleepers.epoch = time.Now().Add(-time.Second)
	u := &User{runner: r, plan: r.plans[typ], heapIdx: -1}
	if open {
		u.open = &openUser{iterCh: make(chan int64, 1)}
		// an iteration that started 5 ms late
		u.open.intended.Store(max(r.sleepers.now()-int64(5*time.Millisecond), 1))
		u.open.late.Store(int64(5 * time.Millisecond))
	}
	return u
}

// Recording a request of an open-model iteration does not allocate (after
// the user's two recorders are made), as the closed model's does not.
func TestRecordOpenNoAlloc(t *testing.T) {
	for _, open := range []bool{false, true} {
		u := benchUser(t, open)
		req := Request{Type: "GET", Name: "/", Start: time.Now(), Duration: time.Millisecond}
		u.Record(req)
		assert.Zero(t, testing.AllocsPerRun(1000, func() { u.Record(req) }), "open %v", open)
	}
}

// The iteration's lateness moves the latency, not the service time.
func TestRecordOpenTimesFromIntendedStart(t *testing.T) {
	u := benchUser(t, true)
	u.Record(Request{Type: "GET", Name: "/", Start: time.Now(), Duration: time.Millisecond})
	e, _ := u.runner.stats.Snapshot().Entry("GET", "/")
	s, _ := u.runner.service.Snapshot().Entry("GET", "/")
	assert.GreaterOrEqual(t, e.Max, 6*time.Millisecond, "5 ms late + 1 ms")
	assert.Equal(t, time.Millisecond, s.Max)
}

func benchmarkUserRecord(b *testing.B, open bool) {
	u := benchUser(b, open)
	req := Request{Type: "GET", Name: "/", Start: time.Now(), Duration: time.Millisecond}
	b.ReportAllocs()
	for b.Loop() {
		u.Record(req)
	}
}

// BenchmarkUserRecordClosed and BenchmarkUserRecordOpen compare a user's
// request recording in the closed model and in an open-model iteration
// (which records it twice: corrected, and in the service times).
func BenchmarkUserRecordClosed(b *testing.B) { benchmarkUserRecord(b, false) }

// BenchmarkUserRecordOpen: see BenchmarkUserRecordClosed.
func BenchmarkUserRecordOpen(b *testing.B) { benchmarkUserRecord(b, true) }

// The rate schedule: iteration k is due when the integral of the rate
// reaches k, for constant rates and linear ramps up and down.
func TestRateSegmentDue(t *testing.T) {
	c := rateSegment{r0: 100, r1: 100}
	at, ok := c.due(0)
	assert.True(t, ok)
	assert.Zero(t, at)
	at, _ = c.due(250)
	assert.InDelta(t, 2.5, at, 1e-9)
	up := rateSegment{r0: 0, slope: 100, dur: 2, r1: 200} // 0→200 over 2 s: 200 due, then 200/s
	at, _ = up.due(50)
	assert.InDelta(t, 1, at, 1e-9)
	at, _ = up.due(400)
	assert.InDelta(t, 3, at, 1e-9)
	assert.InDelta(t, 400, up.count(3), 1e-9)
	down := rateSegment{r0: 100, slope: -50, dur: 2, r1: 0} // 100→0 over 2 s: 100 due, then none
	at, _ = down.due(75)
	assert.InDelta(t, 1, at, 1e-9)
	_, ok = down.due(100.5)
	assert.False(t, ok, "the rate stays 0")
	_, ok = rateSegment{}.due(1)
	assert.False(t, ok)
}
