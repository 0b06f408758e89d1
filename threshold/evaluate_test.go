package threshold_test

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	locust "github.com/golocust/locust"
	"github.com/golocust/locust/threshold"
)

var pctList = append(append([]float64(nil), locust.Percentiles...), 99.5)

// entry builds an EntryStats whose every percentile p is p95 scaled: the
// value of percentile p is p/95 × p95 (so p95 is exactly p95).
func entry(typ, name string, reqs, fails int64, p95 time.Duration) locust.EntryStats {
	start := time.Unix(1000, 0)
	e := locust.EntryStats{
		Type: typ, Name: name, Requests: reqs, Failures: fails,
		TotalTime: time.Duration(reqs) * p95 / 2,
		Min:       p95 / 10, Max: p95 * 2,
		Start: start, Last: start.Add(10 * time.Second),
		PercentileList: pctList,
	}
	for _, p := range pctList {
		e.PercentileValues = append(e.PercentileValues, time.Duration(float64(p95)*p/95))
	}
	return e
}

// snapshot sums the entries into an aggregate, with the aggregate's
// percentiles those of a p95 of total95.
func snapshot(total95 time.Duration, es ...locust.EntryStats) *locust.Snapshot {
	var reqs, fails int64
	for _, e := range es {
		reqs += e.Requests
		fails += e.Failures
	}
	return &locust.Snapshot{Entries: es, Total: entry("", locust.AggregatedName, reqs, fails, total95)}
}

func eval(t *testing.T, s *locust.Snapshot, exprs ...string) []threshold.Result {
	t.Helper()
	ts, err := threshold.ParseAll(exprs)
	require.NoError(t, err)
	return threshold.Evaluate(ts, s)
}

func TestEvaluateAggregate(t *testing.T) {
	s := snapshot(300*time.Millisecond,
		entry("GET", "/home", 900, 9, 200*time.Millisecond),
		entry("POST", "/login", 100, 1, 400*time.Millisecond))
	// total: 1000 requests, 10 failures over 10 s; p95 300ms, avg 150ms,
	// min 30ms, max 600ms, p50 ≈ 157.9ms.
	cases := []struct {
		expr   string
		pass   bool
		actual float64
	}{
		{"p95 < 300ms", false, 300},
		{"p95 <= 300ms", true, 300},
		{"p95 == 300", true, 300},
		{"p95 != 300ms", false, 300},
		{"p99.5 < 1s", true, 300 * 99.5 / 95},
		{"avg < 200ms", true, 150},
		{"avg > 200ms", false, 150},
		{"min >= 30ms", true, 30},
		{"max < 0.5s", false, 600},
		{"med < 100ms", false, 157.894736},
		{"fail_ratio < 0.01", false, 0.01},
		{"fail_ratio <= 1%", true, 0.01},
		{"fail_ratio < 2%", true, 0.01},
		{"failures == 0", false, 10},
		{"failures <= 10", true, 10},
		{"requests > 1000", false, 1000},
		{"requests >= 1000", true, 1000},
		{"rps > 50", true, 100},
		{"rps >= 500", false, 100},
		{"fail_per_sec < 1", false, 1},
		{"fail_per_sec <= 1", true, 1},
	}
	for _, c := range cases {
		t.Run(c.expr, func(t *testing.T) {
			r := eval(t, s, c.expr)[0]
			assert.Equal(t, c.pass, r.Pass, r.ActualText)
			assert.False(t, r.Missing)
			assert.InDelta(t, c.actual, r.Actual, 1e-3) // durations are whole nanoseconds
			assert.NotEmpty(t, r.ActualText)
		})
	}
}

func TestEvaluateText(t *testing.T) {
	s := snapshot(312456*time.Microsecond, entry("GET", "/", 200, 1, time.Second))
	rs := eval(t, s, "p95 < 1s", "fail_ratio < 1%", "rps > 1", "requests > 1", "max < 1s")
	assert.Equal(t, "312.456ms", rs[0].ActualText)
	assert.Equal(t, "0.5%", rs[1].ActualText)
	assert.Equal(t, "20.00/s", rs[2].ActualText)
	assert.Equal(t, "200", rs[3].ActualText)
	assert.Equal(t, "624.912ms", rs[4].ActualText)
}

func TestEvaluatePerEntry(t *testing.T) {
	s := snapshot(300*time.Millisecond,
		entry("GET", "/home", 900, 0, 150*time.Millisecond),
		entry("POST", "/home", 50, 5, 250*time.Millisecond),
		entry("GET", "/login", 50, 0, 400*time.Millisecond),
		entry("grpc", "login flow", 10, 0, 50*time.Millisecond))

	r := eval(t, s, "GET /home: p95 < 200ms")[0]
	assert.True(t, r.Pass)
	assert.Equal(t, 150.0, r.Actual)

	r = eval(t, s, "get /home: p95 < 200ms")[0]
	assert.True(t, r.Pass, "types compare case-insensitively")

	r = eval(t, s, "POST /home: p95 < 200ms")[0]
	assert.False(t, r.Pass)
	assert.Equal(t, 250.0, r.Actual)

	// name only: must hold for GET and POST /home; the worst is reported
	r = eval(t, s, "/home: p95 < 200ms")[0]
	assert.False(t, r.Pass)
	assert.Equal(t, 250.0, r.Actual)
	assert.Equal(t, "250ms (POST)", r.ActualText)

	r = eval(t, s, "/home: p95 < 300ms")[0]
	assert.True(t, r.Pass)
	assert.Equal(t, 250.0, r.Actual, "the value closest to the limit")

	r = eval(t, s, "/home: requests > 100")[0]
	assert.False(t, r.Pass)
	assert.Equal(t, 50.0, r.Actual)

	r = eval(t, s, "/home: fail_ratio < 5%")[0]
	assert.False(t, r.Pass)
	assert.InDelta(t, 0.1, r.Actual, 1e-12)

	// a name with a space, without a type
	r = eval(t, s, "login flow: p95 < 100ms")[0]
	assert.True(t, r.Pass)
	assert.False(t, r.Missing)

	// rps per entry is measured over the whole run
	r = eval(t, s, "GET /login: rps >= 5")[0]
	assert.True(t, r.Pass)
	assert.Equal(t, 5.0, r.Actual)
}

func TestEvaluateMissing(t *testing.T) {
	s := snapshot(300*time.Millisecond, entry("GET", "/home", 10, 0, 100*time.Millisecond),
		entry("GET", "/never", 0, 0, 0))
	for _, expr := range []string{"GET /nope: p95 < 1s", "/nope: failures == 0", "POST /home: p95 < 1s", "GET /never: requests == 0"} {
		r := eval(t, s, expr)[0]
		assert.False(t, r.Pass, expr)
		assert.True(t, r.Missing, expr)
		assert.Contains(t, r.ActualText, "no requests to ", expr)
	}
	// a test without any request: the aggregate is missing too
	for _, s := range []*locust.Snapshot{nil, {}} {
		r := threshold.Evaluate([]threshold.Threshold{must(t, "failures == 0")}, s)[0]
		assert.True(t, r.Missing)
		assert.False(t, r.Pass)
		assert.Equal(t, "no requests", r.ActualText)
	}
}

func TestEvaluatePercentileNotComputed(t *testing.T) {
	s := snapshot(300*time.Millisecond, entry("GET", "/", 10, 0, time.Second))
	r := eval(t, s, "p97.5 < 1s")[0]
	assert.False(t, r.Pass)
	assert.False(t, r.Missing)
	assert.Contains(t, r.ActualText, "p97.5 not computed")
}

func TestAllPass(t *testing.T) {
	assert.True(t, threshold.AllPass(nil))
	assert.True(t, threshold.AllPass([]threshold.Result{{Pass: true}}))
	assert.False(t, threshold.AllPass([]threshold.Result{{Pass: true}, {}}))
}

func TestPrintResults(t *testing.T) {
	s := snapshot(300*time.Millisecond, entry("GET", "/home", 100, 1, 200*time.Millisecond))
	rs := eval(t, s, "p95 < 500ms", "fail_ratio<1%", "GET /nope: p95 < 1s")
	var b bytes.Buffer
	threshold.PrintResults(&b, rs)
	out := b.String()
	assert.Contains(t, out, "Threshold")
	assert.Contains(t, out, "Result")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	require.Len(t, lines, 6)
	assert.Regexp(t, `^p95 < 500ms\s+300ms\s+PASS$`, lines[2])
	assert.Regexp(t, `^fail_ratio<1%\s+1%\s+FAIL$`, lines[3])
	assert.Regexp(t, `^GET /nope: p95 < 1s\s+no requests to GET /nope\s+FAIL$`, lines[4])
	assert.Equal(t, "Thresholds: 1 of 3 passed", lines[5])
	assert.NotRegexp(t, `(?m)^\d+ passed, \d+ failed$`, out)

	b.Reset()
	threshold.PrintResults(&b, nil)
	assert.Empty(t, b.String())
}

func must(t *testing.T, expr string) threshold.Threshold {
	t.Helper()
	th, err := threshold.Parse(expr)
	require.NoError(t, err)
	return th
}
