package report_test

import (
	"bytes"
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/golocust/locust"
	"github.com/golocust/locust/report"
	"github.com/golocust/locust/shape"
)

// capacityInput is a report of a run with a capacity search of users: 2
// and 4 held, 6 broke a threshold whose text is hostile.
func capacityInput(t *testing.T, res any) report.ReportInput {
	t.Helper()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	st := locust.NewStats(locust.StatsOptions{Now: func() time.Time { return now }})
	st.Record(locust.Request{Type: "GET", Name: "/", Start: now, Duration: 20 * time.Millisecond})
	return report.ReportInput{Snapshot: st.Snapshot(), ExtraKeys: []string{"capacity"}, Extra: map[string]any{"capacity": res}}
}

func usersResult() *shape.Result {
	step := func(users int, rps, p95 float64, pass bool) shape.Step {
		return shape.Step{Users: users, Running: users, RPS: rps, P50Ms: p95 / 2, P95Ms: p95, P99Ms: p95 * 1.2, Stable: true, Pass: pass,
			Results: []shape.Check{{Threshold: `p95 < 30ms <script>alert("t")</script>`, Actual: "31ms", Pass: pass}}}
	}
	return &shape.Result{
		Steps:    []shape.Step{step(2, 100, 21, true), step(4, 190, 24, true), step(6, 195, 45, false)},
		Capacity: 1, Broke: 2,
		Reason: `6 users broke "p95 < 30ms <script>alert(1)</script>" was 45ms`,
	}
}

// The HTML report shows the capacity search's result (the JSON report's
// extra "capacity") as a table of the steps and an inline SVG chart of
// throughput and p95 per step, with every text escaped.
func TestHTMLCapacityTableAndChart(t *testing.T) {
	var b bytes.Buffer
	require.NoError(t, report.WriteHTML(&b, capacityInput(t, usersResult())))
	page := b.String()
	i := strings.Index(page, `<section id="capacity">`)
	require.Positive(t, i, "a capacity section")
	sec := page[i : i+strings.Index(page[i:], "</section>")]
	assert.Contains(t, page, `href="#capacity"`, "a tab to it")
	assert.Contains(t, sec, "Capacity: 4 users, 190.0 req/s (p95 24.0 ms)")

	// the table: a row per step, its load, figures and verdict
	rows := regexp.MustCompile(`(?s)<tbody>(.*)</tbody>`).FindStringSubmatch(sec)
	require.Len(t, rows, 2)
	assert.Equal(t, 3, strings.Count(rows[1], "<tr"))
	for _, want := range []string{"2 users", "4 users", "6 users", "190.0", "45.0", "held", "broke"} {
		assert.Contains(t, rows[1], want)
	}
	assert.NotContains(t, sec, "Dropped", "a search of users has no dropped column")

	// the chart: a bar per step coloured by verdict, the p95 line through
	// each step
	svg := sec[strings.Index(sec, "<svg"):strings.Index(sec, "</svg>")]
	assert.Equal(t, 2, strings.Count(svg, `class="bar held"`))
	assert.Equal(t, 1, strings.Count(svg, `class="bar broke"`))
	pts := regexp.MustCompile(`<polyline class="p95" fill="none" points="([^"]*)"`).FindStringSubmatch(svg)
	require.Len(t, pts, 2)
	assert.Len(t, strings.Fields(pts[1]), 3)
	assert.Contains(t, svg, ">req/s<")
	assert.Contains(t, svg, ">p95 ms<")

	// hostile strings are escaped; the raw value is not repeated as extra
	// data
	assert.NotContains(t, page, "<script>alert")
	assert.Contains(t, sec, "&lt;script&gt;alert(1)&lt;/script&gt;")
	assert.NotContains(t, page, "<dt>capacity</dt>")
}

// A search of arrival rates read back from a --json-file document (a map,
// not the Go value) shows its rates and dropped iterations; a value that is
// not a capacity result stays raw extra data.
func TestHTMLCapacityOfRatesFromJSON(t *testing.T) {
	res := shape.Result{
		Steps: []shape.Step{
			{Rate: 50, RPS: 50, P95Ms: 20, Pass: true, Stable: true},
			{Rate: 80.5, RPS: 70, P95Ms: 900, Dropped: 12, Stable: true,
				Results: []shape.Check{{Threshold: "no dropped iteration", Actual: "12"}}},
		},
		Capacity: 0, Broke: 1, Reason: `80.5 iterations/s broke "no dropped iteration" was 12`,
	}
	raw, err := json.Marshal(res)
	require.NoError(t, err)
	var doc map[string]any
	require.NoError(t, json.Unmarshal(raw, &doc))
	var b bytes.Buffer
	require.NoError(t, report.WriteHTML(&b, capacityInput(t, doc)))
	page := b.String()
	assert.Contains(t, page, "Capacity: 50 iterations/s, 50.0 req/s")
	assert.Contains(t, page, "80.5 iterations/s")
	assert.Contains(t, page, "<th class=\"num\">Dropped</th>")
	assert.Contains(t, page, ">80.5/s<", "the chart's axis labels the rates")
	assert.Contains(t, page, "<code>no dropped iteration</code> was 12")

	b.Reset()
	require.NoError(t, report.WriteHTML(&b, capacityInput(t, "not a search")))
	assert.NotContains(t, b.String(), `<section id="capacity">`)
	assert.Contains(t, b.String(), "<dt>capacity</dt>")
}
