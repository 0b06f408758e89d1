package gotest_test

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	locust "github.com/golocust/locust"
	"github.com/golocust/locust/client"
	"github.com/golocust/locust/demo"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// browser opens the home page and looks at items, waiting between pages.
func browser(wait locust.WaitTime) *locust.UserType {
	return &locust.UserType{
		Name: "Browser",
		Tasks: locust.NewTaskSet("browse").
			Task(1, func(ctx context.Context, u *locust.User) error {
				_, err := client.HTTPFor(u).Get(ctx, "/")
				return err
			}).
			Task(3, func(ctx context.Context, u *locust.User) error {
				_, err := client.HTTPFor(u).Get(ctx, fmt.Sprintf("/item/%d", rand.IntN(100)), client.Name("/item/{id}"))
				return err
			}),
		Wait: wait,
	}
}

var quiet = slog.New(slog.DiscardHandler)

// TestItemsUnderLoad runs 10 users for 2 seconds against a demo server
// and fails if any request failed or the 95th percentile is too slow.
func TestItemsUnderLoad(t *testing.T) {
	srv, err := demo.Start(demo.Options{})
	require.NoError(t, err)
	defer srv.Close()

	r, err := locust.NewRunner(locust.Config{
		Host:    srv.URL,
		Users:   10,
		RunTime: 2 * time.Second,
		Logger:  quiet,
	}, browser(locust.Between(5*time.Millisecond, 20*time.Millisecond)))
	require.NoError(t, err)
	require.NoError(t, r.Run(t.Context()))

	s := r.Snapshot()
	assert.Positive(t, s.Total.Requests)
	assert.Zero(t, s.Total.FailRatio(), "failures: %v", s.Errors)
	assert.Empty(t, s.Exceptions)
	p95, _ := s.Total.Percentile(95)
	assert.Less(t, p95, 200*time.Millisecond)
	item, ok := s.Entry("GET", "/item/{id}")
	require.True(t, ok)
	assert.Greater(t, item.Requests, s.Total.Requests/2) // weight 3 of 4
}

// BenchmarkItems runs b.N task runs with 8 users that do not wait and
// reports the latency percentiles and the throughput.
func BenchmarkItems(b *testing.B) {
	srv, err := demo.Start(demo.Options{})
	require.NoError(b, err)
	defer srv.Close()

	r, err := locust.NewRunner(locust.Config{
		Host:       srv.URL,
		Users:      8,
		Iterations: int64(b.N),
		Logger:     quiet,
	}, browser(nil))
	require.NoError(b, err)

	b.ResetTimer()
	require.NoError(b, r.Run(context.Background()))
	b.StopTimer()

	s := r.Snapshot()
	require.Zero(b, s.Total.Failures)
	p50, _ := s.Total.Percentile(50)
	p99, _ := s.Total.Percentile(99)
	b.ReportMetric(float64(p50)/float64(time.Millisecond), "p50-ms")
	b.ReportMetric(float64(p99)/float64(time.Millisecond), "p99-ms")
	b.ReportMetric(s.Total.TotalRPS(s.Total), "req/s")
}
