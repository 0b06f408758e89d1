package locust_test

import (
	"bytes"
	"context"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/golocust/locust"
)

// Many names, each recorded a different number of times (a few values kept
// exactly, or many in a histogram), from several goroutines: every entry
// counts its requests, and its percentiles and histogram agree with them.
func TestManyNames(t *testing.T) {
	defer goleak.VerifyNone(t)
	const names, goroutines = 3000, 4
	s := locust.NewStats(locust.StatsOptions{})
	times := func(i int) int { return 1 + i%150 } // per goroutine
	var wg sync.WaitGroup
	for range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rc := s.Recorder()
			for i := range names {
				name := "/item/" + strconv.Itoa(i)
				for k := range times(i) {
					rc.Record(locust.Request{Type: "GET", Name: name, Duration: time.Duration(1+k) * time.Millisecond})
				}
			}
		}()
	}
	wg.Wait()
	snap := s.Snapshot()
	require.Len(t, snap.Entries, names)
	var total int64
	for i := range names {
		e, ok := snap.Entry("GET", "/item/"+strconv.Itoa(i))
		require.True(t, ok)
		n := times(i)
		require.EqualValues(t, goroutines*n, e.Requests)
		total += e.Requests
		assert.Equal(t, time.Millisecond, e.Min)
		assert.Equal(t, time.Duration(n)*time.Millisecond, e.Max)
		p50, _ := e.Percentile(50)
		want := time.Duration((n+1)/2) * time.Millisecond // each value goroutines times
		assert.InDelta(t, float64(want), float64(p50), float64(want)/1000+float64(time.Millisecond), "/item/%d (%d requests)", i, e.Requests)
		if i%500 == 0 {
			h := s.Histogram("GET", e.Name)
			require.NotNil(t, h)
			assert.EqualValues(t, e.Requests, h.TotalCount())
		}
	}
	assert.Equal(t, total, snap.Total.Requests)
}

func logTo(b *bytes.Buffer) *slog.Logger {
	return slog.New(slog.NewTextHandler(b, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// Past 1,000 distinct names, a run warns once: how many, three examples,
// and client.Name to group them.
func TestManyNamesWarnOnce(t *testing.T) {
	var log bytes.Buffer
	s := locust.NewStats(locust.StatsOptions{Logger: logTo(&log)})
	for i := range 1000 {
		s.Record(locust.Request{Type: "GET", Name: "/item/" + strconv.Itoa(i), Duration: time.Millisecond})
	}
	s.Record(locust.Request{Type: "GET", Name: "/item/0", Duration: time.Millisecond})
	assert.Empty(t, log.String(), "1,000 names are fine")
	s.Record(locust.Request{Type: "GET", Name: "/item/1000", Duration: time.Millisecond})
	out := log.String()
	assert.Equal(t, 1, strings.Count(out, "\n"), out)
	assert.Contains(t, out, "level=WARN")
	assert.Contains(t, out, "1001 so far")
	assert.Contains(t, out, `\"/item/0\", \"/item/1\", \"/item/2\"`)
	assert.Contains(t, out, `client.Name(\"/item/{id}\")`)
	for i := range 3000 {
		s.Record(locust.Request{Type: "POST", Name: "/item/" + strconv.Itoa(i), Duration: time.Millisecond})
	}
	assert.Equal(t, out, log.String(), "only once")
}

// The runner's statistics warn through the runner's logger, which the
// command line prints.
func TestManyNamesWarnThroughRunnerLogger(t *testing.T) {
	var log bytes.Buffer
	task := func(_ context.Context, u *locust.User) error {
		for i := range 1001 {
			u.Record(locust.Request{Type: "GET", Name: "/user/" + strconv.Itoa(i), Duration: time.Millisecond})
		}
		return nil
	}
	ut := &locust.UserType{Name: "U", Tasks: locust.NewTaskSet("t").Task(1, task)}
	r, err := locust.NewRunner(locust.Config{Users: 1, Iterations: 1, Logger: logTo(&log)}, ut)
	require.NoError(t, err)
	require.NoError(t, r.Run(context.Background()))
	assert.Contains(t, log.String(), "1001 so far")
	assert.Contains(t, log.String(), `\"/user/0\"`)
}
