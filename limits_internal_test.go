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
