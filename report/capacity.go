package report

import (
	"encoding/json"
	"fmt"
	"html"
	"html/template"
	"math"
	"strconv"
	"strings"
)

// The capacity search (package shape, --find-capacity) adds its result to
// the report data under "capacity". The HTML report shows it as a table of
// the steps and an inline SVG chart of throughput and p95 per step. The
// value is read through its JSON form, so that the result of a run (a Go
// value) and one read back from a --json-file document (a map) render
// alike, and this package needs no import of shape.

// capacityKey is the report data key of the capacity search's result.
const capacityKey = "capacity"

// capacityResult is the JSON form of shape.Result, as far as the report
// shows it.
type capacityResult struct {
	Steps            []capacityStep `json:"steps"`
	Capacity         int            `json:"capacity_step"`
	Broke            int            `json:"broke_step"`
	GeneratorLimited bool           `json:"generator_limited"`
	Reason           string         `json:"reason"`
}

// capacityStep is the JSON form of shape.Step.
type capacityStep struct {
	Users          int             `json:"users"`
	Rate           float64         `json:"arrival_rate"`
	Dropped        int64           `json:"dropped_iterations"`
	RPS            float64         `json:"rps"`
	FailRatio      float64         `json:"fail_ratio"`
	P50Ms          float64         `json:"p50_ms"`
	P95Ms          float64         `json:"p95_ms"`
	P99Ms          float64         `json:"p99_ms"`
	Stable         bool            `json:"stable"`
	Pass           bool            `json:"pass"`
	GeneratorShort bool            `json:"generator_short_of_cpu"`
	Results        []capacityCheck `json:"thresholds"`
}

type capacityCheck struct {
	Threshold string `json:"threshold"`
	Actual    string `json:"actual"`
	Pass      bool   `json:"pass"`
}

// capacityView is what the template renders of a capacity search.
type capacityView struct {
	Summary  string
	Reason   string
	Rates    bool // the open model's search: steps of arrival rates
	Steps    []capacityRow
	Chart    template.HTML // inline SVG, every text in it escaped
	Limited  bool
	HasSteps bool
}

type capacityRow struct {
	N                   int
	Load                string
	Dropped             int64
	RPS, P50, P95, P99  string
	FailPct             string
	Verdict, Class      string
	Failed              []capacityCheck
	IsCapacity, IsBroke bool
}

// capacityOf reads the capacity search's result from a report data value;
// ok is false when it is not one.
func capacityOf(v any) (res capacityResult, ok bool) {
	raw, err := json.Marshal(v)
	if err != nil {
		return res, false
	}
	res.Capacity, res.Broke = -1, -1
	if err := json.Unmarshal(raw, &res); err != nil || res.Steps == nil {
		return res, false
	}
	return res, true
}

// load is a step's load as the report writes it.
func (s capacityStep) load() string {
	if s.Rate > 0 {
		return strconv.FormatFloat(s.Rate, 'f', -1, 64) + " iterations/s"
	}
	return strconv.Itoa(s.Users) + " users"
}

// fixed1 writes f with one decimal (0 for a value that is not a number).
func fixed1(f float64) string {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		f = 0
	}
	return strconv.FormatFloat(f, 'f', 1, 64)
}

// newCapacityView makes the view of res.
func newCapacityView(res capacityResult) *capacityView {
	v := &capacityView{Reason: res.Reason, Limited: res.GeneratorLimited, HasSteps: len(res.Steps) > 0}
	if res.Capacity >= 0 && res.Capacity < len(res.Steps) {
		s := res.Steps[res.Capacity]
		v.Summary = fmt.Sprintf("Capacity: %s, %s req/s (p95 %s ms): the highest step that held every threshold", s.load(), fixed1(s.RPS), fixed1(s.P95Ms))
	} else {
		v.Summary = "Capacity: not found: no step held every threshold"
	}
	for i, s := range res.Steps {
		if s.Rate > 0 {
			v.Rates = true
		}
		row := capacityRow{
			N: i + 1, Load: s.load(), Dropped: s.Dropped,
			RPS: fixed1(s.RPS), P50: fixed1(s.P50Ms), P95: fixed1(s.P95Ms), P99: fixed1(s.P99Ms),
			FailPct:    strconv.FormatFloat(100*s.FailRatio, 'f', 2, 64) + "%",
			IsCapacity: i == res.Capacity, IsBroke: i == res.Broke,
		}
		switch {
		case s.GeneratorShort:
			row.Verdict, row.Class = "generator short of CPU", "warn"
		case s.Pass:
			row.Verdict, row.Class = "held", "pass"
		default:
			row.Verdict, row.Class = "broke", "fail"
		}
		for _, c := range s.Results {
			if !c.Pass {
				row.Failed = append(row.Failed, c)
			}
		}
		v.Steps = append(v.Steps, row)
	}
	v.Chart = capacityChart(res)
	return v
}

// capacityChart draws throughput (bars, left axis) and p95 (line, right
// axis) per step as an inline SVG. Every text in it is escaped.
func capacityChart(res capacityResult) template.HTML {
	steps := res.Steps
	if len(steps) == 0 {
		return ""
	}
	const (
		w, h                     = 720.0, 260.0
		left, right, top, bottom = 56.0, 56.0, 26.0, 44.0
	)
	pw, ph := w-left-right, h-top-bottom
	maxRPS, maxP95 := 0.0, 0.0
	for _, s := range steps {
		maxRPS = max(maxRPS, nonNeg(s.RPS))
		maxP95 = max(maxP95, nonNeg(s.P95Ms))
	}
	maxRPS, maxP95 = niceCeil(maxRPS), niceCeil(maxP95)
	slot := pw / float64(len(steps))
	x := func(i int) float64 { return left + slot*(float64(i)+0.5) }
	yR := func(v float64) float64 { return top + ph - ph*nonNeg(v)/maxRPS }
	yP := func(v float64) float64 { return top + ph - ph*nonNeg(v)/maxP95 }
	var b strings.Builder
	esc := html.EscapeString
	f := func(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) }
	fmt.Fprintf(&b, `<svg viewBox="0 0 %s %s" role="img" aria-label="%s" xmlns="http://www.w3.org/2000/svg">`, f(w), f(h), esc("Throughput (req/s) and p95 (ms) per capacity step"))
	// grid and axes: four divisions
	b.WriteString(`<g class="grid">`)
	for i := 0; i <= 4; i++ {
		y := top + ph*float64(i)/4
		fmt.Fprintf(&b, `<line x1="%s" x2="%s" y1="%s" y2="%s"/>`, f(left), f(w-right), f(y), f(y))
	}
	b.WriteString(`</g><g class="axis">`)
	for i := 0; i <= 4; i++ {
		y := top + ph*float64(i)/4
		frac := 1 - float64(i)/4
		fmt.Fprintf(&b, `<text x="%s" y="%s" text-anchor="end">%s</text>`, f(left-6), f(y+4), esc(axisLabel(maxRPS*frac)))
		fmt.Fprintf(&b, `<text x="%s" y="%s" text-anchor="start">%s</text>`, f(w-right+6), f(y+4), esc(axisLabel(maxP95*frac)))
	}
	fmt.Fprintf(&b, `<text x="%s" y="%s" text-anchor="end">%s</text>`, f(left-6), f(top-12), esc("req/s"))
	fmt.Fprintf(&b, `<text x="%s" y="%s" text-anchor="start">%s</text>`, f(w-right+6), f(top-12), esc("p95 ms"))
	every := max(1, int(math.Ceil(float64(len(steps))/12))) // at most ~12 labels
	for i, s := range steps {
		if i%every != 0 && i != len(steps)-1 {
			continue
		}
		label := strconv.Itoa(s.Users)
		if s.Rate > 0 {
			label = strconv.FormatFloat(s.Rate, 'f', -1, 64) + "/s"
		}
		fmt.Fprintf(&b, `<text x="%s" y="%s" text-anchor="middle">%s</text>`, f(x(i)), f(top+ph+16), esc(label))
	}
	xTitle := "users per step"
	if len(steps) > 0 && steps[0].Rate > 0 {
		xTitle = "arrival rate per step (iterations/s)"
	}
	fmt.Fprintf(&b, `<text x="%s" y="%s" text-anchor="middle">%s</text>`, f(left+pw/2), f(h-6), esc(xTitle))
	b.WriteString(`</g>`)
	// throughput bars, coloured by verdict
	bw := max(2, slot*0.6)
	for i, s := range steps {
		class := "held"
		switch {
		case s.GeneratorShort:
			class = "short"
		case !s.Pass:
			class = "broke"
		}
		y := yR(s.RPS)
		fmt.Fprintf(&b, `<rect class="bar %s" x="%s" y="%s" width="%s" height="%s"><title>%s</title></rect>`,
			class, f(x(i)-bw/2), f(y), f(bw), f(top+ph-y),
			esc(fmt.Sprintf("%s: %s req/s, p95 %s ms (%s)", s.load(), fixed1(s.RPS), fixed1(s.P95Ms), class)))
	}
	// p95 line
	var pts []string
	for i, s := range steps {
		pts = append(pts, f(x(i))+","+f(yP(s.P95Ms)))
	}
	fmt.Fprintf(&b, `<polyline class="p95" fill="none" points="%s"/>`, strings.Join(pts, " "))
	for i, s := range steps {
		fmt.Fprintf(&b, `<circle class="p95" cx="%s" cy="%s" r="3.5"/>`, f(x(i)), f(yP(s.P95Ms)))
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String()) // built from escaped text and numbers only
}

// nonNeg is v, or 0 when it is not a finite number at least 0.
func nonNeg(v float64) float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
		return 0
	}
	return v
}

// niceCeil rounds v up to 1, 2 or 5 times a power of ten (1 for 0).
func niceCeil(v float64) float64 {
	if v <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if v <= m*p {
			return m * p
		}
	}
	return 10 * p
}

// axisLabel writes an axis value without needless decimals.
func axisLabel(v float64) string {
	if v >= 100 || v == math.Trunc(v) {
		return strconv.FormatFloat(math.Round(v), 'f', -1, 64)
	}
	return strconv.FormatFloat(v, 'f', -1, 64)
}
