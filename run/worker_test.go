package run_test

import (
	"encoding/csv"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/golocust/locust/internal/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const fastLocustfile = `from locust import User, task, constant

class Fast(User):
    wait_time = constant(1)
    @task
    def t(self):
        pass
`

// The one-line run.Main program joins a real Python Locust master (Debian's
// 2.12.1) with --worker: the master runs the Go users, its CSV has their
// requests, and the worker exits 0 on the master's quit.
func TestWorkerJoinsPythonMaster(t *testing.T) {
	bin, err := exec.LookPath("locust")
	if err != nil {
		if os.Getenv("LOCUST_REQUIRE_PEERS") == "1" {
			t.Fatal("locust is not installed (apt-get install -y python3-locust) and LOCUST_REQUIRE_PEERS=1")
		}
		t.Skip("locust is not installed: apt-get install -y python3-locust to run this test")
	}
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "locustfile.py"), []byte(fastLocustfile), 0o644))
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
	require.NoError(t, l.Close())

	master := testutil.Start(t, dir, []string{"PYTHONUNBUFFERED=1"}, bin, "-f", "locustfile.py", "--master", "--master-bind-host", "127.0.0.1",
		"--master-bind-port", port, "--headless", "--expect-workers", "1", "-u", "2", "-r", "2",
		"-t", "6s", "--csv", filepath.Join(dir, "run"))

	w := start(t, "--worker", "--master-port", port)
	res := w.Wait(t, 60*time.Second)
	assert.Equal(t, 0, res.Code, "worker stderr:\n%s", res.Stderr)
	assert.Contains(t, res.Stderr, "joining the master as a worker")
	select {
	case <-master.Done():
	case <-time.After(30 * time.Second):
		t.Fatal("the master did not end")
	}

	f, err := os.Open(filepath.Join(dir, "run_stats.csv"))
	require.NoError(t, err)
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	require.NoError(t, err)
	counts := map[string]int{}
	for _, r := range rows[1:] {
		n, err := strconv.Atoi(r[2])
		require.NoError(t, err)
		counts[r[0]+" "+r[1]] = n
	}
	assert.Positive(t, counts["GET /fast"], "the Go worker's requests are in the master's CSV: %v", counts)
	assert.Equal(t, counts["GET /fast"], counts[" Aggregated"])
}

// --worker with a bad --master-port is a usage error.
func TestWorkerBadPort(t *testing.T) {
	res := start(t, "--worker", "--master-port", "70000").Wait(t, 20*time.Second)
	assert.Equal(t, 2, res.Code)
	assert.Contains(t, res.Stdout+res.Stderr, "--master-port")
}
