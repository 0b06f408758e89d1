package locust_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/golocust/locust"
)

// A request cut short by the stop is in no entry but in Snapshot.CutShort,
// also when the task derived a context with its own timeout from it.
func TestCutShortIsCounted(t *testing.T) {
	defer goleak.VerifyNone(t)
	started := make(chan struct{}, 2)
	cut := func(ctx context.Context, u *locust.User) error {
		return u.Measure(ctx, "op", "cut", func(ctx context.Context) (int64, error) {
			started <- struct{}{}
			<-ctx.Done()
			return 0, ctx.Err()
		})
	}
	own := func(ctx context.Context, u *locust.User) error {
		return u.Measure(ctx, "op", "own", func(ctx context.Context) (int64, error) {
			tctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
			defer cancel()
			started <- struct{}{}
			<-tctx.Done()
			return 0, tctx.Err()
		})
	}
	r := newRunner(t, locust.Config{Users: 2, StopTimeout: 5 * time.Second},
		&locust.UserType{Name: "Cut", FixedCount: 1, Tasks: locust.NewTaskSet("c").Task(1, cut)},
		&locust.UserType{Name: "Own", FixedCount: 1, Tasks: locust.NewTaskSet("o").Task(1, own)},
	)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	<-started
	<-started
	cancel() // stops every user at once: "cut" is cut short
	require.NoError(t, <-done)
	s := r.Snapshot()
	assert.EqualValues(t, 2, s.CutShort, "both requests were in flight at the stop")
	assert.Empty(t, s.Entries, "a cut-short request is in no entry")
}

// A task's own deadline during a graceful stop (stop timeout) is not the stop.
func TestOwnDeadlineDuringGracefulStopIsAFailure(t *testing.T) {
	defer goleak.VerifyNone(t)
	started := make(chan struct{}, 1)
	task := func(ctx context.Context, u *locust.User) error {
		return u.Measure(ctx, "op", "slow", func(ctx context.Context) (int64, error) {
			tctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
			defer cancel()
			select {
			case started <- struct{}{}:
			default:
			}
			<-tctx.Done()
			return 0, tctx.Err()
		})
	}
	r := newRunner(t, locust.Config{Users: 1, StopTimeout: 5 * time.Second},
		&locust.UserType{Name: "U", Tasks: locust.NewTaskSet("t").Task(1, task)})
	wait := start(t, r)
	<-started
	r.Stop() // graceful: the task may finish within 5 s
	require.NoError(t, wait())
	s := r.Snapshot()
	e, ok := s.Entry("op", "slow")
	require.True(t, ok)
	assert.EqualValues(t, 1, e.Failures, "the task's own timeout is a failure, not the stop")
	assert.Zero(t, s.CutShort)
}

func TestAbortStopsAtOnceAndRunReturnsTheError(t *testing.T) {
	defer goleak.VerifyNone(t)
	bad := errors.New("no host: pass --host")
	task := func(ctx context.Context, u *locust.User) error {
		u.Runner().Abort(bad)
		<-ctx.Done()
		assert.True(t, u.StoppedBy(ctx))
		return nil
	}
	r := newRunner(t, locust.Config{Users: 3, StopTimeout: time.Minute},
		&locust.UserType{Name: "U", Tasks: locust.NewTaskSet("t").Task(1, task)})
	begin := time.Now()
	err := start(t, r)()
	require.ErrorIs(t, err, bad)
	assert.Less(t, time.Since(begin), 10*time.Second, "no stop timeout after an abort")
	assert.Contains(t, r.StopReason(), "no host")
}
