package locust_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/golocust/locust"
)

// Iterations hands out its N runs in batches per user: still exactly N
// runs, also when users stop themselves with runs in hand and others are
// stopped by a ramp-down.
func TestIterationsExactWithBatchesAndChurn(t *testing.T) {
	defer goleak.VerifyNone(t)
	const n = 5000
	var calls atomic.Int64
	r := newRunner(t, locust.Config{Users: 40, Iterations: n}, &locust.UserType{Name: "U",
		Tasks: locust.NewTaskSet("t").Task(1, func(_ context.Context, u *locust.User) error {
			c := calls.Add(1)
			if u.ID()%7 == 0 && c%13 == 0 {
				return locust.ErrStopUser // leaves with runs in hand
			}
			if c == n/2 {
				go func() { _ = u.Runner().SetUsers(10, 0) }()
			}
			return nil
		})})
	run(t, r)
	assert.EqualValues(t, n, calls.Load())
	assert.EqualValues(t, n, r.Iterations())
	assert.Equal(t, "iterations", r.StopReason())
}

// The request limit stops the test when the N-th request is recorded, with
// many users recording at once.
func TestMaxRequestsWithManyUsers(t *testing.T) {
	defer goleak.VerifyNone(t)
	const users, limit = 50, 3000
	r := newRunner(t, locust.Config{Users: users, MaxRequests: limit}, &locust.UserType{Name: "U",
		Tasks: locust.NewTaskSet("t").Task(1, func(_ context.Context, u *locust.User) error {
			u.RecordSuccess("GET", "/", time.Millisecond, 0)
			return nil
		})})
	run(t, r)
	require.Equal(t, "requests", r.StopReason())
	got := r.Snapshot().Total.Requests
	assert.GreaterOrEqual(t, got, int64(limit))
	assert.LessOrEqual(t, got, int64(limit+users), "no new task starts once the limit is reached")
}

// A ramp-down gives the retired users' unused requests back to the pool,
// after it ran dry: the users left use them, and the run still reaches the
// limit (before, the pool stayed "dry" and they stopped short of it).
func TestMaxRequestsReachedAfterRampDown(t *testing.T) {
	defer goleak.VerifyNone(t)
	const users, limit = 40, 4000
	var calls atomic.Int64
	r := newRunner(t, locust.Config{Users: users, MaxRequests: limit}, &locust.UserType{Name: "U",
		Tasks: locust.NewTaskSet("t").Task(1, func(_ context.Context, u *locust.User) error {
			if calls.Add(1) == limit*3/4 {
				go func() { _ = u.Runner().SetUsers(5, 0) }()
			}
			u.RecordSuccess("GET", "/", time.Millisecond, 0)
			return nil
		})})
	run(t, r)
	require.Equal(t, "requests", r.StopReason())
	got := r.Snapshot().Total.Requests
	assert.GreaterOrEqual(t, got, int64(limit))
	assert.LessOrEqual(t, got, int64(limit+users))
}
