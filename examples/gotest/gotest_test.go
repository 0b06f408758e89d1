package gotest_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	locust "github.com/golocust/locust"
	"github.com/golocust/locust/client"
	"github.com/golocust/locust/demo"
	"github.com/golocust/locust/locusttest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func home(ctx context.Context, u *locust.User) error {
	_, err := client.HTTPFor(u).Get(ctx, "/")
	return err
}

func item(ctx context.Context, u *locust.User) error {
	_, err := client.HTTPFor(u).Get(ctx, fmt.Sprintf("/item/%d", rand.IntN(100)), client.Name("/item/{id}"))
	return err
}

// browser opens the home page and looks at items, waiting between pages.
var browser = &locust.UserType{
	Name:  "Browser",
	Tasks: locust.NewTaskSet("browse").Task(1, home).Task(3, item),
	Wait:  locust.Between(5*time.Millisecond, 20*time.Millisecond),
}

// TestItemsUnderLoad runs 10 users for 2 seconds (with -short: 1 second
// or 100 task runs at most) against a demo server started here, and
// fails, with the stats table in the log, if a request failed or an item
// page is too slow.
func TestItemsUnderLoad(t *testing.T) {
	srv, err := demo.Start(demo.Options{})
	require.NoError(t, err)
	defer srv.Close()

	s := locusttest.Run(t, locusttest.Options{
		Host:       srv.URL,
		Users:      10,
		RunTime:    2 * time.Second,
		Thresholds: []string{"fail_ratio == 0", "p95 < 200ms", "GET /item/{id}: p99 < 500ms"},
	}, browser)

	item, ok := s.Entry("GET", "/item/{id}")
	require.True(t, ok)
	assert.Greater(t, item.Requests, s.Total.Requests/2) // weight 3 of 4
}

// BenchmarkItems runs b.N item pages across 8 users that do not wait and
// reports p50, p95 and p99 (ms) and the requests per second.
func BenchmarkItems(b *testing.B) {
	srv, err := demo.Start(demo.Options{})
	require.NoError(b, err)
	defer srv.Close()

	locusttest.Benchmark(b, locusttest.Options{Host: srv.URL, Users: 8}, locusttest.User(item))
}
