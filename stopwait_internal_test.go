package locust

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/golocust/locust/internal/testutil"
)

// The drain after -i and -n is bounded too: by the stop timeout when set,
// else by the drain limit; then the same grace and the same report.
func TestDrainIsBounded(t *testing.T) {
	cases := []struct {
		name  string
		cfg   Config
		after string
	}{
		{"iterations, drain limit", Config{Iterations: 2}, "after the drain limit (300ms)"},
		{"requests, drain limit", Config{MaxRequests: 2}, "after the drain limit (300ms)"},
		{"iterations, stop timeout", Config{Iterations: 2, StopTimeout: 200 * time.Millisecond}, "after the stop timeout"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			defer goleak.VerifyNone(t)
			release := make(chan struct{})
			defer close(release)
			task := func(_ context.Context, u *User) error {
				u.RecordSuccess("op", "x", time.Millisecond, 0)
				<-release // ignores its context
				return nil
			}
			var log testutil.Buffer
			tc.cfg.Users = 2
			tc.cfg.Logger = slog.New(slog.NewTextHandler(&log, nil))
			r, err := NewRunner(tc.cfg, &UserType{Name: "U", Tasks: NewTaskSet("t").Task(1, task, TaskName("stuck"))})
			require.NoError(t, err)
			r.drainLimit = 300 * time.Millisecond
			done := make(chan error, 1)
			t0 := time.Now()
			go func() { done <- r.Run(context.Background()) }()
			select {
			case err := <-done:
				require.NoError(t, err)
			case <-time.After(20 * time.Second):
				t.Fatal("the drain held Run")
			}
			assert.Less(t, time.Since(t0), 10*time.Second)
			assert.Contains(t, log.String(), "2 users still inside task stuck "+tc.after)
			assert.Equal(t, 2, r.Abandoned())
		})
	}
}

func TestAbandonMessage(t *testing.T) {
	assert.Equal(t, "3 users still inside tasks a (2), b (1) after Kill: not waiting for them",
		abandonMessage(3, map[string]int{"b": 1, "a": 2}, "Kill"))
}

// A Stop or an Abort during the drain after -i ends the drain (within the
// grace), and Run returns the abort's error: the drain does not swallow
// them until the drain limit.
func TestStopOrAbortEndsTheDrain(t *testing.T) {
	boom := errorString("no host: set --host")
	for _, abort := range []bool{false, true} {
		defer goleak.VerifyNone(t)
		release := make(chan struct{})
		entered := make(chan struct{}, 4)
		task := func(ctx context.Context, u *User) error {
			entered <- struct{}{}
			<-ctx.Done() // a task that waits for its context
			return nil
		}
		r, err := NewRunner(Config{Users: 1, Iterations: 1, Logger: slog.New(slog.DiscardHandler)},
			&UserType{Name: "U", Tasks: NewTaskSet("t").Task(1, task)})
		require.NoError(t, err)
		r.drainLimit = time.Minute
		done := make(chan error, 1)
		go func() { done <- r.Run(context.Background()) }()
		<-entered
		time.Sleep(100 * time.Millisecond) // the limit is reached: draining
		t0 := time.Now()
		if abort {
			r.Abort(boom)
		} else {
			r.Stop()
		}
		select {
		case err := <-done:
			if abort {
				require.ErrorIs(t, err, boom)
				assert.Contains(t, r.StopReason(), "no host")
			} else {
				require.NoError(t, err)
				assert.Equal(t, "iterations", r.StopReason())
			}
		case <-time.After(20 * time.Second):
			t.Fatal("the drain held Run after a stop")
		}
		assert.Less(t, time.Since(t0), 5*time.Second)
		close(release)
	}
}

type errorString string

func (e errorString) Error() string { return string(e) }
