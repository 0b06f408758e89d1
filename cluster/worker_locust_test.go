package cluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/golocust/locust"
)

// httpCall makes one request to the user's host with User.Measure, which
// counts a request cut short by a stop (StoppedBy) as such, so that these
// tests' exact comparisons hold when a master's rebalancing stops a user
// mid-request.
func httpCall(ctx context.Context, u *locust.User, method, path string) error {
	return u.Measure(ctx, method, path, func(ctx context.Context) (int64, error) {
		var body io.Reader
		if method == "POST" {
			body = strings.NewReader("x")
		}
		req, err := http.NewRequestWithContext(ctx, method, u.Host()+path, body)
		if err != nil {
			return 0, err
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err == nil && resp.StatusCode >= 400 {
			err = fmt.Errorf("HTTP %d", resp.StatusCode)
		}
		return int64(len(b)), err
	})
}

// testTypes are the Go user types whose names match masterLocustfile.
// WebUser: /ok and /fail (a 500), and /excluded tagged "other" (the master
// runs with -E other, so no worker may call it). APIUser: POST /api, and a
// task that returns an error (an exception for the master).
func testTypes(wait time.Duration) []*locust.UserType {
	get := func(path string) locust.TaskFunc {
		return func(ctx context.Context, u *locust.User) error {
			return httpCall(ctx, u, "GET", path)
		}
	}
	web := &locust.UserType{
		Name: "WebUser",
		Wait: locust.Constant(wait),
		Tasks: locust.NewTaskSet("web").
			Task(3, get("/ok")).
			Task(1, get("/fail")).
			Task(1, get("/excluded"), locust.Tags("other")),
	}
	api := &locust.UserType{
		Name: "APIUser",
		Wait: locust.Constant(wait),
		Tasks: locust.NewTaskSet("api").
			Task(3, func(ctx context.Context, u *locust.User) error {
				return httpCall(ctx, u, "POST", "/api")
			}).
			Task(1, func(context.Context, *locust.User) error { return errors.New("boom in Go task") }),
	}
	return []*locust.UserType{web, api}
}

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

type tWriter struct{ t *testing.T }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(string(p))
	return len(p), nil
}

// runGoWorkers starts n workers in this process and returns a function that
// waits for them (they end on the master's quit).
func runGoWorkers(t *testing.T, ctx context.Context, n int, cfg WorkerConfig, types []*locust.UserType) ([]*Worker, func() []error) {
	t.Helper()
	var ws []*Worker
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		c := cfg
		c.NodeID = fmt.Sprintf("gotest%d_%032x", i, time.Now().UnixNano()+int64(i))
		w, err := NewWorker(c, types...)
		require.NoError(t, err)
		ws = append(ws, w)
		wg.Go(func() { errs[i] = w.Run(ctx) })
	}
	return ws, func() []error { wg.Wait(); return errs }
}

// A real Python Locust master (Debian 2.12.1), headless, with two Go
// workers: the master's CSV files hold the Go workers' requests, failures
// and exceptions, equal to what the target saw; the master's host and
// exclude tags apply.
func TestPythonMasterWithTwoGoWorkers(t *testing.T) {
	locustBin(t)
	tg := newTarget(t)
	dir := t.TempDir()
	writeFile(t, dir, "locustfile.py", masterLocustfile)
	port := freePort(t)
	master := startLocust(t, dir, "-f", "locustfile.py", "--master",
		"--master-bind-host", "127.0.0.1", "--master-bind-port", strconv.Itoa(port),
		"--headless", "--expect-workers", "2", "-u", "4", "-r", "4", "-t", "15s",
		"-H", tg.srv.URL, "-E", "other", "--stop-timeout", "3",
		"--csv", filepath.Join(dir, "run"))

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	ws, wait := runGoWorkers(t, ctx, 2, WorkerConfig{MasterPort: port, Logger: testLogger(t)}, testTypes(20*time.Millisecond))
	for i, err := range wait() {
		require.NoError(t, err, "worker %d", i)
	}
	master.wait(t, 30*time.Second)
	var cut int64
	for _, w := range ws {
		cut += w.CutShort()
	}

	seen := tg.counts()
	t.Logf("target saw %v, cut short %d", seen, cut)
	assert.Zero(t, seen["/excluded"], "a task excluded by the master's -E ran")
	require.Positive(t, seen["/ok"])
	require.Positive(t, seen["/fail"])
	require.Positive(t, seen["/api"])

	rows := csvRows(t, filepath.Join(dir, "run_stats.csv"))
	got := map[string][2]int64{}
	for _, r := range rows {
		got[r["Type"]+" "+r["Name"]] = [2]int64{atoi(t, r["Request Count"]), atoi(t, r["Failure Count"])}
	}
	var sentTotal int64
	for _, k := range []string{"GET /ok", "GET /fail", "POST /api"} {
		sentTotal += got[k][0]
	}
	// every request the target saw is in the master's table, except those
	// cut short by the stop (in flight at the quit; Locust drops them too)
	assert.Equal(t, seen["/ok"]+seen["/fail"]+seen["/api"], got[" Aggregated"][0]+cut, "totals: %v", got)
	assert.Equal(t, sentTotal, got[" Aggregated"][0])
	assert.LessOrEqual(t, cut, int64(4))
	assert.InDelta(t, seen["/ok"], got["GET /ok"][0], float64(cut))
	assert.InDelta(t, seen["/fail"], got["GET /fail"][0], float64(cut))
	assert.InDelta(t, seen["/api"], got["POST /api"][0], float64(cut))
	assert.Zero(t, got["GET /ok"][1])
	assert.Equal(t, got["GET /fail"][0], got["GET /fail"][1])
	assert.Equal(t, got["GET /fail"][1], got[" Aggregated"][1])

	fails := csvRows(t, filepath.Join(dir, "run_failures.csv"))
	require.Len(t, fails, 1, "the two workers' identical errors are one row: %v", fails)
	assert.Equal(t, "GET", fails[0]["Method"])
	assert.Equal(t, "/fail", fails[0]["Name"])
	assert.Equal(t, got["GET /fail"][1], atoi(t, fails[0]["Occurrences"]))

	excs := csvRows(t, filepath.Join(dir, "run_exceptions.csv"))
	require.NotEmpty(t, excs)
	assert.Contains(t, excs[0]["Message"], "boom in Go task")
	assert.Positive(t, atoi(t, excs[0]["Count"]))
}

// The link of one of two Go workers to a real Python master is cut for 5 s
// in the middle of the run (a proxy resets the connection and refuses new
// ones): the worker reconnects, the master heals it, and the master's totals
// still equal what the target saw, because the requests made while the
// link was down are reported after the reconnect.
func TestWorkerLinkCutLosesNoStats(t *testing.T) {
	locustBin(t)
	tg := newTarget(t)
	dir := t.TempDir()
	writeFile(t, dir, "locustfile.py", masterLocustfile)
	port := freePort(t)
	master := startLocust(t, dir, "-f", "locustfile.py", "--master",
		"--master-bind-host", "127.0.0.1", "--master-bind-port", strconv.Itoa(port),
		"--headless", "--expect-workers", "2", "-u", "4", "-r", "4", "-t", "22s",
		"-H", tg.srv.URL, "-E", "other", "--csv", filepath.Join(dir, "run"))
	proxy := newCutProxy(t, "127.0.0.1:"+strconv.Itoa(port), false)

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	types := testTypes(20 * time.Millisecond)
	direct, waitDirect := runGoWorkers(t, ctx, 1, WorkerConfig{MasterPort: port, Logger: testLogger(t)}, types)
	var mu sync.Mutex
	var reported int64
	cfg := WorkerConfig{MasterPort: proxy.port(), Logger: testLogger(t), OnReport: func(r *StatsReport) {
		mu.Lock()
		reported += r.Requests()
		mu.Unlock()
	}}
	cfg.NodeID = fmt.Sprintf("proxied_%032x", time.Now().UnixNano())
	proxied, err := NewWorker(cfg, types...)
	require.NoError(t, err)
	proxiedErr := make(chan error, 1)
	go func() { proxiedErr <- proxied.Run(ctx) }()

	master.waitOutput(t, "All users spawned", 30*time.Second)
	time.Sleep(4500 * time.Millisecond)
	before := tg.counts()
	proxy.cut()
	t.Log("link cut")
	time.Sleep(5 * time.Second)
	proxy.restore()
	t.Log("link restored")
	after := tg.counts()
	require.Greater(t, after["/api"]+after["/ok"], before["/api"]+before["/ok"], "the workers kept running while the link was down")

	require.NoError(t, <-proxiedErr)
	for _, err := range waitDirect() {
		require.NoError(t, err)
	}
	master.wait(t, 30*time.Second)
	require.Contains(t, master.Stderr.String(), "failed to send heartbeat, setting state to missing")
	require.Contains(t, master.Stderr.String(), "self-healed with heartbeat")

	cut := proxied.CutShort() + direct[0].CutShort()
	seen := tg.counts()
	rows := csvRows(t, filepath.Join(dir, "run_stats.csv"))
	var total int64
	got := map[string]int64{}
	for _, r := range rows {
		got[r["Name"]] = atoi(t, r["Request Count"])
		if r["Name"] == "Aggregated" {
			total = atoi(t, r["Request Count"])
		}
	}
	t.Logf("target saw %v, master counted %v, cut short %d", seen, got, cut)
	assert.Equal(t, seen["/ok"]+seen["/fail"]+seen["/api"], total+cut)
}
