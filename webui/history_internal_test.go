package webui

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/golocust/locust"
)

func snap(at time.Time, entries ...locust.EntryStats) *locust.Snapshot {
	s := &locust.Snapshot{Time: at, Entries: entries, Total: locust.EntryStats{Name: locust.AggregatedName}}
	for _, e := range entries {
		s.Total.Requests += e.Requests
		s.Total.TotalTime += e.TotalTime
	}
	return s
}

func TestHistoryAveragesPerSecond(t *testing.T) {
	h := newHistory(2)
	t0 := time.Unix(1_700_000_000, 0)
	a := func(n int64, total time.Duration) locust.EntryStats {
		return locust.EntryStats{Type: "GET", Name: "/a", Requests: n, TotalTime: total}
	}
	b := locust.EntryStats{Type: "GET", Name: "/b", Requests: 1, TotalTime: time.Millisecond}
	c := locust.EntryStats{Type: "GET", Name: "/c", Requests: 1, TotalTime: time.Millisecond}
	h.add(snap(t0, a(10, 100*time.Millisecond)), false)                        // 10 ms each
	h.add(snap(t0.Add(time.Second), a(10, 100*time.Millisecond), b, c), false) // /a: none this second
	h.add(snap(t0.Add(2*time.Second), a(30, 500*time.Millisecond), b, c), false)
	h.add(snap(t0.Add(3*time.Second), a(2, 4*time.Millisecond), b, c), false) // stats were reset
	require.Len(t, h.points, 4)
	assert.Equal(t, []entryKey{{"GET", "/a"}, {"GET", "/b"}}, h.names, "capped at 2 chart lines")
	assert.Equal(t, 10.0, h.points[0].Avg[0])
	assert.Equal(t, -1.0, h.points[1].Avg[0], "no /a request ended in that second")
	assert.Equal(t, 1.0, h.points[1].Avg[1])
	assert.Equal(t, 20.0, h.points[2].Avg[0], "(500-100) ms / 20 requests")
	assert.Equal(t, 2.0, h.points[3].Avg[0], "after a reset: the new totals")
	// the final snapshot replaces the point of its second
	h.add(snap(t0.Add(3*time.Second+500*time.Millisecond), a(4, 8*time.Millisecond), b, c), true)
	assert.Len(t, h.points, 4)
	assert.Len(t, h.samples, 4)
	assert.Equal(t, 4, strings.Count(h.csv.String(), "\n")-1, "a header, then one row per second: %q", h.csv.String())
}

func TestHistoryStaysBounded(t *testing.T) {
	h := newHistory(10)
	t0 := time.Unix(1_700_000_000, 0)
	for i := range 3 * maxPoints {
		h.add(snap(t0.Add(time.Duration(i)*time.Second), locust.EntryStats{Type: "GET", Name: "/", Requests: int64(i + 1), TotalTime: time.Duration(i+1) * time.Millisecond}), false)
	}
	assert.LessOrEqual(t, len(h.points), maxPoints)
	assert.Greater(t, len(h.points), maxPoints/2)
	assert.Len(t, h.samples, len(h.points))
	assert.Positive(t, h.gen, "clients refetch after points were dropped")
	assert.Equal(t, t0.UnixMilli(), h.points[0].T, "the chart still starts at the start")
	assert.Equal(t, t0.Add(time.Duration(3*maxPoints-1)*time.Second).UnixMilli(), h.points[len(h.points)-1].T, "and ends now")
}
