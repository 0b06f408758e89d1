package report

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/golocust/locust"
	"github.com/golocust/locust/threshold"
)

// richInput simulates a three-minute test on a fake clock: five endpoints,
// a ramp to 50 users, a latency bump in the middle, some failures and an
// exception; with a history sample per second, thresholds and a comparison
// with a slightly better baseline.
func richInput(t *testing.T) ReportInput {
	t.Helper()
	start := time.Date(2026, 3, 14, 9, 30, 0, 0, time.UTC)
	clock := start
	st := locust.NewStats(locust.StatsOptions{Now: func() time.Time { return clock }})
	rng := rand.New(rand.NewPCG(1, 2))
	type ep struct {
		typ, name string
		ms        float64 // typical latency
		share     float64
		failEvery int
		size      int64
	}
	eps := []ep{
		{"GET", "/", 18, 0.35, 0, 5120},
		{"GET", "/items/{id}", 42, 0.3, 0, 2048},
		{"GET", "/search?q={term}", 120, 0.15, 0, 8192},
		{"POST", "/login", 65, 0.1, 0, 256},
		{"POST", "/cart", 80, 0.1, 37, 512},
	}
	const secs = 180
	var history []Sample
	for s := 0; s < secs; s++ {
		users := min(50, s/2+1)
		if s > 170 {
			users = 50 - (s-170)*5
		}
		bump := 1.0
		if s >= 90 && s < 120 {
			bump = 1.8 + 0.6*math.Sin(float64(s-90)/30*math.Pi)
		}
		n := users * 4
		for i := 0; i < n; i++ {
			x := rng.Float64()
			var e ep
			for _, e = range eps {
				if x < e.share {
					break
				}
				x -= e.share
			}
			lat := e.ms * bump * math.Exp(rng.NormFloat64()*0.35)
			var err error
			if e.failEvery > 0 && rng.IntN(e.failEvery) == 0 {
				err = errors.New("HTTP 503: Service Unavailable")
			}
			if e.name == "/items/{id}" && rng.IntN(400) == 0 {
				err = errors.New("HTTP 404: item not found")
			}
			at := start.Add(time.Duration(s)*time.Second + time.Duration(rng.Int64N(int64(time.Second))))
			st.Record(locust.Request{Type: e.typ, Name: e.name, Start: at, Duration: time.Duration(lat * float64(time.Millisecond)), Length: e.size, Err: err})
		}
		if s%45 == 44 {
			st.RecordException("panic in task checkout: runtime error: index out of range [3] with length 3",
				"goroutine 42 [running]:\nmain.checkout(...)\n\t/src/loadtest/main.go:87 +0x1d\ngithub.com/golocust/locust.(*User).call(...)\n", "")
		}
		clock = start.Add(time.Duration(s+1) * time.Second)
		snap := st.Snapshot()
		snap.UserCount = users
		history = append(history, NewSample(snap))
	}
	final := st.Snapshot()
	in := ReportInput{
		Title:    "Checkout service: nightly load test",
		Start:    start,
		End:      clock,
		Host:     "http://127.0.0.1:8080",
		Snapshot: final,
		Stats:    st,
		History:  history,
		Thresholds: []threshold.Result{
			{Threshold: threshold.Threshold{Expr: "p95 < 300ms"}, Actual: 201, ActualText: "201ms", Pass: true},
			{Threshold: threshold.Threshold{Expr: "fail_ratio < 1%"}, Actual: 0.0042, ActualText: "0.42%", Pass: true},
			{Threshold: threshold.Threshold{Expr: "GET /search?q={term}: p99 < 250ms"}, Actual: 388, ActualText: "388ms", Pass: false},
			{Threshold: threshold.Threshold{Expr: "GET /admin: p95 < 1s"}, ActualText: "no requests to GET /admin", Missing: true},
		},
		ExtraKeys: []string{"git_commit"},
		Extra:     map[string]any{"git_commit": "3f2a9c1"},
	}
	// a baseline a little better on /search, and with an endpoint since removed
	cur := NewDocument(in)
	base := NewDocument(in)
	for i := range base.Stats {
		e := &base.Stats[i]
		if e.Name == "/search?q={term}" {
			for j := range e.Percentiles {
				e.Percentiles[j].MS *= 0.7
			}
		}
		if e.Name == "/" {
			e.RPS *= 0.95
		}
	}
	base.Stats = append(base.Stats, Entry{Method: "GET", Name: "/legacy", NumRequests: 10})
	cmp := Compare(base, cur, DefaultTolerance)
	cmp.Baseline = "nightly-2026-03-13.json"
	in.Comparison = cmp
	return in
}

// pageCheck is what the browser reports about a loaded report.
type pageCheck struct {
	Charts        int      `json:"charts"`
	DrawnCharts   int      `json:"drawnCharts"`
	NoData        int      `json:"noData"`
	RequestRows   int      `json:"requestRows"`
	PctRows       int      `json:"pctRows"`
	ThresholdRows int      `json:"thresholdRows"`
	CompareRows   int      `json:"compareRows"`
	FailureRows   int      `json:"failureRows"`
	ExceptionRows int      `json:"exceptionRows"`
	Resources     int      `json:"resources"`
	External      []string `json:"external"`
	TipShown      bool     `json:"tipShown"`
}

const checkJS = `(() => {
  const svgs = [...document.querySelectorAll('figure.chart svg.chart-svg')];
  const drawn = svgs.filter(s => [...s.querySelectorAll('path.series')].some(p => (p.getAttribute('d') || '').length > 10));
  let tip = false;
  const hit = document.querySelector('figure.chart svg.chart-svg rect');
  if (hit) {
    const r = hit.getBoundingClientRect();
    hit.dispatchEvent(new MouseEvent('mousemove', {clientX: r.left + r.width / 2, clientY: r.top + r.height / 2, bubbles: true}));
    tip = getComputedStyle(document.querySelector('figure.chart .tip')).display === 'block';
    hit.dispatchEvent(new MouseEvent('mouseleave'));
  }
  const rows = sel => document.querySelectorAll(sel + ' tbody tr').length;
  return {
    charts: svgs.length, drawnCharts: drawn.length, noData: document.querySelectorAll('.nodata').length,
    requestRows: rows('#requests'), pctRows: rows('#percentiles'), thresholdRows: rows('#thresholds'),
    compareRows: rows('#comparison'), failureRows: rows('#failures'), exceptionRows: rows('#exceptions'),
    resources: performance.getEntriesByType('resource').length,
    external: [...document.querySelectorAll('[src],[href]')].map(e => e.getAttribute('src') || e.getAttribute('href')).filter(u => !u.startsWith('#')),
    tipShown: tip,
  };
})()`

// browser starts headless Chromium, or skips the test without it (fails
// with LOCUST_REQUIRE_PEERS=1).
func browser(t *testing.T) context.Context {
	t.Helper()
	const path = "/usr/bin/chromium"
	if _, err := os.Stat(path); err != nil {
		if os.Getenv("LOCUST_REQUIRE_PEERS") == "1" {
			t.Fatalf("chromium is required (LOCUST_REQUIRE_PEERS=1) but %s is missing: apt-get install -y chromium", path)
		}
		t.Skipf("chromium not installed at %s (apt-get install -y chromium); skipping the browser test", path)
	}
	profile := t.TempDir()
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.NoFirstRun,
		chromedp.UserDataDir(profile),
		chromedp.WindowSize(1360, 900),
	)
	ctx, cancelCtx := chromedp.NewContext(actx)
	ctx, cancelTimeout := context.WithTimeout(ctx, 45*time.Second)
	t.Cleanup(func() {
		cancelTimeout()
		cancelCtx()
		cancelAlloc()
	})
	return ctx
}

// openReport loads the file in a new tab and returns the page check and
// the console errors and exceptions.
func openReport(t *testing.T, ctx context.Context, file string) (pageCheck, []string, []byte) {
	t.Helper()
	tab, cancel := chromedp.NewContext(ctx)
	defer cancel()
	var mu sync.Mutex
	var problems []string
	require.NoError(t, chromedp.Listen(tab, func(ev any) {
		mu.Lock()
		defer mu.Unlock()
		switch ev := ev.(type) {
		case *runtime.EventConsoleAPICalled:
			if ev.Type == runtime.ConsoleAPICalledTypeError {
				var parts []string
				for _, a := range ev.Args {
					parts = append(parts, fmt.Sprintf("%s %s", a.Description, a.Value))
				}
				problems = append(problems, "console.error: "+strings.Join(parts, " "))
			}
		case *runtime.EventExceptionThrown:
			d := ev.ExceptionDetails
			msg := d.Text
			if d.Exception != nil {
				msg += " " + d.Exception.Description
			}
			problems = append(problems, fmt.Sprintf("exception at %d:%d: %s", d.LineNumber+1, d.ColumnNumber+1, msg))
		case *log.EventEntryAdded:
			if ev.Entry.Level == log.EntryLevelError {
				problems = append(problems, "log: "+ev.Entry.Text+" "+ev.Entry.URL)
			}
		}
	}))
	require.NoError(t, chromedp.Do(tab, chromedp.Navigate("file://"+file), chromedp.WaitVisible(chromedp.CSS("#requests"))))
	check, err := chromedp.Run(tab, chromedp.Evaluate[pageCheck](checkJS))
	require.NoError(t, err)
	png, err := chromedp.Run(tab, chromedp.FullScreenshot(100))
	require.NoError(t, err)
	mu.Lock()
	defer mu.Unlock()
	return check, append([]string(nil), problems...), png
}

func TestHTMLInChromium(t *testing.T) {
	ctx := browser(t)
	dir := t.TempDir()

	in := richInput(t)
	file := filepath.Join(dir, "report.html")
	var buf bytes.Buffer
	require.NoError(t, WriteHTML(&buf, in))
	require.NoError(t, os.WriteFile(file, buf.Bytes(), 0o644))

	check, problems, png := openReport(t, ctx, file)
	assert.Empty(t, problems, "no console errors or exceptions")
	assert.Equal(t, 3, check.Charts, "three charts")
	assert.Equal(t, 3, check.DrawnCharts, "every chart has a line")
	assert.Zero(t, check.NoData)
	assert.Equal(t, len(in.Snapshot.Entries)+1, check.RequestRows, "an entry per row and Aggregated")
	assert.Equal(t, len(in.Snapshot.Entries)+1, check.PctRows)
	assert.Equal(t, 4, check.ThresholdRows)
	assert.Equal(t, len(in.Snapshot.Entries)+2, check.CompareRows, "entries, one removed, Aggregated")
	assert.Equal(t, len(in.Snapshot.Errors), check.FailureRows)
	assert.Equal(t, 1, check.ExceptionRows)
	assert.Zero(t, check.Resources, "the page loads nothing")
	assert.Empty(t, check.External)
	assert.True(t, check.TipShown, "hovering a chart shows its values")

	require.True(t, bytes.HasPrefix(png, []byte("\x89PNG")))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "report.png"), png, 0o644))
	if err := os.WriteFile("/tmp/golocust-report.png", png, 0o644); err != nil {
		t.Logf("could not save /tmp/golocust-report.png: %v", err)
	} else {
		t.Logf("screenshot: /tmp/golocust-report.png (%d bytes)", len(png))
	}
	_ = os.WriteFile("/tmp/golocust-report.html", buf.Bytes(), 0o644)

	// a report of a test without requests or history renders without errors
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	empty := locust.NewStats(locust.StatsOptions{Now: func() time.Time { return now }}).Snapshot()
	file2 := filepath.Join(dir, "empty.html")
	buf.Reset()
	require.NoError(t, WriteHTML(&buf, ReportInput{Snapshot: empty}))
	require.NoError(t, os.WriteFile(file2, buf.Bytes(), 0o644))
	check, problems, _ = openReport(t, ctx, file2)
	assert.Empty(t, problems)
	assert.Equal(t, 0, check.DrawnCharts)
	assert.Equal(t, 3, check.NoData, "each chart says there is no data")
	assert.Equal(t, 1, check.RequestRows, "the Aggregated row")
	assert.Zero(t, check.ThresholdRows)
	assert.Zero(t, check.CompareRows)
}

func TestWriteHTMLNeedsSnapshot(t *testing.T) {
	assert.Error(t, WriteHTML(&bytes.Buffer{}, ReportInput{}))
}

func TestHTMLEscapesNames(t *testing.T) {
	_, s := fixture(t, locust.StatsOptions{})
	s.Entries[0].Name = `/a?x=<script>alert(1)</script>`
	var b bytes.Buffer
	require.NoError(t, WriteHTML(&b, ReportInput{Snapshot: s}))
	assert.NotContains(t, b.String(), "<script>alert(1)")
	assert.Contains(t, b.String(), "&lt;script&gt;alert(1)")
}

// A report whose requests came partly from Python workers' rounded
// buckets says so above the percentiles; one without says nothing.
func TestHTMLSaysWhichPercentilesAreRounded(t *testing.T) {
	_, s := fixture(t, locust.StatsOptions{})
	var b bytes.Buffer
	require.NoError(t, WriteHTML(&b, ReportInput{Snapshot: s}))
	assert.NotContains(t, b.String(), "rounded buckets")
	s.RoundedRequests = 1234
	b.Reset()
	require.NoError(t, WriteHTML(&b, ReportInput{Snapshot: s}))
	assert.Contains(t, b.String(), "1\u202f234 of the requests came from Python workers' rounded buckets")
}
