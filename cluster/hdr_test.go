package cluster

import (
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/golocust/locust"
	"github.com/golocust/locust/cluster/wire"
)

// hdrFloor is the lowest value of the value's bucket in the histograms
// locust.Stats keeps (1 µs to one hour, 3 significant digits).
func TestHdrFloorMatchesHistogram(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	values := []int64{0, 1, 2047, 2048, 2049, 2050, 4095, 4096, 4097, 1 << 20, 1<<20 + 1, 3_600_000_000}
	for range 20000 {
		values = append(values, rng.Int64N(1<<uint(rng.IntN(33))+1))
	}
	for _, v := range values {
		h := hdr.New(1, 3_600_000_000, 3)
		require.NoError(t, h.RecordValue(v))
		f := hdrFloor(v)
		if v > 0 {
			assert.Equal(t, h.Min(), f, "value %d", v)
		}
		assert.True(t, h.ValuesAreEquivalent(v, f), "value %d floor %d", v, f)
		if f > 0 {
			assert.False(t, h.ValuesAreEquivalent(f-1, f), "floor %d of %d is the lowest", f, v)
		}
	}
}

// The collector's response_times_ns hold exact times while an entry has at
// most 64 in a report, then their HDR floors; a report put back keeps them.
func TestCollectorPreciseTimes(t *testing.T) {
	c := NewCollector(nil)
	for i := range 10 {
		c.Record(locust.Request{Type: "GET", Name: "/few", Duration: time.Duration(1_000_000 + i*123_457)})
	}
	for i := range 100 {
		c.Record(locust.Request{Type: "GET", Name: "/many", Duration: time.Duration(5_000_000 + i*98_765)})
	}
	r := c.Take(nil)
	require.Len(t, r.Stats, 2)
	few, many := r.Stats[0], r.Stats[1]
	require.Equal(t, "/few", few.Name)
	assert.Len(t, few.ResponseTimesNs, 10)
	assert.EqualValues(t, 1, few.ResponseTimesNs[1_000_000+9*123_457], "exact nanoseconds")
	var n int64
	for ns, k := range many.ResponseTimesNs {
		assert.Equal(t, hdrFloor(ns/1000)*1000, ns, "an HDR floor")
		n += k
	}
	assert.EqualValues(t, 100, n)
	assert.Nil(t, r.StatsTotal.ResponseTimesNs, "not in the total")

	c.Restore(r)
	r2 := c.Take(nil)
	assert.Equal(t, few.ResponseTimesNs, r2.Stats[0].ResponseTimesNs)
	assert.Equal(t, many.ResponseTimesNs, r2.Stats[1].ResponseTimesNs)
}

// Two Go workers under a Go master: the master's statistics have the same
// percentiles (entries and total) as one locust.Stats that recorded the
// same durations, exact for an entry with few requests and HDR buckets for
// the others; the console says they come from the HDR histogram.
func TestGoClusterPercentilesAreExact(t *testing.T) {
	var mu sync.Mutex
	local := locust.NewStats(locust.StatsOptions{})
	var seq atomic.Int64
	typ := &locust.UserType{
		Name: "Rec",
		Wait: locust.Constant(2 * time.Millisecond),
		Tasks: locust.NewTaskSet("Rec").Task(1, func(ctx context.Context, u *locust.User) error {
			i := seq.Add(1)
			// spread over 4 decades, to the nanosecond
			d := time.Duration(50_000 + (i*7_919_393)%400_000_000)
			names := []string{"/many"}
			if i <= 40 {
				names = append(names, "/few")
			}
			mu.Lock()
			defer mu.Unlock()
			for _, name := range names {
				u.RecordSuccess("GET", name, d, 1)
				local.Record(locust.Request{Type: "GET", Name: name, Duration: d, Length: 1})
			}
			return nil
		}),
	}
	ms := locust.NewStats(locust.StatsOptions{})
	m, err := NewMaster(MasterConfig{
		BindPort: -1, ExpectWorkers: 2, Users: 6, RunTime: 3 * time.Second,
		Classes: []Class{{Name: "Rec"}}, Logger: testLogger(t), Stats: ms,
	})
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	require.NoError(t, m.Listen(ctx))
	_, wait := runGoWorkers(t, ctx, 2, fastConfig(t, m.Port()), []*locust.UserType{typ})
	require.NoError(t, m.Run(ctx))
	for _, err := range wait() {
		require.NoError(t, err)
	}
	want, got := local.Snapshot(), ms.Snapshot()
	require.Greater(t, want.Total.Requests, int64(500))
	require.Equal(t, want.Total.Requests, got.Total.Requests)
	for _, name := range []string{"/few", "/many"} {
		we, _ := want.Entry("GET", name)
		ge, ok := got.Entry("GET", name)
		require.True(t, ok, name)
		assert.Equal(t, we.Requests, ge.Requests, name)
		assert.Equal(t, we.Min, ge.Min, name)
		assert.Equal(t, we.Max, ge.Max, name)
		assert.Equal(t, we.PercentileValues, ge.PercentileValues, name)
	}
	assert.Equal(t, want.Total.PercentileValues, got.Total.PercentileValues)
	assert.Zero(t, got.RoundedRequests)
}

// A Python worker's report (no response_times_ns) is merged from Locust's
// rounded buckets, and the master's snapshot counts its requests as such.
func TestMasterCountsRoundedRequests(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("wire", "testdata", "stats.msgpack"))
	require.NoError(t, err)
	msg, err := wire.Decode(b)
	require.NoError(t, err)
	s := newMasterStats()
	ls := locust.NewStats(locust.StatsOptions{})
	entries, errs, err := s.merge(msg.Data)
	require.NoError(t, err)
	ls.Merge(entries, errs)
	snap := ls.Snapshot()
	assert.Equal(t, snap.Total.Requests, snap.RoundedRequests)
	assert.Positive(t, snap.RoundedRequests)
}
