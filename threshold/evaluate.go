package threshold

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	locust "github.com/golocust/locust"
)

// ExitCode is the exit code of a load test program when any threshold
// failed. (1 means requests failed, see --exit-code-on-error; 2 is bad
// usage, locust.ExitUsage.)
const ExitCode = 3

// Result is the outcome of one threshold on one snapshot. It is plain
// data: safe to copy and to read from many goroutines.
type Result struct {
	// Threshold is the threshold checked.
	Threshold Threshold
	// Actual is the measured value, in the unit of Threshold.Value
	// (milliseconds for response times). For a threshold on several
	// entries (a name shared by several types) it is the value of the
	// entry furthest on the wrong side of the limit.
	Actual float64
	// ActualText is Actual for people ("212ms", "0.52%", "1234"), or a
	// note when there is no value ("no requests to GET /home").
	ActualText string
	// Pass is true when the threshold holds.
	Pass bool
	// Missing is true when the selected entry (or the whole test) has no
	// requests; a missing entry fails.
	Missing bool
}

// Evaluate checks every threshold against s and returns one Result per
// threshold, in order. A nil s is a test without requests. Safe for
// concurrent use (it only reads s).
func Evaluate(ts []Threshold, s *locust.Snapshot) []Result {
	if s == nil {
		s = &locust.Snapshot{}
	}
	rs := make([]Result, len(ts))
	for i, t := range ts {
		rs[i] = evaluate(t, s)
	}
	return rs
}

// AllPass reports whether every result passed (true for none).
func AllPass(rs []Result) bool {
	for _, r := range rs {
		if !r.Pass {
			return false
		}
	}
	return true
}

// entries returns the entries with requests that t selects.
func entries(t Threshold, s *locust.Snapshot) []locust.EntryStats {
	if t.Type == "" && t.Name == "" {
		if s.Total.Requests > 0 {
			return []locust.EntryStats{s.Total}
		}
		return nil
	}
	var out []locust.EntryStats
	for _, e := range s.Entries {
		if e.Requests == 0 || e.Name != t.Name {
			continue
		}
		if t.Type == "" || strings.EqualFold(e.Type, t.Type) {
			out = append(out, e)
		}
	}
	if len(out) == 0 && t.Type != "" {
		full := t.Type + " " + t.Name
		for _, e := range s.Entries {
			if e.Requests > 0 && e.Name == full {
				out = append(out, e)
			}
		}
	}
	return out
}

func evaluate(t Threshold, s *locust.Snapshot) Result {
	res := Result{Threshold: t}
	es := entries(t, s)
	if len(es) == 0 {
		res.Missing = true
		if e := t.Entry(); e != "" {
			res.ActualText = "no requests to " + e
		} else {
			res.ActualText = "no requests"
		}
		return res
	}
	worst := -1
	pass := true
	var vals []float64
	for i, e := range es {
		v, note := measure(t, e, s.Total)
		if note != "" {
			res.ActualText = note
			return res
		}
		vals = append(vals, v)
		ok := t.Op.Holds(v, t.Value)
		switch {
		case worst < 0:
			worst = i
		case !ok && pass: // the first failing entry
			worst = i
		case ok == pass: // both passing, or both failing: keep the furthest out
			if (t.Op == Less || t.Op == LessEqual) && v > vals[worst] ||
				(t.Op == Greater || t.Op == GreaterEqual) && v < vals[worst] {
				worst = i
			}
		}
		pass = pass && ok
	}
	res.Actual = vals[worst]
	res.ActualText = formatActual(res.Actual, t.Metric.kind())
	if len(es) > 1 {
		res.ActualText += " (" + es[worst].Type + ")"
	}
	res.Pass = pass
	return res
}

// measure reads t's metric from e; note explains a value it cannot read.
func measure(t Threshold, e, total locust.EntryStats) (v float64, note string) {
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	switch t.Metric {
	case MetricPercentile:
		d, ok := e.Percentile(t.Percentile)
		if !ok {
			return 0, t.MetricName() + " not computed (add it to StatsOptions.ExtraPercentiles)"
		}
		return ms(d), ""
	case MetricMed:
		d, ok := e.Percentile(50)
		if !ok {
			return 0, "median not computed"
		}
		return ms(d), ""
	case MetricAvg:
		return ms(e.Avg()), ""
	case MetricMin:
		return ms(e.Min), ""
	case MetricMax:
		return ms(e.Max), ""
	case MetricFailRatio:
		return e.FailRatio(), ""
	case MetricFailures:
		return float64(e.Failures), ""
	case MetricRequests:
		return float64(e.Requests), ""
	case MetricRPS:
		return e.TotalRPS(total), ""
	case MetricFailPerSec:
		return e.TotalFailPerSec(total), ""
	}
	return 0, fmt.Sprintf("unknown metric %q", string(t.Metric))
}

func formatActual(v float64, k kind) string {
	switch k {
	case kindDuration:
		d := time.Duration(v * float64(time.Millisecond))
		if d >= time.Second {
			d = d.Round(time.Millisecond)
		} else {
			d = d.Round(time.Microsecond)
		}
		return d.String()
	case kindRatio:
		return strconv.FormatFloat(100*v, 'g', 3, 64) + "%" // 3.45%, 0.42%, 100%
	case kindRate:
		return strconv.FormatFloat(v, 'f', 2, 64) + "/s"
	}
	return strconv.FormatFloat(v, 'f', -1, 64)
}

// PrintResults writes a table of the results to w: each threshold as it
// was written, its actual value and PASS or FAIL, then a summary line such
// as "Thresholds: 3 of 4 passed". It writes nothing for no results. Safe
// for concurrent use with other readers of rs; concurrent writes to w are
// the caller's business.
func PrintResults(w io.Writer, rs []Result) {
	if len(rs) == 0 {
		return
	}
	exprs := make([]string, len(rs))
	tw, aw := len("Threshold"), len("Actual")
	passed := 0
	for i, r := range rs {
		exprs[i] = r.Threshold.Expr
		if exprs[i] == "" {
			exprs[i] = r.Threshold.String()
		}
		tw = max(tw, len(exprs[i]))
		aw = max(aw, len(r.ActualText))
		if r.Pass {
			passed++
		}
	}
	tw, aw = min(tw, 80), min(aw, 40)
	var b strings.Builder
	fmt.Fprintf(&b, "%-*s  %-*s  %s\n", tw, "Threshold", aw, "Actual", "Result")
	fmt.Fprintf(&b, "%s  %s  %s\n", strings.Repeat("-", tw), strings.Repeat("-", aw), strings.Repeat("-", 6))
	for i, r := range rs {
		verdict := "PASS"
		if !r.Pass {
			verdict = "FAIL"
		}
		fmt.Fprintf(&b, "%-*s  %-*s  %s\n", tw, exprs[i], aw, r.ActualText, verdict)
	}
	fmt.Fprintf(&b, "Thresholds: %d of %d passed\n", passed, len(rs))
	io.WriteString(w, b.String())
}
