package webui_test

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	locust "github.com/golocust/locust"
	"github.com/golocust/locust/cluster"
	"github.com/golocust/locust/internal/testutil"
	"github.com/golocust/locust/webui"
)

// freePort returns a port that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// workersOf returns /stats/requests' workers as id -> row.
func workersOf(m map[string]any) map[string]map[string]any {
	out := map[string]map[string]any{}
	ws, _ := m["workers"].([]any)
	for _, w := range ws {
		row := w.(map[string]any)
		out[row["id"].(string)] = row
	}
	return out
}

// eachWorker tells whether every one of the n workers is in state with
// users users.
func eachWorker(m map[string]any, n int, state string, users float64) bool {
	ws := workersOf(m)
	if len(ws) != n {
		return false
	}
	for _, w := range ws {
		if w["state"] != state || w["user_count"] != users {
			return false
		}
	}
	return true
}

// masterUI is a command with the web UI and --master, and two Go workers
// of fastUser joined to it, all in this process.
type masterUI struct {
	base    string
	port    int
	out     *testutil.Buffer
	done    chan int   // the command's exit code
	werrs   chan error // each worker's Run error
	workers int        // workers started
	wctx    context.Context
	cancel  context.CancelFunc
}

// startMasterUI starts a masterUI with two workers, which join once the
// master listens.
func startMasterUI(t *testing.T) *masterUI {
	t.Helper()
	mu := startMasterUIWith(t, 2)
	mu.addWorker(t)
	mu.addWorker(t)
	return mu
}

// startMasterUIWith starts a masterUI that expects n workers, with none.
func startMasterUIWith(t *testing.T, n int) *masterUI {
	t.Helper()
	port := freePort(t)
	ext := webui.NewExtension(webui.WithSampleInterval(200 * time.Millisecond))
	mu := &masterUI{out: &testutil.Buffer{}, done: make(chan int, 1), werrs: make(chan error, 8), port: port}
	c := &locust.Command{Name: "master", Users: []*locust.UserType{fastUser()}, Extensions: []locust.Extension{ext, cluster.NewExtension()},
		Stdout: mu.out, Stderr: mu.out, Getenv: func(string) string { return "" }, Dir: t.TempDir()}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	mu.cancel = cancel
	go func() {
		mu.done <- c.Run(ctx, []string{"-P", "0", "--master", "--master-bind-host", "127.0.0.1", "--master-bind-port", strconv.Itoa(port),
			"--expect-workers", strconv.Itoa(n), "-H", "http://127.0.0.1:9"})
	}()
	wctx, wcancel := context.WithTimeout(context.Background(), 60*time.Second)
	mu.wctx = wctx
	t.Cleanup(func() {
		cancel()
		wcancel()
	})
	select {
	case <-ext.Ready():
	case code := <-mu.done:
		t.Fatalf("the command ended (%d): %s", code, mu.out.String())
	case <-time.After(10 * time.Second):
		t.Fatal("the web UI did not start")
	}
	mu.base = ext.URL()
	return mu
}

// addWorker starts one more Go worker, uitestN_...
func (mu *masterUI) addWorker(t *testing.T) {
	t.Helper()
	w, err := cluster.NewWorker(cluster.WorkerConfig{
		MasterPort: mu.port, NodeID: "uitest" + strconv.Itoa(mu.workers) + "_0123456789abcdef0123456789abcdef",
		HeartbeatInterval: 100 * time.Millisecond, ReportInterval: 200 * time.Millisecond,
		Logger: slog.New(slog.DiscardHandler),
	}, fastUser())
	require.NoError(t, err)
	mu.workers++
	go func() { mu.werrs <- w.Run(mu.wctx) }()
}

// quit ends the command (as a stop signal while no test runs does) and
// checks that it returns and that the workers quit with it.
func (mu *masterUI) quit(t *testing.T) {
	t.Helper()
	mu.cancel()
	select {
	case <-mu.done:
	case <-time.After(20 * time.Second):
		t.Fatal("the command did not return")
	}
	for range mu.workers {
		select {
		case err := <-mu.werrs:
			assert.NoError(t, err)
		case <-time.After(15 * time.Second):
			t.Fatal("a worker did not quit with the master")
		}
	}
}

// The web UI on a master (--master, no --headless) with two Go workers, as
// a user drives it: the page lists the connected workers before any test;
// its start form spawns the users across them; a change of the user count
// is handed out again; stop sends them stop and they stay for a new test,
// which starts from the form again with statistics of its own; quitting
// the program sends them quit.
func TestWebUIOnAMaster(t *testing.T) {
	mu := startMasterUI(t)
	base := mu.base

	m := waitFor(t, base, "two ready workers before any test", func(m map[string]any) bool { return eachWorker(m, 2, "ready", 0) })
	assert.Equal(t, "ready", m["state"])
	assert.EqualValues(t, 2, m["worker_count"])
	assert.EqualValues(t, 0, m["user_count"])

	code, body := post(t, base+"/swarm", url.Values{"user_count": {"4"}, "spawn_rate": {"100"}}, nil)
	require.Equal(t, http.StatusOK, code, body)
	m = waitFor(t, base, "4 users, 2 on each worker", func(m map[string]any) bool {
		return eachWorker(m, 2, "running", 2) && m["user_count"] == 4.0 && m["state"] == "running"
	})
	for id, w := range workersOf(m) {
		assert.Contains(t, w, "cpu_usage", id)
		assert.Less(t, w["last_heartbeat"].(float64), 5.0, id)
	}
	waitFor(t, base, "the workers' requests", func(m map[string]any) bool { return total(m) > 20 })

	code, body = post(t, base+"/swarm", url.Values{"user_count": {"2"}, "spawn_rate": {"100"}}, nil)
	require.Equal(t, http.StatusOK, code, body)
	waitFor(t, base, "2 users, 1 on each worker", func(m map[string]any) bool {
		return eachWorker(m, 2, "running", 1) && m["user_count"] == 2.0
	})

	code, body = post(t, base+"/stop", nil, nil)
	require.Equal(t, http.StatusOK, code, body)
	m = waitFor(t, base, "stopped, the workers ready again", func(m map[string]any) bool {
		return m["state"] == "stopped" && eachWorker(m, 2, "ready", 0) && m["user_count"] == 0.0
	})
	first := total(m)
	assert.Positive(t, first)

	code, body = post(t, base+"/swarm", url.Values{"user_count": {"6"}, "spawn_rate": {"100"}}, nil)
	require.Equal(t, http.StatusOK, code, body)
	waitFor(t, base, "a new test: 6 users, 3 on each worker", func(m map[string]any) bool {
		return eachWorker(m, 2, "running", 3) && m["user_count"] == 6.0 && m["state"] == "running"
	})
	code, body = post(t, base+"/stop", nil, nil)
	require.Equal(t, http.StatusOK, code, body)
	waitFor(t, base, "the second test stopped", func(m map[string]any) bool { return m["state"] == "stopped" })

	mu.quit(t) // the program quits: the workers get quit
	assert.Contains(t, mu.out.String(), "master listening")
}

// As Locust's UI does, a test started from the page runs on the workers
// there are, even fewer than --expect-workers (that is for headless runs),
// but not on none; a worker that joins the running test gets its share.
func TestWebUIOnAMasterStartsOnTheWorkersThere(t *testing.T) {
	mu := startMasterUIWith(t, 3)
	code, body := post(t, mu.base+"/swarm", url.Values{"user_count": {"4"}, "spawn_rate": {"100"}}, nil)
	assert.Equal(t, http.StatusBadRequest, code, body)
	assert.Contains(t, body, "before at least one worker processes has connected", "no worker yet: Locust's answer")
	assert.Equal(t, "ready", statsRequests(t, mu.base)["state"])
	mu.addWorker(t)
	waitFor(t, mu.base, "one ready worker", func(m map[string]any) bool { return eachWorker(m, 1, "ready", 0) })
	code, body = post(t, mu.base+"/swarm", url.Values{"user_count": {"4"}, "spawn_rate": {"100"}}, nil)
	require.Equal(t, http.StatusOK, code, body)
	waitFor(t, mu.base, "4 users on the one worker", func(m map[string]any) bool {
		return eachWorker(m, 1, "running", 4) && m["user_count"] == 4.0
	})
	mu.addWorker(t)
	waitFor(t, mu.base, "the joining worker's share", func(m map[string]any) bool {
		return eachWorker(m, 2, "running", 2) && m["user_count"] == 4.0
	})
	code, body = post(t, mu.base+"/stop", nil, nil)
	require.Equal(t, http.StatusOK, code, body)
	waitFor(t, mu.base, "stopped", func(m map[string]any) bool { return m["state"] == "stopped" && eachWorker(m, 2, "ready", 0) })
	mu.quit(t)
}

// total is the Aggregated row's requests in /stats/requests.
func total(m map[string]any) float64 {
	rows, _ := m["stats"].([]any)
	if len(rows) == 0 {
		return 0
	}
	return rows[len(rows)-1].(map[string]any)["num_requests"].(float64)
}
