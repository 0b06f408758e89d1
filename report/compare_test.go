package report

import (
	"math"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// entry is an entry of a 60 s run at rps with the given failure ratio and
// percentiles, without a response_times histogram.
func entry(method, name string, rps, failRatio, p50, p95, p99 float64) Entry {
	n := int64(math.Round(rps * 60))
	return Entry{
		Method: method, Name: name, NumRequests: n, RPS: rps, FailRatio: failRatio,
		NumFailures: int64(math.Round(failRatio * float64(n))),
		Percentiles: PercentileMap{{P: 50, MS: p50}, {P: 95, MS: p95}, {P: 99, MS: p99}},
	}
}

func TestCompareRules(t *testing.T) {
	base := &Document{
		Stats: []Entry{
			entry("GET", "/same", 100, 0, 10, 20, 30),
			entry("GET", "/slower", 100, 0, 10, 20, 30),
			entry("GET", "/tiny", 100, 0, 0.2, 0.4, 0.5),    // +100% but under 1 ms: not a regression
			entry("GET", "/fewer", 100, 0, 10, 20, 30),      // rps -20%
			entry("GET", "/faster", 100, 0.5, 10, 20, 30),   // everything better
			entry("GET", "/failing", 100, 0, 10, 20, 30),    // fail ratio 0 -> 2%
			entry("GET", "/flaky", 100, 0.0001, 10, 20, 30), // 0.01% -> 0.05%: under the 0.001 floor
			entry("GET", "/within", 100, 0.1, 10, 20, 30),   // changes within 10%
			entry("DELETE", "/removed", 100, 0, 10, 20, 30), // only in the baseline
		},
		Total: entry("", "Aggregated", 500, 0, 10, 20, 30),
	}
	cur := &Document{
		Stats: []Entry{
			entry("GET", "/same", 100, 0, 10, 20, 30),
			entry("GET", "/slower", 100, 0, 10, 20, 45),
			entry("GET", "/tiny", 100, 0, 0.4, 0.8, 1.0),
			entry("GET", "/fewer", 80, 0, 10, 20, 30),
			entry("GET", "/faster", 200, 0, 5, 10, 15),
			entry("GET", "/failing", 100, 0.02, 10, 20, 30),
			entry("GET", "/flaky", 100, 0.0005, 10, 20, 30),
			entry("GET", "/within", 91, 0.109, 10.9, 21.9, 32.9),
			entry("POST", "/new", 100, 0, 10, 20, 30), // only in this run
		},
		Total: entry("", "Aggregated", 500, 0, 10, 20, 30),
	}
	c := Compare(base, cur, 0.10)
	byName := map[string]ComparisonRow{}
	var order []string
	for _, r := range c.Rows {
		byName[r.Name] = r
		order = append(order, r.Name)
	}
	assert.Equal(t, []string{"/failing", "/faster", "/fewer", "/flaky", "/new", "/removed", "/same", "/slower", "/tiny", "/within", "Aggregated"}, order)
	regressed := func(name string) []Metric {
		var ms []Metric
		for _, ch := range byName[name].Changes {
			if ch.Regressed {
				ms = append(ms, ch.Metric)
			}
		}
		return ms
	}
	assert.Equal(t, []Metric{MetricP99}, regressed("/slower"))
	assert.Equal(t, []Metric{MetricRPS}, regressed("/fewer"))
	assert.Equal(t, []Metric{MetricFailRatio}, regressed("/failing"))
	for _, n := range []string{"/same", "/tiny", "/faster", "/flaky", "/within", "Aggregated"} {
		assert.Empty(t, regressed(n), n)
		assert.False(t, byName[n].Regressed, n)
	}
	assert.Equal(t, StatusNew, byName["/new"].Status)
	assert.Equal(t, StatusRemoved, byName["/removed"].Status)
	assert.False(t, byName["/new"].Regressed)
	assert.False(t, byName["/removed"].Regressed)
	assert.Equal(t, 3, c.Regressions)

	ch := byName["/slower"].Changes[4]
	assert.InDelta(t, 0.5, ch.Relative(), 1e-12)
	assert.True(t, math.IsInf(byName["/failing"].Changes[1].Relative(), 1))

	var b strings.Builder
	c.Baseline = "base.json"
	require.NoError(t, WriteComparison(&b, c))
	out := b.String()
	assert.Contains(t, out, "Comparison with base.json (tolerance 10%")
	assert.Regexp(t, `GET\s+/slower .*!30\.0→45\.0 \+50\.0%\s+REGRESSION`, out)
	assert.Regexp(t, `GET\s+/same .* ok`, out)
	assert.Regexp(t, `POST\s+/new\s+new \(not in the baseline\)`, out)
	assert.Regexp(t, `DELETE\s+/removed\s+removed \(not in this run\)`, out)
	assert.Contains(t, out, "3 entries regressed beyond 10% and significant (p < 0.05).")
	t.Log("\n" + out)
}

func TestParseTolerance(t *testing.T) {
	for in, want := range map[string]float64{"10%": 0.1, "0.1": 0.1, " 25 % ": 0.25, "0": 0, "150%": 1.5} {
		got, err := ParseTolerance(in)
		require.NoError(t, err, in)
		assert.InDelta(t, want, got, 1e-12, in)
	}
	for _, in := range []string{"", "ten", "-5%", "NaN", "%"} {
		_, err := ParseTolerance(in)
		assert.Error(t, err, in)
	}
}
