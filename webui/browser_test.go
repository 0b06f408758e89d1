package webui_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	locust "github.com/golocust/locust"
	"github.com/golocust/locust/client"
	"github.com/golocust/locust/demo"
)

// shopper browses the demo target as the quickstart's user does.
func shopper() *locust.UserType {
	get := func(path string, opts ...client.RequestOption) locust.TaskFunc {
		return func(ctx context.Context, u *locust.User) error {
			_, err := client.HTTPFor(u).Get(ctx, path, opts...)
			return err
		}
	}
	return &locust.UserType{
		Name: "Shopper",
		Wait: locust.Between(20*time.Millisecond, 60*time.Millisecond),
		Tasks: locust.NewTaskSet("shop").
			Task(6, get("/")).
			Task(1, get("/slow?ms=30")).
			Task(1, get("/error")).
			Task(1, func(context.Context, *locust.User) error { panic("checkout broke") }).
			Task(8, func(ctx context.Context, u *locust.User) error {
				_, err := client.HTTPFor(u).Get(ctx, fmt.Sprintf("/item/%d", rand.IntN(100)), client.Name("/item/{id}"))
				return err
			}),
	}
}

// chromium starts headless Chromium, or skips the test without it (fails
// with LOCUST_REQUIRE_PEERS=1).
func chromium(t *testing.T, downloads string) context.Context {
	t.Helper()
	const path = "/usr/bin/chromium"
	if _, err := os.Stat(path); err != nil {
		if os.Getenv("LOCUST_REQUIRE_PEERS") == "1" {
			t.Fatalf("chromium is required (LOCUST_REQUIRE_PEERS=1) but %s is missing: apt-get install -y chromium", path)
		}
		t.Skipf("chromium not installed at %s (apt-get install -y chromium); skipping the browser test", path)
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.NoFirstRun,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1400, 1000),
	)
	ctx, cancelCtx := chromedp.NewContext(actx)
	ctx, cancelTimeout := context.WithTimeout(ctx, 90*time.Second)
	t.Cleanup(func() {
		cancelTimeout()
		cancelCtx()
		cancelAlloc()
	})
	require.NoError(t, chromedp.Do(ctx, chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		_, err := chromedp.Call(ctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
			Behavior: browser.SetDownloadBehaviorBehaviorAllow, DownloadPath: downloads,
		})
		return err
	})))
	return ctx
}

// watch records the page's console errors, exceptions and requests.
type watch struct {
	mu       sync.Mutex
	problems []string
	requests []string
}

func (w *watch) listen(t *testing.T, ctx context.Context) {
	require.NoError(t, chromedp.Listen(ctx, func(ev any) {
		w.mu.Lock()
		defer w.mu.Unlock()
		switch ev := ev.(type) {
		case *runtime.EventConsoleAPICalled:
			if ev.Type == runtime.ConsoleAPICalledTypeError {
				var parts []string
				for _, a := range ev.Args {
					parts = append(parts, fmt.Sprintf("%s %s", a.Description, a.Value))
				}
				w.problems = append(w.problems, "console.error: "+strings.Join(parts, " "))
			}
		case *runtime.EventExceptionThrown:
			d := ev.ExceptionDetails
			msg := d.Text
			if d.Exception != nil {
				msg += " " + d.Exception.Description
			}
			w.problems = append(w.problems, fmt.Sprintf("exception at %d:%d: %s", d.LineNumber+1, d.ColumnNumber+1, msg))
		case *log.EventEntryAdded:
			if ev.Entry.Level == log.EntryLevelError {
				w.problems = append(w.problems, "log: "+ev.Entry.Text+" "+ev.Entry.URL)
			}
		case *network.EventRequestWillBeSent:
			w.requests = append(w.requests, ev.Request.URL)
		}
	}))
}

func (w *watch) snapshot() (problems, requests []string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.problems...), append([]string(nil), w.requests...)
}

// poll waits until the page expression is truthy.
func poll(t *testing.T, ctx context.Context, what, expr string) {
	t.Helper()
	_, err := chromedp.Run(ctx, chromedp.Poll[any](expr, chromedp.WithPollingTimeout(20*time.Second), chromedp.WithPollingInterval(100*time.Millisecond)))
	require.NoError(t, err, "waiting for %s (%s)", what, expr)
}

func eval[T any](t *testing.T, ctx context.Context, expr string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	require.NoError(t, err, expr)
	return v
}

// seriesPaths is the d attributes of every line of a chart.
const seriesPaths = `id => [...document.querySelectorAll('#' + id + ' path.series')].map(p => p.getAttribute('d')).join('|')`

// TestBrowser drives the UI in headless Chromium as a person would: open
// the page, fill the form, start a test against the demo target, watch
// the tables and charts, change the user count, stop, download a CSV.
// With LOCUST_SCREENSHOTS=DIR it runs longer, with a point a second, and
// saves DIR/webui-charts.png and DIR/webui-stats.png of the running UI
// (the README's pictures in docs/ are made so:
// LOCUST_SCREENSHOTS=$PWD/docs go test -count=1 -run TestBrowser ./webui).
func TestBrowser(t *testing.T) {
	downloads := t.TempDir()
	ctx := chromium(t, downloads)
	target, err := demo.Start(demo.Options{})
	require.NoError(t, err)
	defer target.Close()
	shots := os.Getenv("LOCUST_SCREENSHOTS")
	interval := 200 * time.Millisecond
	if shots != "" {
		interval = time.Second
	}
	u := startUIEvery(t, interval, []*locust.UserType{shopper()}, "-u", "1", "-r", "1")
	require.NotEmpty(t, u.url)

	var w watch
	w.listen(t, ctx)
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(u.url), chromedp.WaitVisible(chromedp.CSS("#start-form"))))
	assert.Equal(t, "ready", eval[string](t, ctx, `document.getElementById('state').textContent`))
	assert.True(t, eval[bool](t, ctx, `document.getElementById('workers-tab').hidden`), "no workers tab without --master")
	require.NoError(t, chromedp.Do(ctx,
		chromedp.SetValue(chromedp.CSS("#f-users"), "6"),
		chromedp.SetValue(chromedp.CSS("#f-rate"), "20"),
		chromedp.SetValue(chromedp.CSS("#f-host"), target.URL),
		chromedp.Click(chromedp.CSS("#start-btn")),
	))
	poll(t, ctx, "the test to run with 6 users", `document.getElementById('state').textContent === 'running' && document.getElementById('users').textContent === '6'`)
	assert.Equal(t, target.URL, eval[string](t, ctx, `document.getElementById('host').textContent`))
	poll(t, ctx, "rows for every entry", `document.querySelectorAll('#stats-table tbody tr').length === 4`)
	names := eval[[]string](t, ctx, `[...document.querySelectorAll('#stats-table tbody tr td:nth-child(2)')].map(td => td.textContent)`)
	assert.Equal(t, []string{"/", "/error", "/item/{id}", "/slow?ms=30"}, names, "sorted by name")
	assert.Equal(t, "Aggregated", eval[string](t, ctx, `document.querySelector('#stats-table tfoot td:nth-child(2)').textContent`))

	// sorting: by # Requests, most first
	require.NoError(t, chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`#stats-table th[data-key="num_requests"]`))))
	counts := eval[[]float64](t, ctx, `[...document.querySelectorAll('#stats-table tbody tr td:nth-child(3)')].map(td => +td.textContent)`)
	require.Len(t, counts, 4)
	for i := 1; i < len(counts); i++ {
		assert.GreaterOrEqual(t, counts[i-1], counts[i], "sorted by # Requests, descending: %v", counts)
	}

	// failures and exceptions tabs
	require.NoError(t, chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`#tabs button[data-tab="failures"]`))))
	poll(t, ctx, "the /error failure", `[...document.querySelectorAll('#failures-table tbody td')].some(td => td.textContent === '/error')`)

	// exceptions, with the stack trace of the panic
	require.NoError(t, chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`#tabs button[data-tab="exceptions"]`))))
	poll(t, ctx, "the panic's row", `[...document.querySelectorAll('#exceptions-table tbody td')].some(td => td.textContent.includes('checkout broke'))`)
	assert.Contains(t, eval[string](t, ctx, `document.querySelector('#exceptions-table tbody pre').textContent`), "browser_test.go", "the stack trace")
	assert.True(t, eval[bool](t, ctx, `document.querySelector('#exceptions-table tbody pre').offsetHeight > 0`), "shown")

	// charts: every chart draws, and grows
	require.NoError(t, chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`#tabs button[data-tab="charts"]`))))
	for _, id := range []string{"chart-rps", "chart-rt", "chart-users", "chart-avg"} {
		poll(t, ctx, id+" drawn", `(`+seriesPaths+`)('`+id+`').split('|').some(d => (d.match(/L/g) || []).length >= 2)`)
	}
	before := eval[string](t, ctx, `(`+seriesPaths+`)('chart-rps')`)
	poll(t, ctx, "the RPS chart to update", `(`+seriesPaths+`)('chart-rps') !== `+fmt.Sprintf("%q", before))
	assert.Equal(t, 2, eval[int](t, ctx, `document.querySelectorAll('#chart-rps path.series').length`), "requests/s and failures/s")
	assert.Equal(t, 2, eval[int](t, ctx, `document.querySelectorAll('#chart-rt path.series').length`), "median and p95")
	// per-entry Average Response Time: one line per picked entry
	poll(t, ctx, "4 entries to pick", `document.querySelectorAll('#entry-picker input').length === 4`)
	poll(t, ctx, "4 lines", `document.querySelectorAll('#chart-avg .legend span').length === 4`)
	require.NoError(t, chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`#entry-picker input[data-entry="GET /error"]`))))
	poll(t, ctx, "3 lines after unpicking one", `document.querySelectorAll('#chart-avg .legend span').length === 3 && ![...document.querySelectorAll('#chart-avg .legend span')].some(s => s.textContent === 'GET /error')`)

	if shots != "" {
		time.Sleep(12 * time.Second)
		code, body := post(t, u.url+"/swarm", url.Values{"user_count": {"15"}, "spawn_rate": {"3"}}, nil)
		require.Equal(t, http.StatusOK, code, body)
		time.Sleep(18 * time.Second)
		for _, tab := range []string{"charts", "stats"} {
			require.NoError(t, chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`#tabs button[data-tab="`+tab+`"]`)), chromedp.Sleep(1500*time.Millisecond)))
			png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
			require.NoError(t, err)
			file := filepath.Join(shots, "webui-"+tab+".png")
			require.NoError(t, os.WriteFile(file, png, 0o644))
			t.Logf("screenshot written to %s", file)
		}
		require.NoError(t, chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`#tabs button[data-tab="charts"]`))))
	}

	// reset the statistics
	aggregated := func() float64 {
		rows := statsRequests(t, u.url)["stats"].([]any)
		return rows[len(rows)-1].(map[string]any)["num_requests"].(float64)
	}
	require.Eventually(t, func() bool { return aggregated() > 200 }, 20*time.Second, 50*time.Millisecond)
	require.NoError(t, chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#reset-btn"))))
	require.Eventually(t, func() bool { return aggregated() < 100 }, 10*time.Second, 10*time.Millisecond, "the statistics start again from zero")

	// change the user count
	require.NoError(t, chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#edit-btn")), chromedp.WaitVisible(chromedp.CSS("#edit-form"))))
	require.NoError(t, chromedp.Do(ctx,
		chromedp.SetValue(chromedp.CSS("#e-users"), "2"),
		chromedp.SetValue(chromedp.CSS("#e-rate"), "50"),
		chromedp.Click(chromedp.CSS("#edit-submit")),
	))
	poll(t, ctx, "2 users", `document.getElementById('users').textContent === '2'`)

	// stop
	require.NoError(t, chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#stop-btn"))))
	poll(t, ctx, "the stop", `document.getElementById('state').textContent === 'stopped' && !document.getElementById('new-btn').hidden`)

	// download the statistics CSV
	require.NoError(t, chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`#tabs button[data-tab="downloads"]`)), chromedp.Click(chromedp.CSS("#dl-stats"))))
	var csv []byte
	require.Eventually(t, func() bool {
		m, _ := filepath.Glob(filepath.Join(downloads, "requests_*.csv"))
		if len(m) != 1 {
			return false
		}
		csv, err = os.ReadFile(m[0])
		return err == nil && len(csv) > 0
	}, 15*time.Second, 100*time.Millisecond, "the CSV download")
	assert.True(t, strings.HasPrefix(string(csv), "Type,Name,Request Count,Failure Count,Median Response Time,Average Response Time,Min Response Time,Max Response Time,Average Content Size,Requests/s,Failures/s,50%,66%,75%,80%,90%,95%,98%,99%,99.9%,99.99%,100%\r\n"), string(csv))
	assert.Contains(t, string(csv), "GET,/item/{id},")

	// a new test from the form, then stop it; its charts start afresh
	require.NoError(t, chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`#tabs button[data-tab="charts"]`))))
	segments := `(` + seriesPaths + `)('chart-users').split('L').length`
	oldSegments := eval[int](t, ctx, segments)
	require.Greater(t, oldSegments, 10)
	require.NoError(t, chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#new-btn")), chromedp.WaitVisible(chromedp.CSS("#start-form"))))
	assert.Equal(t, target.URL, eval[string](t, ctx, `document.getElementById('f-host').value`), "the form keeps the last test's values")
	require.NoError(t, chromedp.Do(ctx, chromedp.SetValue(chromedp.CSS("#f-users"), "3"), chromedp.Click(chromedp.CSS("#start-btn"))))
	poll(t, ctx, "the new test with 3 users", `document.getElementById('state').textContent === 'running' && document.getElementById('users').textContent === '3'`)
	poll(t, ctx, "the charts of the new test", fmt.Sprintf(`%s >= 3 && %s < %d`, segments, segments, oldSegments))
	require.NoError(t, chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#stop-btn"))))
	poll(t, ctx, "the second stop", `document.getElementById('state').textContent === 'stopped'`)

	// the requests cut short by the stop show in the header when there are any
	assert.True(t, eval[bool](t, ctx, `(async () => {
		const d = await (await fetch('/stats/requests')).json();
		const fact = document.getElementById('cutshort-fact');
		const shown = getComputedStyle(fact).display !== 'none';
		return d.cut_short > 0 ? shown && document.getElementById('cutshort').textContent === String(d.cut_short) : !shown;
	})()`), "the header's cut-short figure is the JSON's")

	problems, requests := w.snapshot()
	assert.Empty(t, problems, "no console errors or exceptions")
	require.NotEmpty(t, requests)
	for _, r := range requests {
		assert.True(t, strings.HasPrefix(r, u.url+"/") || strings.HasPrefix(r, "data:"), "request outside the server: %s", r)
	}

	// a page of another origin cannot start a test through the UI
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprint(w, `<!DOCTYPE html><title>other</title><p>other site</p>`)
	}))
	defer other.Close()
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(other.URL)))
	status := eval[string](t, ctx, `fetch(`+fmt.Sprintf("%q", u.url+"/swarm")+`, {method: 'POST', mode: 'no-cors',
		body: new URLSearchParams({user_count: '50', spawn_rate: '50', host: 'http://127.0.0.1:9'})}).then(r => 'sent ' + r.type, e => 'error ' + e)`,
	)
	assert.Contains(t, status, "sent", "the browser sent it")
	time.Sleep(300 * time.Millisecond)
	assert.Equal(t, "stopped", statsRequests(t, u.url)["state"], "the cross-origin POST started nothing")

	// when the program quits, the page says so
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(u.url)))
	poll(t, ctx, "the stopped test", `document.getElementById('state').textContent === 'stopped'`)
	u.quit(t)
	poll(t, ctx, "the notice", `!document.getElementById('notice').hidden && document.getElementById('notice').textContent.includes('Cannot reach')`)
}

// TestBrowserWorkersTab drives the UI of a master (--master) with two Go
// workers in headless Chromium: the Workers tab lists them before the
// test, the start form spawns the users across them (the header's users
// are their sum), and stop leaves them ready for the next test. Without
// --master the tab stays hidden (TestBrowser's page has none).
func TestBrowserWorkersTab(t *testing.T) {
	ctx := chromium(t, t.TempDir())
	mu := startMasterUI(t)
	var w watch
	w.listen(t, ctx)
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(mu.base), chromedp.WaitVisible(chromedp.CSS("#start-form"))))
	rows := `[...document.querySelectorAll('#workers-table tbody tr')].map(tr => [...tr.children].map(td => td.textContent))`
	poll(t, ctx, "the Workers tab with two ready workers", `!document.getElementById('workers-tab').hidden && (`+rows+`).filter(r => r[1] === 'ready' && r[2] === '0').length === 2`)
	assert.Equal(t, "(2)", eval[string](t, ctx, `document.getElementById('worker-count').textContent`))

	require.NoError(t, chromedp.Do(ctx,
		chromedp.SetValue(chromedp.CSS("#f-users"), "4"),
		chromedp.SetValue(chromedp.CSS("#f-rate"), "100"),
		chromedp.Click(chromedp.CSS("#start-btn")),
		chromedp.WaitNotVisible(chromedp.CSS("#start-form")),
		chromedp.Click(chromedp.CSS(`#tabs button[data-tab="workers"]`)),
	))
	poll(t, ctx, "4 users, 2 on each worker", `document.getElementById('users').textContent === '4' && (`+rows+`).filter(r => r[1] === 'running' && r[2] === '2').length === 2`)
	ids := eval[[]string](t, ctx, `(`+rows+`).map(r => r[0]).sort()`)
	assert.Equal(t, []string{"uitest0_0123456789abcdef0123456789abcdef", "uitest1_0123456789abcdef0123456789abcdef"}, ids)
	assert.True(t, eval[bool](t, ctx, `(`+rows+`).every(r => /^[0-9.]+%$/.test(r[3]))`), "the CPU column")
	assert.True(t, eval[bool](t, ctx, `document.getElementById('tab-workers').offsetHeight > 0`), "shown")

	require.NoError(t, chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#stop-btn"))))
	poll(t, ctx, "stopped, the workers ready again", `document.getElementById('state').textContent === 'stopped' && (`+rows+`).filter(r => r[1] === 'ready' && r[2] === '0').length === 2`)
	problems, _ := w.snapshot()
	assert.Empty(t, problems, "no console errors or exceptions")
	mu.quit(t)
}
