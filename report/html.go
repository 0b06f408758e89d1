package report

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/golocust/locust"
)

//go:embed assets/report.html.tmpl
var htmlTemplate string

//go:embed assets/report.css
var htmlCSS string

//go:embed assets/report.js
var htmlJS string

var reportTmpl = template.Must(template.New("report").Funcs(template.FuncMap{
	"ms":        func(d time.Duration) string { return fmtMS(ms(d)) },
	"pct":       func(f float64) string { return strconv.FormatFloat(f*100, 'f', 2, 64) + "%" },
	"rate":      func(f float64) string { return strconv.FormatFloat(f, 'f', 2, 64) },
	"bytes":     func(f float64) string { return strconv.FormatFloat(f, 'f', 0, 64) },
	"metric":    formatMetric,
	"delta":     formatDelta,
	"pval":      formatP,
	"testsNote": testsNote,
	"count":     func(n int64) string { return groupDigits(n) },
	"tol":       formatPct,
}).Parse(htmlTemplate))

// htmlView is what the template renders.
type htmlView struct {
	Title       string
	Start, End  string
	Duration    string
	Host        string
	Users       int
	Total       locust.EntryStats
	CutShort    int64
	Rounded     int64 // requests merged from Locust's rounded buckets (Snapshot.RoundedRequests)
	TotalRPS    float64
	TotalFPS    float64
	P95, P99    time.Duration
	Rows        []htmlRow
	PctHeads    []string
	Failures    []locust.ErrorStats
	Exceptions  []locust.ExceptionStats
	Thresholds  []ThresholdResult
	ThFailed    int
	Comparison  *Comparison
	CmpMetrics  []Metric
	Extra       []htmlExtra
	Capacity    *capacityView // the capacity search's steps, from Extra["capacity"]
	Generated   string
	Version     string
	ChartData   chartData
	CSS         template.CSS
	JS          template.JS
	HasFailures bool
}

type htmlRow struct {
	E          locust.EntryStats
	RPS, FPS   float64
	Pcts       []time.Duration
	Aggregated bool
}

type htmlExtra struct{ Key, Value string }

// chartData is the history in the shape the page's script draws.
type chartData struct {
	T     []int64    `json:"t"` // epoch milliseconds
	Users []int      `json:"users"`
	RPS   []float64  `json:"rps"`
	FPS   []float64  `json:"fps"`
	P50   []*float64 `json:"p50"` // null: no request in the window
	P95   []*float64 `json:"p95"`
}

// WriteHTML writes the HTML report of in: one self-contained page (styles,
// script and data inline; it loads nothing from the network) with the test's
// times, host and user count, summary figures, the threshold results and
// the comparison when given, the capacity search's steps as a table and a
// chart of throughput and p95 per step (when in.Extra has "capacity"), charts over time of requests/s and failures/s,
// response times (p50, p95) and users (drawn as inline SVG from
// in.History), the request statistics, the response time percentiles, the
// failures and the exceptions. in.Snapshot must not be nil.
// Safe for concurrent use.
func WriteHTML(w io.Writer, in ReportInput) error {
	s := in.Snapshot
	if s == nil {
		return errors.New("report: WriteHTML needs a snapshot")
	}
	end := in.end()
	v := htmlView{
		Title:      in.Title,
		Host:       in.Host,
		Users:      in.users(),
		Total:      s.Total,
		CutShort:   s.CutShort,
		Rounded:    s.RoundedRequests,
		TotalRPS:   s.Total.TotalRPS(s.Total),
		TotalFPS:   s.Total.TotalFailPerSec(s.Total),
		Failures:   s.Errors,
		Exceptions: s.Exceptions,
		Comparison: in.Comparison,
		CmpMetrics: compareMetrics,
		Generated:  time.Now().UTC().Format("2006-01-02 15:04:05 UTC"),
		Version:    locust.Version,
		CSS:        template.CSS(htmlCSS),
		JS:         template.JS(htmlJS),
	}
	if v.Title == "" {
		v.Title = "Load test report"
	}
	if !in.Start.IsZero() {
		v.Start = in.Start.UTC().Format("2006-01-02 15:04:05 UTC")
	}
	if !end.IsZero() {
		v.End = end.UTC().Format("2006-01-02 15:04:05 UTC")
	}
	if !in.Start.IsZero() && !end.IsZero() && end.After(in.Start) {
		v.Duration = fmtDuration(end.Sub(in.Start))
	}
	v.P95, _ = s.Total.Percentile(95)
	v.P99, _ = s.Total.Percentile(99)
	for _, p := range locust.Percentiles {
		v.PctHeads = append(v.PctHeads, strconv.FormatFloat(p, 'f', -1, 64)+"%")
	}
	for _, e := range sortedEntries(s) {
		v.Rows = append(v.Rows, htmlRow{
			E: e, RPS: e.TotalRPS(s.Total), FPS: e.TotalFailPerSec(s.Total),
			Pcts: e.PercentileValues, Aggregated: e.Type == "" && e.Name == locust.AggregatedName,
		})
	}
	for _, r := range in.Thresholds {
		v.Thresholds = append(v.Thresholds, ThresholdResult{
			Expr: r.Threshold.Expr, Actual: actual(r), ActualText: r.ActualText,
			Pass: r.Pass, Missing: r.Missing,
		})
		if !r.Pass {
			v.ThFailed++
		}
	}
	v.HasFailures = s.Total.Failures > 0
	for _, k := range in.ExtraKeys {
		val, ok := in.Extra[k]
		if !ok {
			continue
		}
		if k == capacityKey && v.Capacity == nil {
			if res, ok := capacityOf(val); ok {
				v.Capacity = newCapacityView(res)
				continue
			}
		}
		var text string
		if str, ok := val.(string); ok {
			text = str
		} else if b, err := json.MarshalIndent(val, "", "  "); err == nil {
			text = string(b)
		} else {
			text = fmt.Sprint(val)
		}
		v.Extra = append(v.Extra, htmlExtra{Key: k, Value: text})
	}
	cd := chartData{T: []int64{}, Users: []int{}, RPS: []float64{}, FPS: []float64{}, P50: []*float64{}, P95: []*float64{}}
	for _, h := range in.History {
		cd.T = append(cd.T, h.Time.UnixMilli())
		cd.Users = append(cd.Users, h.UserCount)
		cd.RPS = append(cd.RPS, round3(h.CurrentRPS))
		cd.FPS = append(cd.FPS, round3(h.CurrentFailPerSec))
		var p50, p95 *float64
		if h.P50 > 0 || h.P95 > 0 {
			a, b := round3(ms(h.P50)), round3(ms(h.P95))
			p50, p95 = &a, &b
		}
		cd.P50 = append(cd.P50, p50)
		cd.P95 = append(cd.P95, p95)
	}
	v.ChartData = cd
	var buf bytes.Buffer
	if err := reportTmpl.Execute(&buf, v); err != nil {
		return err
	}
	_, err := w.Write(buf.Bytes())
	return err
}

func round3(f float64) float64 {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return 0
	}
	return math.Round(f*1000) / 1000
}

func fmtDuration(d time.Duration) string {
	d = d.Round(time.Second)
	if d < time.Second {
		return "under 1s"
	}
	h, m, s := int(d.Hours()), int(d.Minutes())%60, int(d.Seconds())%60
	var b strings.Builder
	if h > 0 {
		fmt.Fprintf(&b, "%dh ", h)
	}
	if h > 0 || m > 0 {
		fmt.Fprintf(&b, "%dm ", m)
	}
	fmt.Fprintf(&b, "%ds", s)
	return b.String()
}

// groupDigits writes n with thin spaces between groups of three digits.
func groupDigits(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteRune('\u202f')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}
