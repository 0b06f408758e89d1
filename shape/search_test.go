package shape_test

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	locust "github.com/golocust/locust"
	"github.com/golocust/locust/shape"
	"github.com/golocust/locust/threshold"
)

// crowdedUser records requests whose time grows with the users running:
// 10 ms per user, so "p95 < 35ms" holds up to 3 users.
func crowdedUser() *locust.UserType {
	return &locust.UserType{
		Name: "Crowded",
		Wait: locust.Constant(5 * time.Millisecond),
		Tasks: locust.NewTaskSet("t").Task(1, func(ctx context.Context, u *locust.User) error {
			u.RecordSuccess("GET", "/c", time.Duration(u.Runner().UserCount())*10*time.Millisecond, 1)
			return nil
		}),
	}
}

func runSearch(t *testing.T, s shape.Search) *shape.Result {
	t.Helper()
	return searchOn(t, s, locust.Config{Users: 1}, crowdedUser())
}

// searchOn runs the search s on a runner of cfg and typ while it runs.
func searchOn(t *testing.T, s shape.Search, cfg locust.Config, typ *locust.UserType) *shape.Result {
	t.Helper()
	cfg.Logger = slog.New(slog.DiscardHandler)
	r, err := locust.NewRunner(cfg, typ)
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- r.Run(context.Background()) }()
	for r.State() == locust.StateReady {
		time.Sleep(5 * time.Millisecond)
	}
	res, err := s.Run(context.Background(), r)
	r.Stop()
	require.NoError(t, <-done)
	require.NoError(t, err)
	return res
}

func TestSearchRunFromCode(t *testing.T) {
	ts, err := threshold.ParseAll([]string{"p95 < 35ms", "fail_ratio < 1%"})
	require.NoError(t, err)
	res := runSearch(t, shape.Search{Thresholds: ts, StepUsers: 1, Settle: 50 * time.Millisecond, Hold: 200 * time.Millisecond, Windows: 1})
	require.Len(t, res.Steps, 4)
	assert.Equal(t, 2, res.Capacity)
	assert.Equal(t, 3, res.Broke)
	assert.Equal(t, 3, res.Steps[res.Capacity].Users)
	assert.Equal(t, 4, res.Steps[res.Broke].Users)
	// the step's own figures, not the whole run's
	assert.InDelta(t, 40, res.Steps[3].P95Ms, 1)
	assert.InDelta(t, 40, res.Steps[3].P50Ms, 1)
	assert.InDelta(t, 10, res.Steps[0].AvgMs, 1)
	for i, s := range res.Steps {
		assert.True(t, s.Stable, "one window is stable")
		assert.Equal(t, s.Users, s.Running, "step %d", i)
		assert.Greater(t, s.RPS, 0.0, "step %d", i)
		assert.Len(t, s.Results, 2)
	}
	assert.Contains(t, res.Reason, `4 users broke "p95 < 35ms" was 40ms`)
	assert.Contains(t, res.Summary(), "Capacity: 3 users")
}

func TestSearchMaxUsers(t *testing.T) {
	ts, err := threshold.ParseAll([]string{"p95 < 1s"})
	require.NoError(t, err)
	res := runSearch(t, shape.Search{Thresholds: ts, StartUsers: 2, StepUsers: 2, MaxUsers: 5, Settle: 20 * time.Millisecond, Hold: 100 * time.Millisecond, Windows: 1})
	require.Len(t, res.Steps, 2)
	assert.Equal(t, []int{2, 4}, []int{res.Steps[0].Users, res.Steps[1].Users})
	assert.Equal(t, 1, res.Capacity)
	assert.Equal(t, -1, res.Broke)
	assert.Contains(t, res.Reason, "maximum of 5 users")
}

// A step is held until two windows in a row agree on the throughput, for
// at most Windows windows; the step's figures are its last window's.
func TestSearchHoldsAStepUntilStable(t *testing.T) {
	ts, err := threshold.ParseAll([]string{"p95 < 35ms"})
	require.NoError(t, err)
	const hold = 150 * time.Millisecond
	search := func(tol float64) (*shape.Result, time.Duration) {
		start := time.Now()
		res := runSearch(t, shape.Search{Thresholds: ts, StepUsers: 3, MaxUsers: 3, Settle: 10 * time.Millisecond, Hold: hold, Windows: 4, Tolerance: tol})
		return res, time.Since(start)
	}
	res, took := search(0.5)
	require.Len(t, res.Steps, 1)
	assert.True(t, res.Steps[0].Stable)
	assert.InDelta(t, hold.Seconds(), res.Steps[0].Seconds, 0.05, "the figures are the last window's")
	assert.Less(t, took, 4*hold, "stable after two windows")

	// no two windows ever agree within a billionth: all four windows run
	res, took = search(1e-9)
	require.Len(t, res.Steps, 1)
	assert.False(t, res.Steps[0].Stable)
	assert.GreaterOrEqual(t, took, 4*hold)
}

func TestSearchValidate(t *testing.T) {
	ts, err := threshold.ParseAll([]string{"p95 < 1s"})
	require.NoError(t, err)
	for _, c := range []struct {
		s    shape.Search
		want string
	}{
		{shape.Search{}, "at least one threshold"},
		{shape.Search{Thresholds: ts, StepUsers: -1}, "at least 0"},
		{shape.Search{Thresholds: ts, SpawnRate: -1}, "negative spawn rate"},
		{shape.Search{Thresholds: ts, Hold: -time.Second}, "negative"},
		{shape.Search{Thresholds: ts, StartUsers: 10, MaxUsers: 5}, "above the maximum"},
		{shape.Search{Thresholds: ts, StepRate: -1}, "arrival rates"},
		{shape.Search{Thresholds: ts, StartRate: 10, MaxRate: 5}, "above the maximum"},
	} {
		err := c.s.Validate()
		if assert.Error(t, err) {
			assert.Contains(t, err.Error(), c.want)
		}
	}
	assert.NoError(t, shape.Search{Thresholds: ts}.Validate())
}

func TestSearchOnStepShowsProgress(t *testing.T) {
	ts, err := threshold.ParseAll([]string{"p95 < 25ms"})
	require.NoError(t, err)
	var seen []int
	res := runSearch(t, shape.Search{Thresholds: ts, StepUsers: 1, Settle: 10 * time.Millisecond, Hold: 100 * time.Millisecond, Windows: 1,
		OnStep: func(s shape.Step) { seen = append(seen, s.Users) }})
	assert.Equal(t, []int{1, 2, 3}, seen)
	assert.Len(t, res.Steps, 3)
}

// runRateSearch runs s on an open-model runner (starting at 1 iteration/s)
// of at most maxUsers users whose iterations record one request after
// sleeping d.
func runRateSearch(t *testing.T, s shape.Search, maxUsers int, d time.Duration) *shape.Result {
	t.Helper()
	typ := &locust.UserType{Name: "Sleepy", Tasks: locust.NewTaskSet("t").Task(1, func(ctx context.Context, u *locust.User) error {
		select {
		case <-time.After(d):
		case <-ctx.Done():
		}
		u.RecordSuccess("GET", "/s", d, 1)
		return nil
	})}
	return searchOn(t, s, locust.Config{ArrivalRate: 1, MaxUsers: maxUsers}, typ)
}

// On an open-model runner the search steps the arrival rate, and a step
// that drops iterations does not hold even when its thresholds do: 10
// users of 20 ms iterations run at most 500 a second, so 50/s holds and
// 650/s drops.
func TestSearchStepsArrivalRate(t *testing.T) {
	ts, err := threshold.ParseAll([]string{"p95 < 10s"})
	require.NoError(t, err)
	res := runRateSearch(t, shape.Search{Thresholds: ts, StartRate: 50, StepRate: 600, Settle: 100 * time.Millisecond, Hold: 400 * time.Millisecond, Windows: 1}, 10, 20*time.Millisecond)
	require.Len(t, res.Steps, 2, "%+v", res)
	held, broke := res.Steps[0], res.Steps[1]
	assert.Equal(t, 0, res.Capacity)
	assert.Equal(t, 1, res.Broke)
	assert.Equal(t, 50.0, held.Rate)
	assert.Equal(t, 650.0, broke.Rate)
	assert.Zero(t, held.Users, "a step of rates has no users target")
	assert.InEpsilon(t, 50, held.RPS, 0.15)
	assert.Zero(t, held.Dropped)
	assert.Positive(t, broke.Dropped)
	require.Len(t, broke.Results, 2, "the threshold and the drop check")
	assert.True(t, broke.Results[0].Pass, "the threshold held")
	assert.False(t, broke.Results[1].Pass)
	assert.Contains(t, res.Reason, `650 iterations/s broke "no dropped iteration" was `)
	assert.Contains(t, res.Summary(), "Capacity: 50 iterations/s")
	var b strings.Builder
	res.Print(&b)
	assert.Contains(t, b.String(), "iter/s  dropped")
}

// The maximum rate ends a search of rates whose every step held.
func TestSearchMaxRate(t *testing.T) {
	ts, err := threshold.ParseAll([]string{"p95 < 10s"})
	require.NoError(t, err)
	res := runRateSearch(t, shape.Search{Thresholds: ts, StartRate: 20, StepRate: 20, MaxRate: 50, Settle: 20 * time.Millisecond, Hold: 200 * time.Millisecond, Windows: 1}, 10, time.Millisecond)
	require.Len(t, res.Steps, 2)
	assert.Equal(t, []float64{20, 40}, []float64{res.Steps[0].Rate, res.Steps[1].Rate})
	assert.Equal(t, 1, res.Capacity)
	assert.Equal(t, -1, res.Broke)
	assert.Contains(t, res.Reason, "maximum of 50 iterations/s")
}
