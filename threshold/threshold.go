// Package threshold turns a load test's statistics into a pass or fail
// decision, like k6 thresholds: "p95 < 300ms", "fail_ratio < 1%",
// "rps > 500", or per entry "GET /home: p95 < 200ms".
//
// Parse reads expressions, Evaluate checks them against a locust.Snapshot,
// PrintResults writes a pass/fail table, and Extension plugs all of it into
// locust.Command (--threshold, --threshold-abort, --threshold-grace) so that
// a failed threshold ends the program with ExitCode.
//
// # Expressions
//
// An expression is an optional entry, a metric, an operator and a value:
//
//	[ENTRY ": "] METRIC OP VALUE
//
// Metrics (case-insensitive; '-' may stand for '_'):
//
//	pN            whole-run percentile N (p50, p95, p99.9, also k6's p(95))
//	avg, med      mean and median response time (aliases mean, median)
//	min, max      fastest and slowest response
//	fail_ratio    failures / requests (alias fail_rate)
//	failures      number of failed requests (alias fails)
//	requests      number of requests (alias reqs)
//	rps           whole-run requests per second (EntryStats.TotalRPS)
//	fail_per_sec  whole-run failures per second
//
// Operators are <, <=, >, >=, == and !=; spaces around them are optional.
//
// Values of response-time metrics are durations in Go or Locust units (ns,
// us, µs, ms, s, m, h, or a Go duration such as 1m30s); a bare number means
// milliseconds, as in Locust's tables. fail_ratio takes a number or a
// percentage (1% is 0.01). Counts and rates take plain numbers (rates may
// end in "/s"). Values are never negative.
//
// Without an entry the threshold applies to the aggregate ("Aggregated"
// row). The entry is everything before the last colon (names may contain
// colons; metric expressions never do). "TYPE NAME" selects the entry with
// that request type (compared case-insensitively) and name; a single word
// selects by name only, and the threshold must then hold for every entry of
// that name, whatever its type. If no entry has the type and name, an entry
// whose whole name is "TYPE NAME" is used, so names with spaces work too.
//
// A threshold on an entry with no requests fails as missing whatever its
// metric, so that a misspelt name never passes silently.
package threshold

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode"

	locust "github.com/golocust/locust"
)

// Metric names what a threshold measures. The constants are the canonical
// names that Threshold.String writes.
type Metric string

// The metrics a threshold can check.
const (
	// MetricPercentile is a whole-run percentile; Threshold.Percentile says
	// which. It is written "pN".
	MetricPercentile Metric = "p"
	MetricAvg        Metric = "avg"
	MetricMed        Metric = "med"
	MetricMin        Metric = "min"
	MetricMax        Metric = "max"
	MetricFailRatio  Metric = "fail_ratio"
	MetricFailures   Metric = "failures"
	MetricRequests   Metric = "requests"
	MetricRPS        Metric = "rps"
	MetricFailPerSec Metric = "fail_per_sec"
)

var metricAliases = map[string]Metric{
	"avg": MetricAvg, "mean": MetricAvg,
	"med": MetricMed, "median": MetricMed,
	"min": MetricMin, "max": MetricMax,
	"fail_ratio": MetricFailRatio, "fail_rate": MetricFailRatio, "failure_ratio": MetricFailRatio,
	"failures": MetricFailures, "fails": MetricFailures,
	"requests": MetricRequests, "reqs": MetricRequests,
	"rps":          MetricRPS,
	"fail_per_sec": MetricFailPerSec, "failures_per_sec": MetricFailPerSec,
}

type kind int

const (
	kindDuration kind = iota // Value in milliseconds
	kindRatio                // Value is a fraction
	kindCount
	kindRate
)

func (m Metric) kind() kind {
	switch m {
	case MetricFailRatio:
		return kindRatio
	case MetricFailures, MetricRequests:
		return kindCount
	case MetricRPS, MetricFailPerSec:
		return kindRate
	}
	return kindDuration
}

// IsDuration reports whether the metric is a response time, whose
// Threshold.Value and Result.Actual are in milliseconds.
func (m Metric) IsDuration() bool { return m.kind() == kindDuration }

// Op is a comparison operator. The constants are its spellings.
type Op string

// The comparison operators.
const (
	Less         Op = "<"
	LessEqual    Op = "<="
	Greater      Op = ">"
	GreaterEqual Op = ">="
	Equal        Op = "=="
	NotEqual     Op = "!="
)

// Holds reports whether "actual op limit" is true. An unknown Op never
// holds.
func (o Op) Holds(actual, limit float64) bool {
	switch o {
	case Less:
		return actual < limit
	case LessEqual:
		return actual <= limit
	case Greater:
		return actual > limit
	case GreaterEqual:
		return actual >= limit
	case Equal:
		return actual == limit
	case NotEqual:
		return actual != limit
	}
	return false
}

// Threshold is one parsed success criterion. It is plain data: safe to
// copy and to use from many goroutines. Make one with Parse; a Threshold
// built by hand works too if its fields are consistent.
type Threshold struct {
	// Expr is the expression as given to Parse (spaces trimmed); String
	// returns the canonical form.
	Expr string
	// Type and Name select an entry. Both are empty for the aggregate;
	// Type is empty when the threshold selects entries by name only.
	Type, Name string
	// Metric is what is measured.
	Metric Metric
	// Percentile is the percentile (0..100) of MetricPercentile, else 0.
	Percentile float64
	// Op compares the measured value with Value.
	Op Op
	// Value is the limit: milliseconds for response-time metrics, a
	// fraction for fail_ratio (0.01 for 1%), a plain number otherwise.
	Value float64
}

// Parse parses one expression such as "p95 < 300ms" or
// "GET /home: fail_ratio < 1%" (see the package documentation). Errors name
// the expression and the problem:
//
//	threshold "p95 < abc": invalid value "abc" (...)
//
// Safe for concurrent use.
func Parse(expr string) (Threshold, error) {
	t, err := parse(strings.TrimSpace(expr))
	if err != nil {
		return Threshold{}, fmt.Errorf("threshold %q: %w", expr, err)
	}
	t.Expr = strings.TrimSpace(expr)
	return t, nil
}

// ParseAll parses every expression and returns them in order, or the
// errors of all bad ones joined. Safe for concurrent use.
func ParseAll(exprs []string) ([]Threshold, error) {
	ts := make([]Threshold, 0, len(exprs))
	var errs []error
	for _, e := range exprs {
		t, err := Parse(e)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		ts = append(ts, t)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return ts, nil
}

func parse(s string) (Threshold, error) {
	var t Threshold
	if s == "" {
		return t, errors.New("empty expression")
	}
	cond := s
	if i := strings.LastIndexByte(s, ':'); i >= 0 {
		entry := strings.TrimSpace(s[:i])
		cond = s[i+1:]
		if entry == "" {
			return t, errors.New("missing entry name before ':'")
		}
		if j := strings.IndexFunc(entry, unicode.IsSpace); j >= 0 {
			t.Type, t.Name = entry[:j], strings.TrimSpace(entry[j:])
		} else if entry != locust.AggregatedName {
			t.Name = entry
		}
	}
	if err := parseCond(strings.TrimSpace(cond), &t); err != nil {
		return Threshold{}, err
	}
	return t, nil
}

func parseCond(s string, t *Threshold) error {
	i := strings.IndexAny(s, "<>=!")
	if i < 0 {
		if s == "" {
			return errors.New("missing condition after ':'")
		}
		return errors.New("no comparison operator (use <, <=, >, >=, == or !=)")
	}
	name, rest := strings.TrimSpace(s[:i]), s[i:]
	switch {
	case strings.HasPrefix(rest, "<="), strings.HasPrefix(rest, ">="),
		strings.HasPrefix(rest, "=="), strings.HasPrefix(rest, "!="):
		t.Op = Op(rest[:2])
	case rest[0] == '<' || rest[0] == '>':
		t.Op = Op(rest[:1])
	default:
		return fmt.Errorf("invalid operator %q (use <, <=, >, >=, == or !=)", rest[:1])
	}
	if name == "" {
		return fmt.Errorf("missing metric before %q", t.Op)
	}
	if err := parseMetric(name, t); err != nil {
		return err
	}
	val := strings.TrimSpace(rest[len(t.Op):])
	if val == "" {
		return fmt.Errorf("missing value after %q", t.Op)
	}
	v, err := parseValue(val, t.Metric.kind())
	if err != nil {
		return err
	}
	t.Value = v
	return nil
}

func parseMetric(name string, t *Threshold) error {
	n := strings.ReplaceAll(strings.ToLower(name), "-", "_")
	if m, ok := metricAliases[n]; ok {
		t.Metric = m
		return nil
	}
	if rest, ok := strings.CutPrefix(n, "p"); ok && rest != "" {
		if r, ok := strings.CutPrefix(rest, "("); ok {
			if r, ok = strings.CutSuffix(r, ")"); ok {
				rest = r
			}
		}
		if isDecimal(rest) {
			p, err := strconv.ParseFloat(rest, 64)
			if err != nil || p < 0 || p > 100 {
				return fmt.Errorf("percentile %q out of range 0..100", name)
			}
			t.Metric, t.Percentile = MetricPercentile, p
			return nil
		}
	}
	return fmt.Errorf("unknown metric %q (use pN, avg, med, min, max, fail_ratio, failures, requests, rps or fail_per_sec)", name)
}

// isDecimal reports whether s is digits with an optional fraction: "95", "99.9".
func isDecimal(s string) bool {
	digits := func(s string) bool {
		if s == "" {
			return false
		}
		for i := 0; i < len(s); i++ {
			if s[i] < '0' || s[i] > '9' {
				return false
			}
		}
		return true
	}
	whole, frac, dot := strings.Cut(s, ".")
	return digits(whole) && (!dot || digits(frac))
}

// splitNumber splits s into a leading unsigned decimal number (with an
// optional exponent) and the rest.
func splitNumber(s string) (num, rest string) {
	i, n := 0, len(s)
	d := 0
	for i < n && s[i] >= '0' && s[i] <= '9' {
		i++
		d++
	}
	if i < n && s[i] == '.' {
		i++
		for i < n && s[i] >= '0' && s[i] <= '9' {
			i++
			d++
		}
	}
	if d == 0 {
		return "", s
	}
	if i < n && (s[i] == 'e' || s[i] == 'E') {
		j := i + 1
		if j < n && (s[j] == '+' || s[j] == '-') {
			j++
		}
		k := j
		for k < n && s[k] >= '0' && s[k] <= '9' {
			k++
		}
		if k > j {
			i = k
		}
	}
	return s[:i], s[i:]
}

// durationUnits are the units of response-time values, in milliseconds.
var durationUnits = map[string]float64{
	"ns": 1e-6,
	"us": 1e-3, "µs": 1e-3, "μs": 1e-3, // U+00B5 and U+03BC
	"ms": 1,
	"s":  1e3, "sec": 1e3,
	"m": 60e3, "min": 60e3,
	"h": 3600e3,
}

var valueHints = [...]string{
	kindDuration: "want a duration such as 300ms or 1.5s, or a number of milliseconds",
	kindRatio:    "want a ratio such as 0.01 or a percentage such as 1%",
	kindCount:    "want a whole number such as 1000",
	kindRate:     "want a number per second such as 500",
}

func parseValue(val string, k kind) (float64, error) {
	bad := func() (float64, error) {
		return 0, fmt.Errorf("invalid value %q (%s)", val, valueHints[k])
	}
	num, unit := splitNumber(val)
	unit = strings.ToLower(strings.TrimSpace(unit))
	if num == "" {
		return bad()
	}
	x, err := strconv.ParseFloat(num, 64)
	if err != nil {
		return bad()
	}
	var mult float64
	switch k {
	case kindDuration:
		m, ok := durationUnits[unit]
		if unit == "" {
			m, ok = 1, true
		}
		if !ok {
			// a compound Go duration such as 1m30s
			d, err := time.ParseDuration(strings.ToLower(val))
			if err != nil || d < 0 {
				return bad()
			}
			return float64(d) / float64(time.Millisecond), nil
		}
		mult = m
	case kindRatio:
		switch unit {
		case "":
			mult = 1
		case "%":
			x /= 100
			mult = 1
		default:
			return bad()
		}
	case kindCount:
		if unit != "" {
			return bad()
		}
		mult = 1
	case kindRate:
		if unit != "" && unit != "/s" {
			return bad()
		}
		mult = 1
	}
	v := x * mult
	if math.IsInf(v, 0) || math.IsNaN(v) {
		return bad()
	}
	return v, nil
}

// MetricName returns the metric as String writes it: "p95", "avg", ...
func (t Threshold) MetricName() string {
	if t.Metric == MetricPercentile {
		return "p" + strconv.FormatFloat(t.Percentile, 'f', -1, 64)
	}
	return string(t.Metric)
}

// Entry returns the entry part as String writes it ("GET /home", "/home"),
// or "" for the aggregate.
func (t Threshold) Entry() string {
	if t.Type == "" {
		return t.Name
	}
	return t.Type + " " + t.Name
}

// String returns the canonical form of the threshold, which Parse reads
// back into an equal Threshold (but for Expr).
func (t Threshold) String() string {
	var b strings.Builder
	if e := t.Entry(); e != "" {
		b.WriteString(e)
		b.WriteString(": ")
	}
	b.WriteString(t.MetricName())
	b.WriteString(" ")
	b.WriteString(string(t.Op))
	b.WriteString(" ")
	b.WriteString(formatValue(t.Value, t.Metric.kind()))
	return b.String()
}

func formatNumber(x float64) string {
	if a := math.Abs(x); a == 0 || (a >= 1e-6 && a < 1e15) {
		return strconv.FormatFloat(x, 'f', -1, 64)
	}
	return strconv.FormatFloat(x, 'g', -1, 64)
}

type unitForm struct {
	unit string
	per  float64 // value units per one of this unit
}

var (
	durationForms = []unitForm{{"ms", 1}, {"s", 1e3}, {"us", 1e-3}, {"m", 60e3}, {"h", 3600e3}}
	ratioForms    = []unitForm{{"", 1}, {"%", 0.01}}
)

// formatValue writes v in the shortest form that parses back to exactly v
// (durations: with a number of at least 1 in units other than ms).
func formatValue(v float64, k kind) string {
	var forms []unitForm
	switch k {
	case kindDuration:
		forms = durationForms
	case kindRatio:
		forms = ratioForms
	default:
		return formatNumber(v)
	}
	best := ""
	for _, f := range forms {
		var s string
		if f.unit == "%" {
			s = formatNumber(v*100) + "%"
		} else {
			x := v / f.per
			if k == kindDuration && x < 1 {
				continue // 200ms, not 0.2s
			}
			s = formatNumber(x) + f.unit
		}
		if best != "" && len(s) >= len(best) {
			continue
		}
		if back, err := parseValue(s, k); err == nil && back == v {
			best = s
		}
	}
	if best == "" { // below 1µs, or zero
		best = formatNumber(v) + forms[0].unit
	}
	return best
}

// Percentiles returns the percentiles the threshold needs in a snapshot
// (for MetricPercentile and MetricMed), to be added to
// locust.StatsOptions.ExtraPercentiles when they are not in
// locust.Percentiles; nil for the other metrics. Safe for concurrent use.
func (t Threshold) Percentiles() []float64 {
	switch t.Metric {
	case MetricPercentile:
		return []float64{t.Percentile}
	case MetricMed:
		return []float64{50}
	}
	return nil
}
