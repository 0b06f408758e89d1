package run_test

import (
	"context"
	"encoding/csv"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	locust "github.com/golocust/locust"
	"github.com/golocust/locust/internal/testutil"
	"github.com/golocust/locust/report"
	"github.com/golocust/locust/run"
)

// checkReports checks that dir holds complete final reports: the stats
// CSV parses and ends with the Aggregated row, the JSON document parses
// and adds up, the HTML report is whole.
func checkReports(t *testing.T, dir string) *report.Document {
	t.Helper()
	f, err := os.Open(filepath.Join(dir, "out_stats.csv"))
	require.NoError(t, err)
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	require.NoError(t, err, "the stats CSV parses")
	require.GreaterOrEqual(t, len(rows), 2)
	assert.Equal(t, "Aggregated", rows[len(rows)-1][1], "the stats CSV ends with the Aggregated row")
	doc, err := report.ReadDocumentFile(filepath.Join(dir, "run.json"))
	require.NoError(t, err, "the JSON report parses")
	var reqs int64
	for _, e := range doc.Stats {
		reqs += e.NumRequests
	}
	assert.Equal(t, doc.Total.NumRequests, reqs, "the JSON entries add up to its total")
	html, err := os.ReadFile(filepath.Join(dir, "report.html"))
	require.NoError(t, err)
	assert.True(t, strings.HasSuffix(strings.TrimSpace(string(html)), "</html>"), "the HTML report is whole")
	return doc
}

// A stop signal in each phase of a test (while users spawn, while they
// run) ends it gracefully: the summary and complete CSV, JSON and HTML
// reports, with every request recorded until then, and exit code 0 (the
// test itself went well).
func TestStopSignalInEachPhaseLeavesCompleteReports(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		phase   string
		sig     syscall.Signal
		args    []string
		waitFor string
	}{
		{"spawning", syscall.SIGINT, []string{"-u", "200", "-r", "20"}, "starting test"},
		{"running", syscall.SIGTERM, []string{"-u", "5", "-r", "100"}, "all users spawned"},
	} {
		t.Run(tc.phase, func(t *testing.T) {
			t.Parallel()
			args := append([]string{"Fast", "--headless", "-t", "5m", "--only-summary",
				"--csv", "out", "--html", "report.html", "--json-file", "run.json"}, tc.args...)
			p := start(t, args...)
			p.WaitFor(t, tc.waitFor, 1, 15*time.Second)
			time.Sleep(500 * time.Millisecond)
			require.NoError(t, p.Cmd.Process.Signal(tc.sig))
			r := p.Wait(t, 20*time.Second)
			assert.Equal(t, 0, r.Code, r.Stderr)
			assert.Contains(t, r.Stderr, "stopping on signal")
			assert.Contains(t, r.Stdout, "Response time percentiles", "the final summary")
			doc := checkReports(t, p.Dir)
			assert.Positive(t, doc.Total.NumRequests)
			if tc.phase == "spawning" {
				assert.NotContains(t, r.Stderr, "all users spawned", "stopped while spawning")
			}
		})
	}
}

// signalDuringReports is an extension whose Stop, the first to run after
// the test, sends two stop signals to the process, as a user pressing
// Ctrl-C while the reports are written.
type signalDuringReports struct{ sig os.Signal }

func (signalDuringReports) Flags(*flag.FlagSet)                                    {}
func (signalDuringReports) Start(context.Context, *locust.Runner, io.Writer) error { return nil }
func (s signalDuringReports) Stop(context.Context, *locust.Runner, *locust.Snapshot, io.Writer) (locust.Verdict, error) {
	p, _ := os.FindProcess(os.Getpid())
	for range 2 {
		_ = p.Signal(s.sig)
		time.Sleep(50 * time.Millisecond)
	}
	return locust.Verdict{}, nil
}

// Stop signals while the reports are written do not cut them short: every
// report is complete.
func TestSignalsWhileWritingReportsLeaveThemComplete(t *testing.T) {
	dir := t.TempDir()
	c := run.Command(&locust.UserType{Name: "Quick", Wait: locust.Constant(10 * time.Millisecond),
		Tasks: locust.NewTaskSet("q").Task(1, func(_ context.Context, u *locust.User) error {
			u.RecordSuccess("GET", "/q", time.Millisecond, 1)
			return nil
		})})
	c.Extensions = append([]locust.Extension{signalDuringReports{syscall.SIGUSR1}}, c.Extensions...)
	c.Signals = []os.Signal{syscall.SIGUSR1}
	c.Getenv = func(string) string { return "" }
	c.Home, c.Dir = dir, dir
	var out testutil.Buffer
	c.Stdout, c.Stderr = &out, &out
	code := c.Run(context.Background(), []string{"--headless", "-u", "3", "-t", "1s", "--only-summary",
		"--csv", filepath.Join(dir, "out"), "--html", filepath.Join(dir, "report.html"), "--json-file", filepath.Join(dir, "run.json")})
	assert.Equal(t, 0, code, out.String())
	doc := checkReports(t, dir)
	assert.Positive(t, doc.Total.NumRequests)
	assert.Contains(t, out.String(), "Response time percentiles")
}
