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
	// Regressed is true when the change is worse than the tolerance allows
	// and beyond the metric's floor.
	Regressed bool
}

// Relative is (After-Before)/Before; +Inf when Before is 0 and After is
// not, 0 when both are. Safe for concurrent use.
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
	// Rows are sorted by (name, type), the aggregate last.
	Rows []ComparisonRow
	// Regressions counts the rows that regressed.
	Regressions int
}

// Compare compares current with baseline. A metric regresses when it got
// worse by more than tolerance relative to the baseline and by more than
// its floor: a percentile (p50, p95, p99) rose by more than tolerance and
// by at least LatencyFloorMS; the failure ratio rose by more than tolerance
// and by at least FailRatioFloor; the request rate fell by more than
// tolerance and by at least RPSFloor. Entries in only one of the two are
// listed as new or removed and never regress. Safe for concurrent use.
func Compare(baseline, current *Document, tolerance float64) *Comparison {
	c := &Comparison{Tolerance: tolerance}
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
	add := func(typ, name string, b Entry, okB bool, a Entry, okA bool) {
		row := ComparisonRow{Type: typ, Name: name}
		switch {
		case okB && okA:
			row.Status = StatusBoth
			row.Changes = compareEntries(b, a, tolerance)
			for _, ch := range row.Changes {
				row.Regressed = row.Regressed || ch.Regressed
			}
		case okA:
			row.Status = StatusNew
		default:
			row.Status = StatusRemoved
		}
		if row.Regressed {
			c.Regressions++
		}
		c.Rows = append(c.Rows, row)
	}
	for _, k := range keys {
		b, okB := before[k]
		a, okA := after[k]
		add(k.typ, k.name, b, okB, a, okA)
	}
	add("", locust.AggregatedName, baseline.Total, baseline.Total.NumRequests > 0,
		current.Total, current.Total.NumRequests > 0)
	return c
}

func compareEntries(b, a Entry, tol float64) []Change {
	out := make([]Change, 0, len(compareMetrics))
	for _, m := range compareMetrics {
		ch := Change{Metric: m}
		switch m {
		case MetricRPS:
			ch.Before, ch.After = b.RPS, a.RPS
			ch.Regressed = ch.Before-ch.After >= RPSFloor && ch.After < ch.Before*(1-tol)
		case MetricFailRatio:
			ch.Before, ch.After = b.FailRatio, a.FailRatio
			ch.Regressed = ch.After-ch.Before >= FailRatioFloor && ch.After > ch.Before*(1+tol)
		default:
			p := map[Metric]float64{MetricP50: 50, MetricP95: 95, MetricP99: 99}[m]
			ch.Before, _ = b.Percentiles.Get(p)
			ch.After, _ = a.Percentiles.Get(p)
			ch.Regressed = ch.After-ch.Before >= LatencyFloorMS && ch.After > ch.Before*(1+tol)
		}
		out = append(out, ch)
	}
	return out
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

// WriteComparison prints c as a table: one row per entry with each metric
// as "before→after change", a "!" before every regressed metric, and a
// summary line. Safe for concurrent use.
func WriteComparison(w io.Writer, c *Comparison) error {
	var b strings.Builder
	label := c.Baseline
	if label == "" {
		label = "baseline"
	}
	fmt.Fprintf(&b, "Comparison with %s (tolerance %s; regressions marked !)\n", label, formatPct(c.Tolerance))
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
					formatMetric(ch.Metric, ch.After), formatRelative(ch)))
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
	switch c.Regressions {
	case 0:
		fmt.Fprintf(&b, "No regression beyond %s.\n\n", formatPct(c.Tolerance))
	case 1:
		fmt.Fprintf(&b, "1 entry regressed beyond %s.\n\n", formatPct(c.Tolerance))
	default:
		fmt.Fprintf(&b, "%d entries regressed beyond %s.\n\n", c.Regressions, formatPct(c.Tolerance))
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
