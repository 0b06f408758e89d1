package locust_test

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/golocust/locust"
)

type bucket struct{ from, to, count int64 }

// EachBucket gives the buckets of Histogram at every size of an entry
// (exact values, packed histogram, full histogram), without building one.
func TestEachBucketMatchesHistogram(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{1, 5, 64, 65, 500, 5000} {
		s := locust.NewStats(locust.StatsOptions{})
		for range n {
			// from 1 µs to 2 h (above the 1 h ceiling), log-uniform
			d := time.Duration(float64(time.Microsecond) * float64(uint64(1)<<rng.IntN(33)) * (1 + rng.Float64()))
			s.Record(locust.Request{Type: "GET", Name: "/x", Duration: d, Start: time.Now()})
		}
		var want, got []bucket
		for _, b := range s.Histogram("GET", "/x").Distribution() {
			if b.Count > 0 {
				want = append(want, bucket{b.From, b.To, b.Count})
			}
		}
		require.True(t, s.EachBucket("GET", "/x", func(from, to, c int64) { got = append(got, bucket{from, to, c}) }))
		assert.Equal(t, want, got, "%d requests", n)
		var total int64
		s.EachBucket("", locust.AggregatedName, func(_, _, c int64) { total += c })
		assert.EqualValues(t, n, total, "the aggregate")
	}
	assert.False(t, locust.NewStats(locust.StatsOptions{}).EachBucket("GET", "/none", func(int64, int64, int64) {}))
}
