package shape_test

import (
	"bytes"
	"context"
	"os"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	locust "github.com/golocust/locust"
	"github.com/golocust/locust/shape"
	"github.com/golocust/locust/threshold"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestStagesTick(t *testing.T) {
	st := shape.Stages{{10 * time.Second, 10}, {20 * time.Second, 50}, {0, 5}, {10 * time.Second, 0}}
	cases := []struct {
		at   time.Duration
		n    int
		rate float64
		ok   bool
	}{
		{0, 10, 1, true},
		{9 * time.Second, 10, 1, true},
		{10 * time.Second, 50, 2, true},
		{29 * time.Second, 50, 2, true},
		{30 * time.Second, 0, 0.5, true}, // the zero-length stage jumps: the next ramps down from 5
		{39 * time.Second, 0, 0.5, true},
		{40 * time.Second, 0, 0, false},
	}
	for _, c := range cases {
		n, rate, ok := st.Tick(c.at)
		assert.Equal(t, c.n, n, "users at %s", c.at)
		assert.InDelta(t, c.rate, rate, 1e-9, "rate at %s", c.at)
		assert.Equal(t, c.ok, ok, "ok at %s", c.at)
	}
	// a zero-length first stage jumps at once
	n, rate, ok := shape.Stages{{0, 7}, {time.Second, 7}}.Tick(0)
	assert.Equal(t, []any{7, 0.0, true}, []any{n, rate, ok})
}

func TestStepsAndSpike(t *testing.T) {
	s := shape.Steps{Users: 5, Every: 10 * time.Second, Max: 12, Rate: 2, Duration: time.Minute}
	for _, c := range []struct {
		at time.Duration
		n  int
	}{{0, 5}, {9 * time.Second, 5}, {10 * time.Second, 10}, {25 * time.Second, 12}, {59 * time.Second, 12}} {
		n, rate, ok := s.Tick(c.at)
		assert.Equal(t, c.n, n, "at %s", c.at)
		assert.Equal(t, 2.0, rate)
		assert.True(t, ok)
	}
	_, _, ok := s.Tick(time.Minute)
	assert.False(t, ok)

	sp := shape.Spike{Base: 2, Peak: 20, Before: time.Second, Hold: 2 * time.Second, After: time.Second}
	for _, c := range []struct {
		at time.Duration
		n  int
		ok bool
	}{{0, 2, true}, {time.Second, 20, true}, {2999 * time.Millisecond, 20, true}, {3 * time.Second, 2, true}, {4 * time.Second, 2, false}} {
		n, _, ok := sp.Tick(c.at)
		assert.Equal(t, c.n, n, "at %s", c.at)
		assert.Equal(t, c.ok, ok, "at %s", c.at)
	}
}

func TestParseStages(t *testing.T) {
	st, err := shape.ParseStages("30s:10, 2m:100,1h30m:0,1.5s:3")
	require.NoError(t, err)
	assert.Equal(t, shape.Stages{{30 * time.Second, 10}, {2 * time.Minute, 100}, {90 * time.Minute, 0}, {1500 * time.Millisecond, 3}}, st)

	for in, want := range map[string]string{
		"":           "no stages",
		"30s":        `stage 1 "30s": want duration:target`,
		"30s:10,x:5": `stage 2 "x:5": bad duration`,
		"30s:ten":    `target "ten" is not a whole number`,
		"30s:-1":     "stage 1: negative target -1",
		"-5s:3":      "bad duration",
		"30s:10,":    `stage 2 "": want duration:target`,
		"30s:1.5":    `target "1.5" is not a whole number`,
	} {
		_, err := shape.ParseStages(in)
		if assert.Error(t, err, in) {
			assert.Contains(t, err.Error(), want, in)
		}
	}
}

// quietUser records one 1 ms success per task run, every 20 ms.
func quietUser() *locust.UserType {
	return &locust.UserType{
		Name: "Quiet",
		Wait: locust.Constant(20 * time.Millisecond),
		Tasks: locust.NewTaskSet("t").Task(1, func(ctx context.Context, u *locust.User) error {
			u.RecordSuccess("GET", "/q", time.Millisecond, 1)
			return nil
		}),
	}
}

func command(out, errOut *bytes.Buffer, setup func(r *locust.Runner), ext ...locust.Extension) *locust.Command {
	return &locust.Command{
		Name:       "loadtest",
		Users:      []*locust.UserType{quietUser()},
		Extensions: ext,
		Stdout:     out,
		Stderr:     errOut,
		Getenv:     func(string) string { return "" },
		Signals:    []os.Signal{syscall.SIGUSR2},
		Setup: func(_ context.Context, r *locust.Runner) error {
			if setup != nil {
				setup(r)
			}
			return nil
		},
	}
}

func TestCommandStagesDriveTheUsers(t *testing.T) {
	var out, errOut bytes.Buffer
	var (
		mu   sync.Mutex
		seen []int
	)
	var wg sync.WaitGroup
	setup := func(r *locust.Runner) {
		quit := make(chan struct{})
		r.Events().TestStart.Add(func(*locust.Runner) {
			wg.Add(1)
			go func() {
				defer wg.Done()
				tk := time.NewTicker(100 * time.Millisecond)
				defer tk.Stop()
				for {
					select {
					case <-quit:
						return
					case <-tk.C:
						mu.Lock()
						seen = append(seen, r.UserCount())
						mu.Unlock()
					}
				}
			}()
		})
		r.Events().TestStop.Add(func(*locust.Runner) { close(quit) })
	}
	start := time.Now()
	code := command(&out, &errOut, setup, shape.NewExtension(nil)).Run(context.Background(),
		[]string{"--headless", "--only-summary", "-u", "50", "--stages", "1s:3,1s:6,1s:6"})
	elapsed := time.Since(start)
	wg.Wait()
	require.Equal(t, 0, code, "%s%s", out.String(), errOut.String())
	assert.Contains(t, errOut.String(), "load shape ended")
	assert.Less(t, elapsed, 6*time.Second, "the shape ends the test after its stages")
	assert.GreaterOrEqual(t, elapsed, 2500*time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	require.NotEmpty(t, seen)
	assert.Equal(t, 6, maxOf(seen), "the stages' highest target, not -u 50: %v", seen)
	assert.Contains(t, seen, 3, "the first stage's target was held: %v", seen)
	first := seen[0]
	assert.LessOrEqual(t, first, 3, "ramped from the start, not at -u: %v", seen)
}

func maxOf(xs []int) int {
	m := xs[0]
	for _, x := range xs {
		m = max(m, x)
	}
	return m
}

func TestCommandBadStagesExit2(t *testing.T) {
	for _, args := range [][]string{
		{"--stages", "30s:abc"},
		{"--stages", "10"},
		{"--stages", "1s:2", "--find-capacity"},
	} {
		var out, errOut bytes.Buffer
		start := time.Now()
		code := command(&out, &errOut, nil, shape.NewExtension(nil)).Run(context.Background(),
			append([]string{"--headless", "-t", "30s"}, args...))
		assert.Equal(t, 2, code, "%v: %s%s", args, out.String(), errOut.String())
		assert.Less(t, time.Since(start), 5*time.Second, "%v: no test ran", args)
		msg := errOut.String()
		assert.Contains(t, msg, "--stages", args)
	}
}

func TestCommandFindCapacityNeedsAThreshold(t *testing.T) {
	var out, errOut bytes.Buffer
	code := command(&out, &errOut, nil, shape.NewExtension(nil)).Run(context.Background(),
		[]string{"--headless", "-t", "30s", "--find-capacity"})
	assert.Equal(t, 2, code, "%s%s", out.String(), errOut.String())
	assert.Contains(t, errOut.String(), "needs at least one threshold")
}

func TestFuncShapeFromCode(t *testing.T) {
	var out, errOut bytes.Buffer
	ext := shape.NewExtension(nil)
	var maxSeen int
	var mu sync.Mutex
	ext.SetShape(shape.Func(func(el time.Duration) (int, float64, bool) {
		if el >= 1500*time.Millisecond {
			return 0, 0, false
		}
		return 4, 0, true
	}))
	setup := func(r *locust.Runner) {
		r.Events().SpawningComplete.Add(func(n int) {
			mu.Lock()
			maxSeen = max(maxSeen, n)
			mu.Unlock()
		})
	}
	code := command(&out, &errOut, setup, ext).Run(context.Background(), []string{"--headless", "--only-summary", "-t", "20s"})
	require.Equal(t, 0, code, "%s%s", out.String(), errOut.String())
	assert.Contains(t, errOut.String(), "load shape ended")
	mu.Lock()
	assert.Equal(t, 4, maxSeen)
	mu.Unlock()
}

func newThresholds(t *testing.T, exprs ...string) *threshold.Extension {
	th := threshold.NewExtension()
	require.NoError(t, th.Add(exprs...))
	return th
}

func TestCommandFindCapacityWithThresholdAbortExit2(t *testing.T) {
	var out, errOut bytes.Buffer
	th := threshold.NewExtension()
	code := command(&out, &errOut, nil, th, shape.NewExtension(th)).Run(context.Background(),
		[]string{"--headless", "-t", "30s", "--find-capacity", "--threshold", "p95 < 1s", "--threshold-abort"})
	assert.Equal(t, 2, code, "%s%s", out.String(), errOut.String())
	assert.Contains(t, errOut.String(), "--find-capacity and --threshold-abort")
}

// A shape that answers a negative count aborts the test: exit 2 with one
// clear line, at the start or later.
func TestCommandBadShapeAnswerAborts(t *testing.T) {
	for _, later := range []time.Duration{0, 1200 * time.Millisecond} {
		var out, errOut bytes.Buffer
		ext := shape.NewExtension(nil)
		ext.SetShape(shape.Func(func(el time.Duration) (int, float64, bool) {
			if el >= later {
				return -1, 0, true
			}
			return 2, 0, true
		}))
		start := time.Now()
		code := command(&out, &errOut, nil, ext).Run(context.Background(), []string{"--headless", "--only-summary", "-t", "20s"})
		assert.Equal(t, 2, code, "%s%s", out.String(), errOut.String())
		assert.Contains(t, errOut.String(), "users must be at least 0, not -1")
		assert.Less(t, time.Since(start), 5*time.Second)
	}
}
