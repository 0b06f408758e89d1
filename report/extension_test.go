package report

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/golocust/locust"
	"github.com/golocust/locust/threshold"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

type cmdResult struct {
	code           int
	stdout, stderr string
}

// runCommand runs a Command with the given users, extensions and args.
func runCommand(t *testing.T, c *locust.Command, args ...string) cmdResult {
	t.Helper()
	var out, errb bytes.Buffer
	c.Stdout, c.Stderr = &out, &errb
	c.Getenv = func(string) string { return "" }
	code := c.Run(context.Background(), append([]string{"--headless", "--only-summary"}, args...))
	return cmdResult{code: code, stdout: out.String(), stderr: errb.String()}
}

// readCSV reads a whole CSV file and checks its lines end with CRLF.
func readCSV(t *testing.T, name string) [][]string {
	t.Helper()
	data, err := os.ReadFile(name)
	require.NoError(t, err)
	require.True(t, bytes.HasSuffix(data, []byte("\r\n")), "%s ends with CRLF", name)
	assert.NotContains(t, strings.ReplaceAll(string(data), "\r\n", ""), "\n", "%s: only CRLF line ends outside quoted fields", name)
	rows, err := csv.NewReader(bytes.NewReader(data)).ReadAll()
	require.NoError(t, err, name)
	return rows
}

func col(rows [][]string, name string) int {
	for i, h := range rows[0] {
		if h == name {
			return i
		}
	}
	return -1
}

func findRow(rows [][]string, typ, name string) []string {
	for _, r := range rows[1:] {
		if r[col(rows, "Type")] == typ && r[col(rows, "Name")] == name {
			return r
		}
	}
	return nil
}

// lastJSON decodes the JSON list that --json prints: stdout must hold
// nothing else (the tables go to stderr then).
func lastJSON(t *testing.T, stdout string) []map[string]any {
	t.Helper()
	var list []map[string]any
	dec := json.NewDecoder(strings.NewReader(stdout))
	require.NoError(t, dec.Decode(&list), "stdout is not only JSON:\n%s", stdout)
	require.False(t, dec.More(), "more than the JSON on stdout:\n%s", stdout)
	return list
}

// server is a test target on 127.0.0.1 whose /slow handler delay can change.
type server struct {
	*httptest.Server
	slow   atomic.Int64 // nanoseconds
	fast   time.Duration
	client *http.Client
}

func newServer(t *testing.T, fast, slow time.Duration) *server {
	s := &server{fast: fast}
	s.slow.Store(int64(slow))
	mux := http.NewServeMux()
	mux.HandleFunc("/fast", func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(s.fast)
		io.WriteString(w, "fast")
	})
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(time.Duration(s.slow.Load()))
		io.WriteString(w, "slow response")
	})
	mux.HandleFunc("/error", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "broken", http.StatusInternalServerError)
	})
	s.Server = httptest.NewServer(mux)
	tr := &http.Transport{MaxIdleConnsPerHost: 16}
	s.client = &http.Client{Transport: tr, Timeout: 5 * time.Second}
	t.Cleanup(func() {
		tr.CloseIdleConnections()
		s.Close()
	})
	return s
}

// get is a task that GETs path through u.Measure.
func (s *server) get(path string) locust.TaskFunc {
	return func(ctx context.Context, u *locust.User) error {
		return u.Measure(ctx, "GET", path, func(ctx context.Context) (int64, error) {
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.URL+path, nil)
			if err != nil {
				return 0, err
			}
			resp, err := s.client.Do(req)
			if err != nil {
				return 0, err
			}
			defer resp.Body.Close()
			n, err := io.Copy(io.Discard, resp.Body)
			if err != nil {
				return n, err
			}
			if resp.StatusCode >= 400 {
				return n, fmt.Errorf("HTTP %d", resp.StatusCode)
			}
			return n, nil
		})
	}
}

func TestCommandWritesEveryFile(t *testing.T) {
	srv := newServer(t, time.Millisecond, 3*time.Millisecond)
	dir := t.TempDir()
	prefix := filepath.Join(dir, "run")
	ext := NewExtension()
	user := &locust.UserType{
		Name: "web",
		Wait: locust.Constant(20 * time.Millisecond),
		Tasks: locust.NewTaskSet("web").
			Task(3, srv.get("/fast")).
			Task(1, srv.get("/slow")),
	}
	res := runCommand(t, &locust.Command{Users: []*locust.UserType{user}, Extensions: []locust.Extension{ext}},
		"-u", "3", "-r", "100", "-t", "2500ms", "-H", srv.URL,
		"--csv", prefix, "--csv-full-history", "--json",
		"--json-file", filepath.Join(dir, "run.json"), "--html", filepath.Join(dir, "run.html"))
	require.Equal(t, 0, res.code, res.stderr)

	// stats.csv: the entries, then Aggregated
	stats := readCSV(t, prefix+"_stats.csv")
	assert.Equal(t, statsHeader, stats[0])
	require.Len(t, stats, 4)
	assert.Equal(t, []string{"GET", "/fast"}, stats[1][:2])
	assert.Equal(t, []string{"GET", "/slow"}, stats[2][:2])
	assert.Equal(t, []string{"", "Aggregated"}, stats[3][:2])
	fastN, _ := strconv.Atoi(stats[1][2])
	slowN, _ := strconv.Atoi(stats[2][2])
	totalN, _ := strconv.Atoi(stats[3][2])
	assert.Positive(t, fastN)
	assert.Positive(t, slowN)
	assert.Equal(t, fastN+slowN, totalN)
	assert.Equal(t, "0", stats[3][3], "no failures")
	rps, err := strconv.ParseFloat(stats[3][col(stats, "Requests/s")], 64)
	require.NoError(t, err)
	assert.InDelta(t, float64(totalN)/2.5, rps, float64(totalN)/2.5*0.35, "whole-run rate")
	med, err := strconv.Atoi(stats[2][col(stats, "Median Response Time")])
	require.NoError(t, err, "the median is an integer")
	assert.GreaterOrEqual(t, med, 3, "/slow takes at least 3 ms")

	// history: a row per entry and Aggregated, about every second
	hist := readCSV(t, prefix+"_stats_history.csv")
	assert.Equal(t, historyHeader, hist[0])
	var stamps []int64
	for _, r := range hist[1:] {
		if r[3] == "Aggregated" {
			ts, err := strconv.ParseInt(r[0], 10, 64)
			require.NoError(t, err)
			stamps = append(stamps, ts)
			assert.Regexp(t, `^\d+\.\d{6}$`, r[4], "Requests/s with 6 decimals")
		}
	}
	assert.GreaterOrEqual(t, len(stamps), 2, "a row per second")
	for i := 1; i < len(stamps); i++ {
		assert.Greater(t, stamps[i], stamps[i-1], "one row per second, the final one too")
	}
	assert.NotNil(t, findRow(hist, "GET", "/slow"), "--csv-full-history writes every entry")
	lastAgg := hist[len(hist)-1]
	assert.Equal(t, "Aggregated", lastAgg[3])
	assert.Equal(t, strconv.Itoa(totalN), lastAgg[col(hist, "Total Request Count")], "the last row is final")

	// failures and exceptions: headers only
	assert.Equal(t, [][]string{failuresHeader}, readCSV(t, prefix+"_failures.csv"))
	assert.Equal(t, [][]string{exceptionsHeader}, readCSV(t, prefix+"_exceptions.csv"))
	tmps, _ := filepath.Glob(filepath.Join(dir, ".*.tmp"))
	assert.Empty(t, tmps, "no temporary files left")

	// --json on stdout
	list := lastJSON(t, res.stdout)
	assert.Contains(t, res.stderr, "Aggregated", "with --json the tables go to stderr")
	require.Len(t, list, 2)
	assert.Equal(t, "/fast", list[0]["name"])
	assert.EqualValues(t, fastN, list[0]["num_requests"])
	perSec := 0.0
	for _, v := range list[0]["num_reqs_per_sec"].(map[string]any) {
		perSec += v.(float64)
	}
	assert.InDelta(t, float64(fastN), perSec, 0, "the per-second counts add up")
	buckets := 0.0
	for _, v := range list[0]["response_times"].(map[string]any) {
		buckets += v.(float64)
	}
	assert.InDelta(t, float64(fastN), buckets, 0, "the response time buckets add up")

	// --json-file
	doc, err := ReadDocumentFile(filepath.Join(dir, "run.json"))
	require.NoError(t, err)
	assert.Equal(t, srv.URL, doc.Host)
	assert.Equal(t, 3, doc.UserCount)
	assert.EqualValues(t, totalN, doc.Total.NumRequests)
	assert.False(t, doc.Start.IsZero())
	assert.True(t, doc.End.After(doc.Start))
	assert.GreaterOrEqual(t, len(doc.History), 2)
	assert.Empty(t, doc.Thresholds)

	// --html
	html, err := os.ReadFile(filepath.Join(dir, "run.html"))
	require.NoError(t, err)
	assert.Contains(t, string(html), "Request statistics")
	assert.Contains(t, string(html), "/slow")
	assert.NotRegexp(t, `(src|href)="(https?:)?//`, string(html), "self-contained: no external resources")

	assert.GreaterOrEqual(t, len(ext.History()), 2)
}

func TestCommandStoppedBySignal(t *testing.T) {
	// keep SIGUSR1 from killing the test process if it arrives late
	guard := make(chan os.Signal, 1)
	signal.Notify(guard, syscall.SIGUSR1)
	defer signal.Stop(guard)

	dir := t.TempDir()
	prefix := filepath.Join(dir, "sig")
	user := &locust.UserType{
		Name: "u",
		Wait: locust.Constant(5 * time.Millisecond),
		Tasks: locust.NewTaskSet("u").Task(1, func(ctx context.Context, u *locust.User) error {
			u.RecordSuccess("GET", "/ok", time.Millisecond, 42)
			return nil
		}),
	}
	// what a run killed at this moment would leave behind
	var midStats, midHist []byte
	var midMu sync.Mutex
	c := &locust.Command{
		Users:      []*locust.UserType{user},
		Extensions: []locust.Extension{NewExtension()},
		Signals:    []os.Signal{syscall.SIGUSR1},
		Setup: func(ctx context.Context, r *locust.Runner) error {
			// the command listens for the signal by now
			r.Events().SpawningComplete.Add(func(int) {
				time.AfterFunc(2200*time.Millisecond, func() {
					midMu.Lock()
					midStats, _ = os.ReadFile(prefix + "_stats.csv")
					midHist, _ = os.ReadFile(prefix + "_stats_history.csv")
					midMu.Unlock()
					_ = syscall.Kill(os.Getpid(), syscall.SIGUSR1)
				})
			})
			return nil
		},
	}
	start := time.Now()
	res := runCommand(t, c, "-u", "2", "-r", "100", "--csv", prefix,
		"--json-file", filepath.Join(dir, "sig.json"), "--html", filepath.Join(dir, "sig.html"))
	require.Equal(t, 0, res.code, res.stderr)
	assert.Less(t, time.Since(start), 20*time.Second, "the signal stopped the test")

	midMu.Lock()
	assert.Regexp(t, `\r\nGET,/ok,[1-9]\d*,0,`, string(midStats), "stats.csv is rewritten while the test runs")
	assert.GreaterOrEqual(t, strings.Count(string(midHist), "\r\n"), 2, "the history grows while the test runs")
	midMu.Unlock()

	stats := readCSV(t, prefix+"_stats.csv")
	row := findRow(stats, "GET", "/ok")
	require.NotNil(t, row)
	n, _ := strconv.Atoi(row[2])
	assert.Greater(t, n, 10)
	hist := readCSV(t, prefix+"_stats_history.csv")
	assert.GreaterOrEqual(t, len(hist), 3, "header and at least two rows")
	assert.Equal(t, strconv.Itoa(n), hist[len(hist)-1][col(hist, "Total Request Count")])
	doc, err := ReadDocumentFile(filepath.Join(dir, "sig.json"))
	require.NoError(t, err)
	assert.EqualValues(t, n, doc.Total.NumRequests)
	_, err = os.Stat(filepath.Join(dir, "sig.html"))
	assert.NoError(t, err)
}

func TestCommandFailuresExceptionsAndThresholds(t *testing.T) {
	srv := newServer(t, 0, 0)
	dir := t.TempDir()
	prefix := filepath.Join(dir, "f")
	var panics atomic.Int64
	user := &locust.UserType{
		Name: "bad",
		Wait: locust.Constant(10 * time.Millisecond),
		Tasks: locust.NewTaskSet("bad").
			Task(4, srv.get("/error")).
			Task(2, func(ctx context.Context, u *locust.User) error {
				u.RecordFailure("CUSTOM", "op", 2*time.Millisecond, errors.New(`timeout, "db"`))
				return nil
			}).
			Task(1, func(ctx context.Context, u *locust.User) error {
				panics.Add(1)
				panic("boom")
			}).
			Task(1, func(ctx context.Context, u *locust.User) error {
				return errors.New("task error")
			}),
	}
	th := threshold.NewExtension()
	ext := NewExtension(WithThresholds(th))
	res := runCommand(t, &locust.Command{Users: []*locust.UserType{user}, Extensions: []locust.Extension{th, ext}},
		"-u", "2", "-r", "100", "-t", "1500ms", "--csv", prefix,
		"--threshold", "fail_ratio < 1%", "--threshold", "p95 < 5s",
		"--json-file", filepath.Join(dir, "f.json"), "--html", filepath.Join(dir, "f.html"))
	assert.Equal(t, threshold.ExitCode, res.code, "a failed threshold decides: %s", res.stderr)

	fails := readCSV(t, prefix+"_failures.csv")
	assert.Equal(t, failuresHeader, fails[0])
	byErr := map[string][]string{}
	for _, r := range fails[1:] {
		byErr[r[2]] = r
	}
	require.Contains(t, byErr, "HTTP 500")
	assert.Equal(t, []string{"GET", "/error"}, byErr["HTTP 500"][:2])
	require.Contains(t, byErr, `timeout, "db"`, "quotes and commas survive")
	assert.Equal(t, []string{"CUSTOM", "op"}, byErr[`timeout, "db"`][:2])

	exc := readCSV(t, prefix+"_exceptions.csv")
	assert.Equal(t, exceptionsHeader, exc[0])
	msgs := map[string][]string{}
	for _, r := range exc[1:] {
		msgs[r[1]] = r
	}
	var panicRow []string
	for m, r := range msgs {
		if strings.Contains(m, "boom") {
			panicRow = r
		}
	}
	require.NotNil(t, panicRow, "the panic is an exception: %v", msgs)
	assert.Equal(t, strconv.FormatInt(panics.Load(), 10), panicRow[0])
	assert.Contains(t, panicRow[2], "goroutine", "with its traceback")
	assert.Equal(t, "local", panicRow[3])
	require.Contains(t, msgs, "task error")

	stats := readCSV(t, prefix+"_stats.csv")
	agg := findRow(stats, "", "Aggregated")
	require.NotNil(t, agg)
	assert.NotEqual(t, "0", agg[3])

	doc, err := ReadDocumentFile(filepath.Join(dir, "f.json"))
	require.NoError(t, err)
	require.Len(t, doc.Thresholds, 2)
	assert.Equal(t, "fail_ratio < 1%", doc.Thresholds[0].Expr)
	assert.False(t, doc.Thresholds[0].Pass)
	assert.True(t, doc.Thresholds[1].Pass)
	assert.NotEmpty(t, doc.Failures)
	assert.NotEmpty(t, doc.Exceptions)

	html, err := os.ReadFile(filepath.Join(dir, "f.html"))
	require.NoError(t, err)
	assert.Contains(t, string(html), "fail_ratio &lt; 1%")
	assert.Contains(t, string(html), "boom")
	assert.Contains(t, string(html), "timeout, &#34;db&#34;")
}

func TestStartRejectsBadCompareFile(t *testing.T) {
	dir := t.TempDir()
	user := &locust.UserType{Name: "u", Tasks: locust.NewTaskSet("u").Task(1, func(ctx context.Context, u *locust.User) error {
		t.Error("no user may start")
		return nil
	})}
	run := func(args ...string) cmdResult {
		return runCommand(t, &locust.Command{Users: []*locust.UserType{user}, Extensions: []locust.Extension{NewExtension()}}, args...)
	}
	res := run("-t", "1s", "--compare", filepath.Join(dir, "missing.json"))
	assert.Equal(t, locust.ExitUsage, res.code)
	assert.Contains(t, res.stderr, "--compare")

	bad := filepath.Join(dir, "bad.json")
	require.NoError(t, os.WriteFile(bad, []byte(`{"hello": "world"}`), 0o644))
	res = run("-t", "1s", "--compare", bad)
	assert.Equal(t, locust.ExitUsage, res.code)
	assert.Contains(t, res.stderr, "not a golocust")

	res = run("-t", "1s", "--compare-tolerance", "lots")
	assert.Equal(t, locust.ExitUsage, res.code)
	assert.Contains(t, res.stderr, "tolerance")

	res = run("-t", "1s", "--csv", filepath.Join(dir, "nodir", "x"))
	assert.Equal(t, locust.ExitUsage, res.code)
	assert.Contains(t, res.stderr, "--csv")

	res = run("-t", "1s", "--csv-full-history")
	assert.Equal(t, locust.ExitUsage, res.code)
	assert.Contains(t, res.stderr, "--csv PREFIX")
}

func TestCompareRegressionBetweenRuns(t *testing.T) {
	srv := newServer(t, 5*time.Millisecond, 5*time.Millisecond)
	dir := t.TempDir()
	base := filepath.Join(dir, "base.json")
	users := []*locust.UserType{
		{Name: "fast", FixedCount: 1, Wait: locust.ConstantPacing(20 * time.Millisecond),
			Tasks: locust.NewTaskSet("fast").Task(1, srv.get("/fast"))},
		{Name: "slow", FixedCount: 1, Wait: locust.ConstantPacing(60 * time.Millisecond),
			Tasks: locust.NewTaskSet("slow").Task(1, srv.get("/slow"))},
	}
	res := runCommand(t, &locust.Command{Users: users, Extensions: []locust.Extension{NewExtension()}},
		"-u", "2", "-r", "100", "-t", "2500ms", "--json-file", base)
	require.Equal(t, 0, res.code, res.stderr)

	srv.slow.Store(int64(30 * time.Millisecond))
	ext := NewExtension()
	res = runCommand(t, &locust.Command{Users: users, Extensions: []locust.Extension{ext}},
		"-u", "2", "-r", "100", "-t", "2500ms", "--compare", base, "--compare-tolerance", "100%", "--compare-fail")
	assert.Equal(t, threshold.ExitCode, res.code, "--compare-fail: a regression decides the exit code\n%s%s", res.stdout, res.stderr)

	c := ext.Comparison()
	require.NotNil(t, c)
	assert.Equal(t, 1.0, c.Tolerance)
	rows := map[string]ComparisonRow{}
	for _, r := range c.Rows {
		rows[r.Type+" "+r.Name] = r
	}
	require.Contains(t, rows, "GET /slow")
	require.Contains(t, rows, "GET /fast")
	slow := rows["GET /slow"]
	assert.True(t, slow.Regressed, "%+v", slow)
	for _, ch := range slow.Changes {
		if ch.Metric == MetricP50 {
			assert.True(t, ch.Regressed, "p50 of /slow: %+v", ch)
			assert.Greater(t, ch.After, ch.Before+15)
		}
	}
	assert.False(t, rows["GET /fast"].Regressed, "%+v", rows["GET /fast"])
	assert.Regexp(t, `GET\s+/slow .*REGRESSION`, res.stdout)
	assert.Regexp(t, `GET\s+/fast .* ok`, res.stdout)

	// without --compare-fail the comparison only informs
	res = runCommand(t, &locust.Command{Users: users, Extensions: []locust.Extension{NewExtension()}},
		"-u", "2", "-r", "100", "-t", "1200ms", "--compare", base, "--compare-tolerance", "1.0")
	assert.Equal(t, 0, res.code, res.stderr)
	assert.Contains(t, res.stdout, "REGRESSION")
}

func TestConfigureCurrentPercentiles(t *testing.T) {
	ext := NewExtension()
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	ext.Flags(fs)
	require.NoError(t, fs.Parse([]string{"--csv", "out", "--csv-full-history", "--compare-tolerance", "0.25"}))
	var cfg locust.Config
	require.NoError(t, ext.Configure(&cfg))
	assert.True(t, cfg.Stats.CurrentPercentiles)
	assert.Equal(t, 0.25, ext.tolerance.v)

	ext = NewExtension()
	fs = flag.NewFlagSet("x", flag.ContinueOnError)
	ext.Flags(fs)
	require.NoError(t, fs.Parse([]string{"--csv", "out"}))
	cfg = locust.Config{}
	require.NoError(t, ext.Configure(&cfg))
	assert.False(t, cfg.Stats.CurrentPercentiles)
	assert.Equal(t, DefaultTolerance, ext.tolerance.v)
}

func TestStopWithoutStart(t *testing.T) {
	_, err := NewExtension().Stop(context.Background(), nil, nil, io.Discard)
	assert.Error(t, err)
}

// The extension can be used from code without a Command.
func TestExtensionFromCode(t *testing.T) {
	dir := t.TempDir()
	user := &locust.UserType{Name: "u", Wait: locust.Constant(5 * time.Millisecond),
		Tasks: locust.NewTaskSet("u").Task(1, func(ctx context.Context, u *locust.User) error {
			u.RecordSuccess("GET", "/x", time.Millisecond, 1)
			return nil
		})}
	r, err := locust.NewRunner(locust.Config{Users: 1, RunTime: 1200 * time.Millisecond, Logger: slog.New(slog.DiscardHandler)}, user)
	require.NoError(t, err)
	ext := NewExtension(WithInterval(200*time.Millisecond), WithTitle("From code"))
	require.NoError(t, ext.Start(context.Background(), r, io.Discard))
	require.NoError(t, r.Run(context.Background()))
	ext.htmlFile = filepath.Join(dir, "x.html") // as if --html was given
	_, err = ext.Stop(context.Background(), r, r.Snapshot(), io.Discard)
	require.NoError(t, err)
	assert.GreaterOrEqual(t, len(ext.History()), 4)
	html, err := os.ReadFile(filepath.Join(dir, "x.html"))
	require.NoError(t, err)
	assert.Contains(t, string(html), "<h1>From code</h1>")
}

// A program adds its own data to the reports through the Report hook: it
// lands in the --json-file document and in the HTML report.
func TestReportHookDataReachesTheFiles(t *testing.T) {
	dir := t.TempDir()
	user := &locust.UserType{Name: "u", Tasks: locust.NewTaskSet("u").Task(1, func(_ context.Context, u *locust.User) error {
		u.RecordSuccess("GET", "/", time.Millisecond, 2)
		return nil
	})}
	c := &locust.Command{Users: []*locust.UserType{user}, Extensions: []locust.Extension{NewExtension()},
		Setup: func(_ context.Context, r *locust.Runner) error {
			r.Events().Report.Add(func(d *locust.ReportData) { d.Add("git_commit", "3f2a9c1") })
			return nil
		}}
	res := runCommand(t, c, "-i", "20", "--json-file", filepath.Join(dir, "r.json"), "--html", filepath.Join(dir, "r.html"))
	require.Equal(t, 0, res.code, res.stderr)
	doc, err := ReadDocumentFile(filepath.Join(dir, "r.json"))
	require.NoError(t, err)
	assert.Equal(t, "3f2a9c1", doc.Extra["git_commit"])
	html, err := os.ReadFile(filepath.Join(dir, "r.html"))
	require.NoError(t, err)
	assert.Contains(t, string(html), "git_commit")
	assert.Contains(t, string(html), "3f2a9c1")
}

// Requests in flight at the stop are cut short: in no entry, but counted
// under "cut_short" in the --json-file document and on a line of the HTML
// summary, so that successes + failures + cut short is every request sent.
// The CSV files keep Locust's headers.
func TestCutShortInReports(t *testing.T) {
	srv := newServer(t, 0, 300*time.Millisecond)
	var sent atomic.Int64
	user := &locust.UserType{Name: "u", Tasks: locust.NewTaskSet("u").Task(1, func(ctx context.Context, u *locust.User) error {
		return u.Measure(ctx, "GET", "/slow", func(ctx context.Context) (int64, error) {
			sent.Add(1)
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/slow", nil)
			if err != nil {
				return 0, err
			}
			resp, err := srv.client.Do(req)
			if err != nil {
				return 0, err
			}
			defer resp.Body.Close()
			return io.Copy(io.Discard, resp.Body)
		})
	})}
	dir := t.TempDir()
	prefix := filepath.Join(dir, "run")
	res := runCommand(t, &locust.Command{Users: []*locust.UserType{user}, Extensions: []locust.Extension{NewExtension()}},
		"-u", "3", "-r", "100", "-t", "1100ms", "--csv", prefix,
		"--json-file", filepath.Join(dir, "run.json"), "--html", filepath.Join(dir, "run.html"))
	require.Equal(t, 0, res.code, res.stderr)

	raw, err := os.ReadFile(filepath.Join(dir, "run.json"))
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(raw, &m))
	require.Contains(t, m, "cut_short")
	doc, err := ReadDocumentFile(filepath.Join(dir, "run.json"))
	require.NoError(t, err)
	assert.Positive(t, doc.CutShort, "3 users were in the middle of a 300 ms request at the stop")
	assert.LessOrEqual(t, doc.CutShort, int64(3))
	assert.Equal(t, float64(doc.CutShort), m["cut_short"])
	assert.Equal(t, sent.Load(), doc.Total.NumRequests+doc.CutShort, "every request sent is a success, a failure or cut short")
	assert.Zero(t, doc.Total.NumFailures, "a request cut short is no failure")

	html, err := os.ReadFile(filepath.Join(dir, "run.html"))
	require.NoError(t, err)
	assert.Contains(t, string(html), fmt.Sprintf(`<div class="s cut-short">%d cut short by the stop</div>`, doc.CutShort))

	stats := readCSV(t, prefix+"_stats.csv")
	assert.Equal(t, statsHeader, stats[0])
	agg := findRow(stats, "", "Aggregated")
	require.NotNil(t, agg)
	assert.Equal(t, strconv.FormatInt(doc.Total.NumRequests, 10), agg[2], "the CSV counts no cut-short request")
	assert.Equal(t, historyHeader, readCSV(t, prefix+"_stats_history.csv")[0])
	assert.Equal(t, failuresHeader, readCSV(t, prefix+"_failures.csv")[0])
}

// A --json-file written before cut_short existed still reads, as 0.
func TestReadDocumentWithoutCutShort(t *testing.T) {
	d, err := ReadDocument(strings.NewReader(`{"stats": [{"name": "/", "method": "GET", "num_requests": 3, "response_times": {"5.0": 3}}], "total": {"name": "Aggregated", "num_requests": 3}}`))
	require.NoError(t, err)
	assert.Zero(t, d.CutShort)
	assert.Equal(t, Counts{5: 3}, d.Stats[0].ResponseTimes)
}

// The history CSV has each timestamp once per entry: a snapshot in the
// second of the last rows is skipped while running, and the final rows
// replace the rows of their second (they were written twice before).
func TestHistoryCSVOneRowPerSecond(t *testing.T) {
	dir := t.TempDir()
	prefix := filepath.Join(dir, "run")
	user := &locust.UserType{Name: "u", Wait: locust.Constant(5 * time.Millisecond),
		Tasks: locust.NewTaskSet("u").
			Task(1, func(ctx context.Context, u *locust.User) error {
				u.RecordSuccess("GET", "/a", time.Millisecond, 1)
				return nil
			}).
			Task(1, func(ctx context.Context, u *locust.User) error {
				u.RecordSuccess("GET", "/b", time.Millisecond, 1)
				return nil
			})}
	r, err := locust.NewRunner(locust.Config{Users: 1, RunTime: 300 * time.Millisecond, Logger: slog.New(slog.DiscardHandler)}, user)
	require.NoError(t, err)
	ext := NewExtension(WithInterval(time.Hour)) // the test takes the samples
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	ext.Flags(fs)
	require.NoError(t, fs.Parse([]string{"--csv", prefix, "--csv-full-history"}))
	require.NoError(t, ext.Start(context.Background(), r, io.Discard))
	require.NoError(t, r.Run(context.Background()))

	snap := r.Snapshot()
	require.Len(t, snap.Entries, 2)
	at := func(d time.Duration, requests int64) *locust.Snapshot {
		s := *snap
		s.Time = snap.Time.Truncate(time.Second).Add(d)
		s.Total.Requests = requests
		return &s
	}
	ext.sample(at(0, 10))
	ext.sample(at(time.Second, 20))
	ext.sample(at(time.Second+400*time.Millisecond, 25)) // same second: skipped
	_, err = ext.Stop(context.Background(), r, at(time.Second+700*time.Millisecond, 30), io.Discard)
	require.NoError(t, err)

	hist := readCSV(t, prefix+"_stats_history.csv")
	assert.Equal(t, historyHeader, hist[0])
	require.Len(t, hist, 1+2*3, "two seconds of rows for /a, /b and Aggregated")
	seen := map[string]bool{}
	for _, row := range hist[1:] {
		k := row[0] + " " + row[2] + " " + row[3]
		assert.False(t, seen[k], "timestamp written twice for one entry: %s", k)
		seen[k] = true
	}
	last := hist[len(hist)-1]
	assert.Equal(t, "Aggregated", last[3])
	assert.Equal(t, "30", last[col(hist, "Total Request Count")], "the final rows replaced those of their second")
	assert.Equal(t, strconv.FormatInt(snap.Time.Truncate(time.Second).Unix()+1, 10), last[0])
	assert.Equal(t, "10", hist[3][col(hist, "Total Request Count")], "the first second's rows stay")
}
