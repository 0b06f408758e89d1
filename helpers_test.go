package locust_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/golocust/locust"
)

// quiet returns cfg with its log discarded.
func quiet(cfg locust.Config) locust.Config {
	cfg.Logger = slog.New(slog.DiscardHandler)
	return cfg
}

func noop(context.Context, *locust.User) error { return nil }

// newRunner makes a runner with a quiet log, failing the test on error.
func newRunner(t *testing.T, cfg locust.Config, types ...*locust.UserType) *locust.Runner {
	t.Helper()
	r, err := locust.NewRunner(quiet(cfg), types...)
	require.NoError(t, err)
	return r
}

// run runs r to its end, with a 20 s safety net.
func run(t *testing.T, r *locust.Runner) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	require.NoError(t, r.Run(ctx))
	require.NotEqual(t, "cancelled", r.StopReason(), "the run hit the 20 s safety net")
}

// start runs r in the background; wait returns Run's error.
func start(t *testing.T, r *locust.Runner) (wait func() error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	return func() error {
		defer cancel()
		select {
		case err := <-done:
			return err
		case <-time.After(25 * time.Second):
			t.Fatal("Run did not return")
			return nil
		}
	}
}
