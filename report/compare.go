package report

import (
	"cmp"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/golocust/locust"
)

// Floors below which a change is never a regression, however large it is
// relative to the baseline, so that tiny values do not flag.
const (
	// LatencyFloorMS: a percentile must rise by at least 1 ms.
	LatencyFloorMS = 1.0
	// FailRatioFloor: the failure ratio must rise by at least 0.001 (0.1 %).
	FailRatioFloor = 0.001
	// RPSFloor: the request rate must fall by at least 0.1 requests/s.
	RPSFloor = 0.1
)

// DefaultTolerance is the relative change --compare-tolerance allows by
// default (10 %).
const DefaultTolerance = 0.10

// Metric names a compared value. Its methods are safe for concurrent use.
type Metric string

// The compared metrics, in the order they are shown.
const (
	MetricRPS       Metric = "rps"        // whole-run requests/s; lower is worse
	MetricFailRatio Metric = "fail_ratio" // failures / requests; higher is worse
	MetricP50       Metric = "p50"        // ms; higher is worse
	MetricP95       Metric = "p95"        // ms; higher is worse
	MetricP99       Metric = "p99"        // ms; higher is worse
)

var compareMetrics = []Metric{MetricRPS, MetricFailRatio, MetricP50, MetricP95, MetricP99}

// Label is the metric's column title. Safe for concurrent use.
func (m Metric) Label() string {
	switch m {
	case MetricRPS:
		return "req/s"
	case MetricFailRatio:
		return "fail ratio"
	case MetricP50:
		return "p50 ms"
	case MetricP95:
		return "p95 ms"
	case MetricP99:
		return "p99 ms"
	}
	return string(m)
}

// Change is one metric of one entry before and after. It is plain data,
// safe to copy and to read from many goroutines.
type Change struct {
	Metric        Metric
	Before, After float64
	// Worse is true when the change is worse than the tolerance allows and
	// beyond the metric's floor.
	Worse bool
	// Tested is true when the significance test could be made (it needs
	// both runs' counts, and for latency both runs' response_times
	// histograms; documents written without them cannot be tested).
	Tested bool
	// P is the test's p-value, adjusted for the number of tests of the
	// comparison (Holm); 1 when not Tested.
	P float64
	// Significant is true when Tested and P < Comparison.Alpha: the change
	// is too large to be chance, given the requests behind it.
	Significant bool
	// Regressed is true when the change is Worse and Significant, or Worse
	// and could not be Tested (then the tolerance alone decides, as it did
	// before the tests existed).
	Regressed bool
}

// Relative is (After-Before)/|Before|; an infinity of After's sign when
// Before is 0 and After is not, 0 when both are. Safe for concurrent use.
func (c Change) Relative() float64 {
	if c.Before == 0 {
		if c.After == 0 {
			return 0
		}
		return math.Inf(int(math.Copysign(1, c.After)))
	}
	return (c.After - c.Before) / math.Abs(c.Before)
}

// RowStatus says whether an entry is in both runs. It is a plain string.
type RowStatus string

// The row statuses.
const (
	StatusBoth    RowStatus = "both"    // compared
	StatusNew     RowStatus = "new"     // only in this run
	StatusRemoved RowStatus = "removed" // only in the baseline
)

// ComparisonRow is one entry of a comparison. It is plain data, safe to
// copy and to read from many goroutines.
type ComparisonRow struct {
	Type, Name string
	Status     RowStatus
	// Changes holds one Change per metric when Status is StatusBoth.
	Changes []Change
	// Regressed is true when any change regressed.
	Regressed bool
}

// Comparison compares a run with a baseline run, entry by entry. It is
// plain data, safe to copy and to read from many goroutines.
type Comparison struct {
	// Baseline names the baseline (its file name).
	Baseline string
	// Tolerance is the relative change allowed (0.1 = 10 %).
	Tolerance float64
	// Alpha is the significance level: a change is significant when its
	// Holm-adjusted p-value is below it.
	Alpha float64
	// Tests is the number of significance tests made (the Holm family):
	// per entry in both runs, a rate test, a failure-ratio test when either
	// run had a failure, and a test per percentile (p50, p95, p99) when a
	// request lies above its line (see TestLatency).
	Tests int
	// Rows are sorted by (name, type), the aggregate last.
	Rows []ComparisonRow
	// Regressions counts the rows that regressed.
	Regressions int
}

// Alpha is the significance level Compare uses: a change is flagged only
// when, after the Holm correction for the number of tests, p < Alpha.
const Alpha = 0.05

// The significance tests, as WriteComparison names them.
const (
	TestRate      = "requests/s: conditional binomial test of the two Poisson counts"
	TestFailRatio = "fail ratio: Fisher's exact test"
	TestLatency   = "p50/p95/p99: Mood's quantile test (Fisher's exact test on the requests above the percentile of both runs' response_times)"
)

// Compare compares current with baseline. A metric is worse when it got
// worse by more than tolerance relative to the baseline and by more than
// its floor: a percentile (p50, p95, p99) rose by more than tolerance and
// by at least LatencyFloorMS; the failure ratio rose by more than tolerance
// and by at least FailRatioFloor; the request rate fell by more than
// tolerance and by at least RPSFloor.
//
// A worse metric regresses only when the change is also statistically
// significant for the numbers of requests behind it, so that the noise of
// two runs of the same target is not flagged. Each test is one-sided (in
// the direction of a regression) and treats requests as independent:
//
//   - requests/s: num_requests in the seconds of each run (num_requests /
//     rps) compared as two Poisson counts, by the binomial test conditional
//     on their sum (TestRate);
//   - fail ratio: num_failures out of num_requests, by Fisher's exact test
//     (TestFailRatio);
//   - p50, p95, p99: Mood's test generalised to the percentile
//     (TestLatency): the response_times histograms of both runs are
//     pooled, a line is drawn at the percentile of the pooled requests,
//     and Fisher's exact test says whether the current run has more than
//     its share of the requests above the line. Each percentile is tested
//     on its own, so a p99 is judged by the requests in the tail: the p99
//     of a hundred requests rests on the slowest one or two and is rarely
//     significant.
//
// The p-values are adjusted with Holm's method over all the tests of the
// comparison (Comparison.Tests), so that when nothing changed, the chance
// that any entry is flagged stays below Alpha. A worse metric that cannot
// be tested (a document without counts or histograms) regresses on the
// tolerance alone. Entries in only one of the two are listed as new or
// removed and never regress. Safe for concurrent use.
func Compare(baseline, current *Document, tolerance float64) *Comparison {
	c := &Comparison{Tolerance: tolerance, Alpha: Alpha}
	type key struct{ typ, name string }
	before := map[key]Entry{}
	after := map[key]Entry{}
	var keys []key
	for _, e := range baseline.Stats {
		k := key{e.Method, e.Name}
		before[k] = e
		keys = append(keys, k)
	}
	for _, e := range current.Stats {
		k := key{e.Method, e.Name}
		after[k] = e
		if _, ok := before[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.SortFunc(keys, func(a, b key) int {
		if c := cmp.Compare(a.name, b.name); c != 0 {
			return c
		}
		return cmp.Compare(a.typ, b.typ)
	})
	// tests collects the raw p-values; refs says which changes each one
	// decides, as (row, change) indexes.
	var tests []float64
	var refs [][2]int
	add := func(typ, name string, b Entry, okB bool, a Entry, okA bool) {
		row := ComparisonRow{Type: typ, Name: name}
		switch {
		case okB && okA:
			row.Status = StatusBoth
			var ps []entryTest
			row.Changes, ps = compareEntries(b, a, tolerance)
			for _, t := range ps {
				tests = append(tests, t.p)
				refs = append(refs, [2]int{len(c.Rows), t.change})
			}
		case okA:
			row.Status = StatusNew
		default:
			row.Status = StatusRemoved
		}
		c.Rows = append(c.Rows, row)
	}
	for _, k := range keys {
		b, okB := before[k]
		a, okA := after[k]
		add(k.typ, k.name, b, okB, a, okA)
	}
	if okB, okA := baseline.Total.NumRequests > 0, current.Total.NumRequests > 0; okB || okA {
		add("", locust.AggregatedName, baseline.Total, okB, current.Total, okA)
	}

	c.Tests = len(tests)
	for i, p := range holm(tests) {
		ch := &c.Rows[refs[i][0]].Changes[refs[i][1]]
		ch.P = p
		ch.Significant = ch.Tested && p < c.Alpha
	}
	for i := range c.Rows {
		row := &c.Rows[i]
		for j := range row.Changes {
			ch := &row.Changes[j]
			ch.Regressed = ch.Worse && (ch.Significant || !ch.Tested)
			row.Regressed = row.Regressed || ch.Regressed
		}
		if row.Regressed {
			c.Regressions++
		}
	}
	return c
}

// entryTest is one significance test of an entry: its raw p-value and the
// index of the change it decides.
type entryTest struct {
	p      float64
	change int
}

// exposure is the number of seconds behind an entry's requests/s.
func exposure(e Entry) float64 {
	if e.NumRequests <= 0 || !(e.RPS > 0) || math.IsInf(e.RPS, 0) {
		return 0
	}
	return float64(e.NumRequests) / e.RPS
}

func compareEntries(b, a Entry, tol float64) ([]Change, []entryTest) {
	out := make([]Change, 0, len(compareMetrics))
	var tests []entryTest
	for i, m := range compareMetrics {
		ch := Change{Metric: m, P: 1}
		switch m {
		case MetricRPS:
			ch.Before, ch.After = b.RPS, a.RPS
			ch.Worse = ch.Before-ch.After >= RPSFloor && ch.After < ch.Before*(1-tol)
			if tb, ta := exposure(b), exposure(a); tb > 0 && ta > 0 {
				ch.Tested = true
				tests = append(tests, entryTest{p: rateDropP(b.NumRequests, tb, a.NumRequests, ta), change: i})
			}
		case MetricFailRatio:
			ch.Before, ch.After = b.FailRatio, a.FailRatio
			ch.Worse = ch.After-ch.Before >= FailRatioFloor && ch.After > ch.Before*(1+tol)
			if b.NumRequests > 0 && a.NumRequests > 0 {
				// With no failure in either run nothing can be
				// significant: not a test of the family.
				ch.Tested = true
				if b.NumFailures+a.NumFailures > 0 {
					tests = append(tests, entryTest{p: failRiseP(b.NumFailures, b.NumRequests, a.NumFailures, a.NumRequests), change: i})
				}
			}
		default:
			pct := map[Metric]float64{MetricP50: 50, MetricP95: 95, MetricP99: 99}[m]
			ch.Before, _ = b.Percentiles.Get(pct)
			ch.After, _ = a.Percentiles.Get(pct)
			ch.Worse = ch.After-ch.Before >= LatencyFloorMS && ch.After > ch.Before*(1+tol)
			if p, ok := slowerP(b.ResponseTimes, a.ResponseTimes, pct); ok {
				ch.Tested = true
				if p < 1 {
					tests = append(tests, entryTest{p: p, change: i})
				}
			}
		}
		out = append(out, ch)
	}
	return out, tests
}

// ParseTolerance reads a tolerance written as a percentage ("10%") or a
// fraction ("0.1"). It must not be negative. Safe for concurrent use.
func ParseTolerance(s string) (float64, error) {
	t := strings.TrimSpace(s)
	pct := strings.HasSuffix(t, "%")
	t = strings.TrimSpace(strings.TrimSuffix(t, "%"))
	v, err := strconv.ParseFloat(t, 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, fmt.Errorf("invalid tolerance %q (use e.g. 10%% or 0.1)", s)
	}
	if pct {
		v /= 100
	}
	if v < 0 {
		return 0, fmt.Errorf("invalid tolerance %q: must not be negative", s)
	}
	return v, nil
}

// formatPct formats a fraction as a percentage, e.g. 0.1 as "10%".
func formatPct(f float64) string {
	return strconv.FormatFloat(f*100, 'f', -1, 64) + "%"
}

// formatMetric formats a value of metric m for the tables.
func formatMetric(m Metric, v float64) string {
	switch m {
	case MetricRPS:
		return strconv.FormatFloat(v, 'f', 2, 64)
	case MetricFailRatio:
		return strconv.FormatFloat(v*100, 'f', 2, 64) + "%"
	}
	return fmtMS(v)
}

// fmtMS formats milliseconds with a precision that suits the size.
func fmtMS(v float64) string {
	switch {
	case v == 0:
		return "0"
	case math.Abs(v) < 10:
		return strconv.FormatFloat(v, 'f', 2, 64)
	case math.Abs(v) < 100:
		return strconv.FormatFloat(v, 'f', 1, 64)
	}
	return strconv.FormatFloat(v, 'f', 0, 64)
}

// formatRelative formats a relative change, e.g. "+12.5%".
func formatRelative(c Change) string {
	r := c.Relative()
	switch {
	case math.IsInf(r, 1):
		return "from 0"
	case math.IsInf(r, -1):
		return "from 0"
	}
	return fmt.Sprintf("%+.1f%%", r*100)
}

// better reports whether the value changed for the better (such changes
// are not tested: the tests are one-sided, towards a regression).
func (c Change) better() bool {
	if c.Metric == MetricRPS {
		return c.After > c.Before
	}
	return c.After < c.Before
}

// formatDelta is what the tables show after a change's values: "~" when
// the change was tested and is not significant (as benchstat shows it),
// else the relative change. A change for the better shows the relative
// change.
func formatDelta(c Change) string {
	if c.Tested && !c.Significant && !c.better() {
		return "~"
	}
	return formatRelative(c)
}

// formatP formats a p-value for the tables' notes.
func formatP(p float64) string {
	return strconv.FormatFloat(p, 'g', 2, 64)
}

// testsNote says which tests decided significance, for the tables.
func testsNote(c *Comparison) string {
	return fmt.Sprintf("significant: p < %s, one-sided towards a regression, Holm-adjusted over %d tests; %s; %s; %s",
		formatP(c.Alpha), c.Tests, TestRate, TestFailRatio, TestLatency)
}

// untested counts the worse changes that could not be tested.
func untested(c *Comparison) int {
	n := 0
	for _, r := range c.Rows {
		for _, ch := range r.Changes {
			if ch.Worse && !ch.Tested {
				n++
			}
		}
	}
	return n
}

// WriteComparison prints c as a table: one row per entry with each metric
// as "before→after change", where the change is "~" when it is not
// statistically significant, a "!" before every regressed metric, the
// tests used with their significance level, and a summary line. Safe for
// concurrent use.
func WriteComparison(w io.Writer, c *Comparison) error {
	var b strings.Builder
	label := c.Baseline
	if label == "" {
		label = "baseline"
	}
	fmt.Fprintf(&b, "Comparison with %s (tolerance %s; regressions marked !, changes that are not significant ~)\n", label, formatPct(c.Tolerance))
	fmt.Fprintf(&b, "(%s)\n", testsNote(c))
	nw := 20
	for _, r := range c.Rows {
		nw = max(nw, min(len(r.Name)+1, 60))
	}
	cells := make([][]string, 0, len(c.Rows)+1)
	head := []string{"Type", "Name"}
	for _, m := range compareMetrics {
		head = append(head, " "+m.Label()) // cells start with the regression mark
	}
	head = append(head, "")
	cells = append(cells, head)
	for _, r := range c.Rows {
		row := []string{r.Type, clip(r.Name, nw)}
		switch r.Status {
		case StatusNew:
			row = append(row, "new (not in the baseline)")
		case StatusRemoved:
			row = append(row, "removed (not in this run)")
		default:
			for _, ch := range r.Changes {
				mark := " "
				if ch.Regressed {
					mark = "!"
				}
				row = append(row, fmt.Sprintf("%s%s→%s %s", mark, formatMetric(ch.Metric, ch.Before),
					formatMetric(ch.Metric, ch.After), formatDelta(ch)))
			}
			if r.Regressed {
				row = append(row, "REGRESSION")
			} else {
				row = append(row, "ok")
			}
		}
		cells = append(cells, row)
	}
	// column widths; the last cell of a row may overflow
	widths := make([]int, len(head))
	for _, row := range cells {
		for i, s := range row[:len(row)-1] {
			widths[i] = max(widths[i], len([]rune(s)))
		}
	}
	for _, row := range cells {
		var line strings.Builder
		for i, s := range row {
			if i > 0 {
				line.WriteString("  ")
			}
			line.WriteString(s)
			if i < len(row)-1 {
				line.WriteString(strings.Repeat(" ", max(0, widths[i]-len([]rune(s)))))
			}
		}
		b.WriteString(strings.TrimRight(line.String(), " "))
		b.WriteString("\n")
	}
	if n := untested(c); n > 0 {
		fmt.Fprintf(&b, "%d worse value(s) could not be tested (a document without counts or response_times): judged on the tolerance alone.\n", n)
	}
	sig := fmt.Sprintf("beyond %s and significant (p < %s)", formatPct(c.Tolerance), formatP(c.Alpha))
	switch c.Regressions {
	case 0:
		fmt.Fprintf(&b, "No regression %s.\n\n", sig)
	case 1:
		fmt.Fprintf(&b, "1 entry regressed %s.\n\n", sig)
	default:
		fmt.Fprintf(&b, "%d entries regressed %s.\n\n", c.Regressions, sig)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func clip(s string, w int) string {
	r := []rune(s)
	if len(r) <= w {
		return s
	}
	return string(r[:w-3]) + "..."
}
