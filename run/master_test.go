package run_test

import (
	"encoding/csv"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/golocust/locust/internal/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const hitLocustfile = `from locust import HttpUser, task, constant

class Hit(HttpUser):
    wait_time = constant(0.05)
    @task
    def t(self):
        self.client.get("/py")
`

// countingTarget counts the requests it receives by path.
type countingTarget struct {
	mu sync.Mutex
	n  map[string]int64
}

func (c *countingTarget) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c.mu.Lock()
	c.n[r.URL.Path]++
	c.mu.Unlock()
	_, _ = w.Write([]byte("ok"))
}

func (c *countingTarget) get(path string) int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[path]
}

// The one-line run.Main program as a master (--master --expect-workers 2)
// with a Python Locust 2.12.1 worker and a Go worker (the same program with
// --worker), both running the class Hit against a target this test starts:
// the master's CSV has both workers' requests, and each entry and the
// Aggregated row equal what the target saw, less at most one request per
// user (a request in flight when its user is stopped at the end is in no
// report, as in Locust).
func TestMasterWithPythonAndGoWorkers(t *testing.T) {
	bin, err := exec.LookPath("locust")
	if err != nil {
		if os.Getenv("LOCUST_REQUIRE_PEERS") == "1" {
			t.Fatal("locust is not installed (apt-get install -y python3-locust) and LOCUST_REQUIRE_PEERS=1")
		}
		t.Skip("locust is not installed: apt-get install -y python3-locust to run this test")
	}
	tg := &countingTarget{n: map[string]int64{}}
	srv := httptest.NewServer(tg)
	defer srv.Close()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
	require.NoError(t, l.Close())

	const users = 4
	m := start(t, "--master", "--master-bind-host", "127.0.0.1", "--master-bind-port", port,
		"--expect-workers", "2", "--headless", "-u", strconv.Itoa(users), "-r", "4", "-t", "5s",
		"-H", srv.URL, "--csv", "run", "Hit")
	m.WaitFor(t, "master listening", 1, 15*time.Second)

	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "locustfile.py"), []byte(hitLocustfile), 0o644))
	py := testutil.Start(t, dir, []string{"PYTHONUNBUFFERED=1"}, bin, "-f", "locustfile.py", "--worker", "--master-host", "127.0.0.1", "--master-port", port)
	gw := start(t, "--worker", "--master-port", port, "Hit")

	res := m.Wait(t, 60*time.Second)
	gres := gw.Wait(t, 30*time.Second)
	assert.Equal(t, 0, gres.Code, "go worker stderr:\n%s", gres.Stderr)
	select {
	case <-py.Done():
	case <-time.After(30 * time.Second):
		t.Fatal("the Python worker did not quit")
	}
	require.Equal(t, 0, res.Code, "master stderr:\n%s\nstdout:\n%s", res.Stderr, res.Stdout)
	assert.Contains(t, res.Stdout, "/py")
	assert.Contains(t, res.Stdout, "/go")

	f, err := os.Open(filepath.Join(m.Dir, "run_stats.csv"))
	require.NoError(t, err)
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	require.NoError(t, err)
	counts := map[string]int64{}
	for _, r := range rows[1:] {
		n, err := strconv.ParseInt(r[2], 10, 64)
		require.NoError(t, err)
		counts[r[0]+" "+r[1]] = n
	}
	goSaw, pySaw := tg.get("/go"), tg.get("/py")
	t.Logf("target saw /go %d, /py %d; master CSV: %v", goSaw, pySaw, counts)
	assert.Positive(t, counts["GET /go"], "the Go worker contributes")
	assert.Positive(t, counts["GET /py"], "the Python worker contributes")
	for path, saw := range map[string]int64{"/go": goSaw, "/py": pySaw} {
		got := counts["GET "+path]
		assert.LessOrEqual(t, got, saw, path)
		assert.GreaterOrEqual(t, got, saw-users/2, "%s: at most one cut-short request per user of the worker", path)
	}
	assert.Equal(t, counts["GET /go"]+counts["GET /py"], counts[" Aggregated"])
	total := goSaw + pySaw
	assert.GreaterOrEqual(t, counts[" Aggregated"], total-users)
}

// A stop signal to a Go master (-t far away) sends quit to its workers and
// ends with the summary and reports of what they did: a Go-only cluster of
// two workers, whose requests all reach the master's CSV.
func TestMasterStopsWorkersOnSignal(t *testing.T) {
	tg := &countingTarget{n: map[string]int64{}}
	srv := httptest.NewServer(tg)
	defer srv.Close()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
	require.NoError(t, l.Close())

	const users = 4
	m := start(t, "--master", "--master-bind-host", "127.0.0.1", "--master-bind-port", port,
		"--expect-workers", "2", "--headless", "-u", strconv.Itoa(users), "-t", "10m",
		"-H", srv.URL, "--csv", "run", "Hit")
	m.WaitFor(t, "master listening", 1, 15*time.Second)
	w1 := start(t, "--worker", "--master-port", port)
	w2 := start(t, "--worker", "--master-port", port)
	deadline := time.Now().Add(20 * time.Second)
	for tg.get("/go") < 40 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	require.NoError(t, m.Cmd.Process.Signal(syscall.SIGINT))
	res := m.Wait(t, 30*time.Second)
	r1, r2 := w1.Wait(t, 30*time.Second), w2.Wait(t, 30*time.Second)
	assert.Equal(t, 0, r1.Code, r1.Stderr)
	assert.Equal(t, 0, r2.Code, r2.Stderr)
	assert.Less(t, res.Took, time.Minute)
	require.Equal(t, 0, res.Code, "master stderr:\n%s", res.Stderr)
	assert.Contains(t, res.Stderr, "stopping on signal")

	f, err := os.Open(filepath.Join(m.Dir, "run_stats.csv"))
	require.NoError(t, err)
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	require.NoError(t, err)
	var agg int64 = -1
	for _, r := range rows[1:] {
		if r[1] == "Aggregated" {
			agg, err = strconv.ParseInt(r[2], 10, 64)
			require.NoError(t, err)
		}
	}
	saw := tg.get("/go")
	t.Logf("target saw %d, master CSV Aggregated %d", saw, agg)
	assert.LessOrEqual(t, agg, saw)
	assert.GreaterOrEqual(t, agg, saw-users, "at most one cut-short request per user")
}

// Bad master options are usage errors (exit code 2), before any worker is
// awaited.
func TestMasterBadOptions(t *testing.T) {
	for _, args := range [][]string{
		{"--master", "--worker"},
		{"--master", "--expect-workers", "0"},
		{"--master", "--master-bind-port", "70000"},
		// not distributed yet: the master would run users itself
		{"--master", "--arrival-rate", "50", "--max-users", "5"},
		{"--master", "--find-capacity", "--threshold", "p95<1s"},
	} {
		res := start(t, append(args, "--headless", "-t", "1s")...).Wait(t, 20*time.Second)
		assert.Equal(t, 2, res.Code, "%v: %s", args, res.Stderr)
		assert.NotContains(t, res.Stderr, "master listening", "%v", args)
	}
}
