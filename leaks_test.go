package locust_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/golocust/locust"
)

// A goroutine a task starts and never ends is reported when the test
// stops (a WARN naming where it runs, and Runner.LeakedGoroutines);
// goroutines that end with the task's context are not.
func TestLeakedGoroutinesAreReported(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	var logs bytes.Buffer
	leaky := &locust.UserType{Name: "Leaky", Wait: locust.Constant(50 * time.Millisecond),
		Tasks: locust.NewTaskSet("t").Task(1, func(ctx context.Context, u *locust.User) error {
			go leakUntil(release)
			done := make(chan struct{})
			go func() { // ends with the task: not a leak
				defer close(done)
				select {
				case <-ctx.Done():
				case <-time.After(time.Millisecond):
				}
			}()
			<-done
			return nil
		})}
	r, err := locust.NewRunner(locust.Config{Users: 2, RunTime: 300 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(&logs, nil))}, leaky)
	require.NoError(t, err)
	require.NoError(t, r.Run(context.Background()))
	assert.Greater(t, r.LeakedGoroutines(), 2, logs.String())
	assert.Contains(t, logs.String(), "user code left goroutines running after the test")
	assert.Contains(t, logs.String(), "locust_test.leakUntil", "names where they run")
}

func leakUntil(c <-chan struct{}) { <-c }

// A test whose tasks start no lasting goroutine reports none, also with
// the goroutines net/http starts for its connections on the users' behalf.
func TestNoLeakReportedForCleanTasks(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) }))
	defer srv.Close()
	tr := &http.Transport{}
	var logs bytes.Buffer
	ut := &locust.UserType{Name: "Clean", Wait: locust.Constant(5 * time.Millisecond),
		Tasks: locust.NewTaskSet("t").Task(1, func(ctx context.Context, u *locust.User) error {
			req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL, nil)
			resp, err := tr.RoundTrip(req)
			if err != nil {
				return err
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			return resp.Body.Close()
		})}
	r, err := locust.NewRunner(locust.Config{Users: 4, RunTime: 300 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(&logs, nil))}, ut)
	require.NoError(t, err)
	r.Events().TestStop.Add(func(*locust.Runner) { tr.CloseIdleConnections() })
	require.NoError(t, r.Run(context.Background()))
	assert.Zero(t, r.LeakedGoroutines(), logs.String())
	assert.NotContains(t, logs.String(), "left goroutines")
}

// Goroutines of a pool a client declared (ExpectGoroutines) are not
// reported.
func TestExpectedGoroutinesAreNotReported(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	ut := &locust.UserType{Name: "Pooled", Wait: locust.Constant(50 * time.Millisecond),
		Tasks: locust.NewTaskSet("t").Task(1, func(ctx context.Context, u *locust.User) error {
			go leakUntil(release)
			return nil
		})}
	r, err := locust.NewRunner(locust.Config{Users: 2, RunTime: 200 * time.Millisecond,
		Logger: slog.New(slog.DiscardHandler)}, ut)
	require.NoError(t, err)
	r.ExpectGoroutines("github.com/golocust/locust_test.leakUntil")
	require.NoError(t, r.Run(context.Background()))
	assert.Zero(t, r.LeakedGoroutines())
}
