package report

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/golocust/locust"
)

func TestSignificanceTests(t *testing.T) {
	// P(Binomial(10, 1/2) <= 2) = (1+10+45)/1024
	assert.InDelta(t, 56.0/1024, binomCDF(2, 10, 0.5), 1e-12)
	assert.Equal(t, 1.0, binomCDF(10, 10, 0.3))
	assert.Equal(t, 0.0, binomCDF(-1, 10, 0.3))
	// the normal approximation takes over smoothly past exactLimit terms
	n, k := int64(2*exactLimit), int64(exactLimit-1)
	pmf := math.Exp(lchoose(float64(n), float64(k+1)) + float64(n)*math.Log(0.5))
	assert.InDelta(t, binomCDF(k, n, 0.5)+pmf, binomCDF(k+1, n, 0.5), 1e-5)

	// Fisher's lady tasting tea: 3 of 4 right, one-sided p = 17/70
	assert.InDelta(t, 17.0/70, hyperSF(3, 8, 4, 4), 1e-12)
	assert.InDelta(t, 17.0/70, failRiseP(1, 4, 3, 4), 1e-12)
	assert.Equal(t, 1.0, failRiseP(0, 100, 0, 100), "no failure anywhere")
	assert.Less(t, failRiseP(0, 1000, 20, 1000), 1e-5)

	// rates: 45 then 40 requests in 8 s each is chance; 450 then 300 is not
	assert.Greater(t, rateDropP(45, 8, 40, 8), 0.3)
	assert.Less(t, rateDropP(450, 8, 300, 8), 1e-7)
	// the run lengths count: 40 requests in 4 s is no drop from 45 in 8 s
	assert.Equal(t, 1.0, min(1, rateDropP(45, 8, 40, 4)+0.5))
	assert.Greater(t, rateDropP(45, 8, 40, 4), 0.99)
	assert.Equal(t, 1.0, rateDropP(45, 0, 40, 8), "unknown run length")

	// percentile test: {1,2,3} against {4,5,6} at p50: the line is above
	// 3, all 3 requests above it are after: p = 1/C(6,3)
	p, ok := slowerP(Counts{1: 1, 2: 1, 3: 1}, Counts{4: 1, 5: 1, 6: 1}, 50)
	require.True(t, ok)
	assert.InDelta(t, 1.0/20, p, 1e-12)
	p, _ = slowerP(Counts{4: 1, 5: 1, 6: 1}, Counts{1: 1, 2: 1, 3: 1}, 50)
	assert.Equal(t, 1.0, p, "faster is not slower")
	p, ok = slowerP(Counts{5: 30}, Counts{5: 40}, 95)
	assert.True(t, ok)
	assert.Equal(t, 1.0, p, "all in one bucket")
	_, ok = slowerP(Counts{}, Counts{5: 40}, 50)
	assert.False(t, ok, "no histogram: no test")
	// ties: 100 requests at 5 ms against 50 at 5 ms and 50 at 6 ms
	p, _ = slowerP(Counts{5: 100}, Counts{5: 50, 6: 50}, 50)
	assert.InDelta(t, math.Exp(lchoose(100, 50)-lchoose(200, 50)), p, 1e-30)
	// the tail alone: p99 sees 1% against 3% slow requests
	p, _ = slowerP(Counts{10: 990, 100: 10}, Counts{10: 970, 100: 30}, 99)
	assert.Less(t, p, 0.01)
	// a 5% shift of the median of 90 requests says little about their p99
	p, _ = slowerP(Counts{10: 45, 11: 44, 12: 1}, Counts{10: 30, 11: 58, 12: 1, 13: 1}, 99)
	assert.Greater(t, p, 0.2)

	assert.Equal(t, []float64{0.03, 0.06, 0.06}, roundAll(holm([]float64{0.01, 0.04, 0.03})))
	assert.Equal(t, []float64{1, 1}, holm([]float64{0.9, 0.7}))
}

func roundAll(fs []float64) []float64 {
	out := make([]float64, len(fs))
	for i, f := range fs {
		out[i] = math.Round(f*1e9) / 1e9
	}
	return out
}

// target describes the quickstart's demo target as the quickstart loads it
// (Shopper's task weights 8:4:12:2:1 at about 150 tasks/s): per entry, its
// request rate and response time.
type target struct {
	name      string
	rps       float64
	base      time.Duration // the handler's own time
	fail      bool
	jitterExp time.Duration // mean of the exponential overhead on top
}

func quickstartTarget(slow time.Duration) []target {
	return []target{
		{name: "/home", rps: 45, base: 200 * time.Microsecond, jitterExp: 300 * time.Microsecond},
		{name: "/profile", rps: 22, base: 200 * time.Microsecond, jitterExp: 300 * time.Microsecond},
		{name: "/item/{id}", rps: 67, base: 250 * time.Microsecond, jitterExp: 300 * time.Microsecond},
		{name: "/slow", rps: 11, base: slow, jitterExp: 500 * time.Microsecond},
		{name: "/error", rps: 5.6, base: 150 * time.Microsecond, jitterExp: 200 * time.Microsecond, fail: true},
	}
}

// simulatedRun records an 8 s run against tg through the real statistics
// engine (with a simulated clock) and returns its --json-file document.
// Requests of each entry arrive as a Poisson process; a run-wide factor of
// ±3 % on every response time stands for a machine that is a little
// busier in one run than in the other.
func simulatedRun(t *testing.T, rng *rand.Rand, tg []target) *Document {
	t.Helper()
	t0 := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	now := t0
	st := locust.NewStats(locust.StatsOptions{Now: func() time.Time { return now }, Shards: 1})
	const run = 8 * time.Second
	factor := 0.97 + 0.06*rng.Float64()
	errBroken := errors.New("HTTP 500")
	for _, e := range tg {
		at := time.Duration(0)
		for {
			at += time.Duration(rng.ExpFloat64() / e.rps * float64(time.Second))
			d := time.Duration(float64(e.base+time.Duration(rng.ExpFloat64()*float64(e.jitterExp))) * factor)
			if at+d > run {
				break
			}
			var err error
			if e.fail {
				err = errBroken
			}
			st.Record(locust.Request{Type: "GET", Name: e.name, Start: t0.Add(at), Duration: d, Length: 100, Err: err})
		}
	}
	now = t0.Add(run)
	st.Flush()
	snap := st.Snapshot()
	doc := NewDocument(ReportInput{Start: t0, End: now, Snapshot: snap, Stats: st})
	require.Len(t, doc.Stats, len(tg))
	return doc
}

// Two runs of the same target differ only by chance: with the tests,
// nothing is flagged; by the tolerance alone (the rule before them), most
// pairs flag something, as the quickstart's did.
func TestCompareSameTargetFlagsNothing(t *testing.T) {
	const pairs = 40
	rng := rand.New(rand.NewPCG(7, 11))
	flaggedByTolerance := 0
	for i := range pairs {
		a := simulatedRun(t, rng, quickstartTarget(10*time.Millisecond))
		b := simulatedRun(t, rng, quickstartTarget(10*time.Millisecond))
		c := Compare(a, b, DefaultTolerance)
		worse := false
		for _, r := range c.Rows {
			for _, ch := range r.Changes {
				require.True(t, ch.Tested, "pair %d: %s %s %s could not be tested", i, r.Type, r.Name, ch.Metric)
				worse = worse || ch.Worse
			}
		}
		if worse {
			flaggedByTolerance++
		}
		if !assert.Zero(t, c.Regressions, "pair %d", i) {
			var out strings.Builder
			require.NoError(t, WriteComparison(&out, c))
			t.Log("\n" + out.String())
		}
	}
	t.Logf("%d of %d pairs of the same target would be flagged on the tolerance alone", flaggedByTolerance, pairs)
	assert.Greater(t, flaggedByTolerance, pairs/2, "the pairs must be noisy enough for the test to mean something")
}

// The case: targets that differ only in /slow (10 ms against
// 20 ms). /slow is flagged every time, nothing else ever, and /error's
// chance rate change shows as "~".
func TestCompareSlowTargetFlagsOnlySlow(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 5))
	for i := range 10 {
		a := simulatedRun(t, rng, quickstartTarget(10*time.Millisecond))
		b := simulatedRun(t, rng, quickstartTarget(20*time.Millisecond))
		c := Compare(a, b, DefaultTolerance)
		var out strings.Builder
		require.NoError(t, WriteComparison(&out, c))
		msg := fmt.Sprintf("pair %d\n%s", i, out.String())
		for _, r := range c.Rows {
			switch r.Name {
			case "/slow":
				require.True(t, r.Regressed, msg)
				assert.True(t, r.Changes[2].Regressed, "p50: %s", msg)
				assert.Less(t, r.Changes[2].P, 1e-6, msg)
			case locust.AggregatedName:
				// /slow is in the aggregate: its tail rightly regressed,
				// nothing else
				for _, ch := range r.Changes {
					if ch.Metric == MetricRPS || ch.Metric == MetricFailRatio || ch.Metric == MetricP50 {
						assert.False(t, ch.Regressed, "%s: %+v", msg, ch)
					}
				}
			default:
				assert.False(t, r.Regressed, "%s: %s", msg, r.Name)
			}
		}
		if i == 0 {
			t.Log("\n" + out.String())
		}
	}

	// 45 then 40 requests of /error in 8 s (5.62 -> 5.01 requests/s): ~
	base := &Document{Stats: []Entry{{Method: "GET", Name: "/error", NumRequests: 45, NumFailures: 45, RPS: 5.62, FailRatio: 1}}}
	cur := &Document{Stats: []Entry{{Method: "GET", Name: "/error", NumRequests: 40, NumFailures: 40, RPS: 5.01, FailRatio: 1}}}
	c := Compare(base, cur, DefaultTolerance)
	ch := c.Rows[0].Changes[0]
	require.Equal(t, MetricRPS, ch.Metric)
	assert.True(t, ch.Worse, "-11%% is beyond the tolerance")
	assert.True(t, ch.Tested)
	assert.False(t, ch.Significant, "p = %v", ch.P)
	assert.False(t, ch.Regressed)
	var out strings.Builder
	require.NoError(t, WriteComparison(&out, c))
	assert.Regexp(t, `GET\s+/error\s+ 5\.62→5\.01 ~ .* ok`, out.String())
	assert.Contains(t, out.String(), "p < 0.05")
	assert.Contains(t, out.String(), "Mood's quantile test")
	assert.NotContains(t, out.String(), "Aggregated", "no aggregate in either document: no row")
	assert.Contains(t, out.String(), "Fisher's exact test")
	assert.Contains(t, out.String(), "No regression beyond 10% and significant (p < 0.05).")
}

// The HTML report shows "~" for a change that is not significant and says
// which tests were used. In richInput the baseline's /search percentiles
// were lowered by hand but its response_times were not, so the histograms
// show no change: the +43% is beyond the tolerance but not significant.
func TestHTMLComparisonShowsSignificance(t *testing.T) {
	in := richInput(t)
	var search ComparisonRow
	for _, r := range in.Comparison.Rows {
		if r.Name == "/search?q={term}" {
			search = r
		}
	}
	require.Equal(t, StatusBoth, search.Status)
	p95 := search.Changes[3]
	require.Equal(t, MetricP95, p95.Metric)
	assert.True(t, p95.Worse)
	assert.True(t, p95.Tested)
	assert.False(t, p95.Significant)
	assert.False(t, search.Regressed)

	var b strings.Builder
	require.NoError(t, WriteHTML(&b, in))
	html := b.String()
	assert.Contains(t, html, `<span class="rel ns" title="p = 1">~</span>`)
	assert.Contains(t, html, "Mood&#39;s quantile test")
	assert.Contains(t, html, "Holm-adjusted over")
	assert.Contains(t, html, "statistically significant")
}
