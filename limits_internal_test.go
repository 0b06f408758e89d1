package locust

import (
	"context"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

// A shape that ramps to 0 users is not the iteration limit, even after the
// pool of runs ran dry once (the runs in the retired users' hands come
// back): the test goes on until its run time, since a shape may ramp up
// again.
func TestRampToZeroIsNotTheIterationLimit(t *testing.T) {
	defer goleak.VerifyNone(t)
	var calls atomic.Int64
	var r *Runner
	ut := &UserType{Name: "U", Wait: Constant(time.Millisecond),
		Tasks: NewTaskSet("t").Task(1, func(_ context.Context, u *User) error {
			if calls.Add(1) == 50 {
				r.iterQuota.dry.Store(true) // as if the pool ran out a moment ago
				go func() { _ = r.SetUsers(0, 0) }()
			}
			return nil
		})}
	r, err := NewRunner(Config{Users: 10, Iterations: 100000, RunTime: 600 * time.Millisecond,
		Logger: slog.New(slog.DiscardHandler)}, ut)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	require.NoError(t, r.Run(ctx))
	assert.Equal(t, "run time", r.StopReason(), "%d runs", calls.Load())
	assert.Zero(t, r.UserCount())
}

// A request recorded while the pool was dry goes past the user's grant;
// when tokens come back (a ramp-down), the user takes them for it and
// reports them used, so that the limit is reached. (Before, a token taken
// back was granted and never reported when the pool ran dry again during
// the catch-up: the test never reached its limit and ran until its context
// ended, about one run in 150 of TestMaxRequestsReachedAfterRampDown.)
func TestRequestPastTheGrantUsesTheTokensGivenBack(t *testing.T) {
	ut := &UserType{Name: "U", Tasks: NewTaskSet("t").Task(1, func(context.Context, *User) error { return nil })}
	r, err := NewRunner(Config{Users: 1, MaxRequests: 40, Logger: slog.New(slog.DiscardHandler)}, ut)
	require.NoError(t, err)
	q := &r.reqQuota
	r.userCount.Store(2)
	a, b := &reqCounter{}, &reqCounter{}
	b.count(r) // b takes a batch first
	require.EqualValues(t, 5, b.mark.Load())
	for b.n.Load() < b.mark.Load()-1 {
		b.count(r) // b keeps one token unused
	}
	for q.pool.Load() > 0 {
		a.count(r)
	}
	a.count(r) // the pool is dry: a goes past its grant
	require.Greater(t, a.n.Load(), a.mark.Load())
	require.False(t, r.limitHit.Load())
	assert.False(t, b.settle(q), "b stops with a token in hand: it goes back")
	require.EqualValues(t, 1, q.pool.Load())
	a.count(r) // a takes it for the request past its grant
	assert.EqualValues(t, 40, q.used.Load(), "every token is reported used")
	assert.True(t, r.limitHit.Load(), "the limit is reached")
}
