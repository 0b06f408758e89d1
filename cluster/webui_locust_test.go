package cluster

import (
	"context"
	"encoding/json"
	"flag"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	locust "github.com/golocust/locust"
	"github.com/golocust/locust/internal/testutil"
	"github.com/golocust/locust/webui"
)

// uiGet returns /stats/requests of the UI at base.
func uiGet(t *testing.T, base string) map[string]any {
	t.Helper()
	resp, err := http.Get(base + "/stats/requests")
	require.NoError(t, err)
	defer resp.Body.Close()
	var m map[string]any
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&m))
	return m
}

// uiWait polls /stats/requests until ok holds.
func uiWait(t *testing.T, base, what string, ok func(m map[string]any, ws []map[string]any) bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		m := uiGet(t, base)
		var ws []map[string]any
		list, _ := m["workers"].([]any)
		for _, w := range list {
			ws = append(ws, w.(map[string]any))
		}
		if ok(m, ws) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s; last: %v", what, m)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func all(ws []map[string]any, n int, state string, users float64) bool {
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

// finals is an extension that keeps each test's final snapshot (what its
// summary and reports hold).
type finals struct {
	mu   sync.Mutex
	snap []*locust.Snapshot
}

func (f *finals) Flags(*flag.FlagSet)                                    {}
func (f *finals) Start(context.Context, *locust.Runner, io.Writer) error { return nil }
func (f *finals) Stop(_ context.Context, _ *locust.Runner, s *locust.Snapshot, _ io.Writer) (locust.Verdict, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.snap = append(f.snap, s)
	return locust.Verdict{}, nil
}

func (f *finals) get() []*locust.Snapshot {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]*locust.Snapshot(nil), f.snap...)
}

func uiPost(t *testing.T, u string, form url.Values) {
	t.Helper()
	resp, err := http.PostForm(u, form)
	require.NoError(t, err)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, string(b))
}

// The web UI on a Go master with a real Python worker (Debian's Locust
// 2.12.1) and a Go worker: the UI's start spawns users on both, its stop
// sends them stop, and both come back ready for a second test. The first
// test's summary (its final snapshot) holds both workers' requests, equal
// to what the target saw less the requests in flight at the stop: the
// master waits for the Python worker's report that follows its
// client_stopped. Quitting the program sends quit, and the Python worker
// exits.
func TestLocustWorkerUnderWebUIMaster(t *testing.T) {
	locustBin(t)
	tg := newTarget(t)
	dir := t.TempDir()
	writeFile(t, dir, "locustfile.py", pythonWorkerLocustfile)
	port := freePort(t)
	ext := webui.NewExtension(webui.WithSampleInterval(200 * time.Millisecond))
	var out testutil.Buffer
	fin := &finals{}
	cmd := &locust.Command{Name: "master", Users: testTypes(50 * time.Millisecond), Extensions: []locust.Extension{
		ext, fin, NewExtension()},
		Stdout: &out, Stderr: &out, Getenv: func(string) string { return "" }, Dir: dir}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	done := make(chan int, 1)
	go func() {
		done <- cmd.Run(ctx, []string{"-P", "0", "--master", "--master-bind-host", "127.0.0.1", "--master-bind-port", strconv.Itoa(port),
			"--expect-workers", "2", "-H", tg.srv.URL, "-E", "other", "--only-summary"})
	}()
	select {
	case <-ext.Ready():
	case code := <-done:
		t.Fatalf("the command ended (%d): %s", code, out.String())
	case <-time.After(10 * time.Second):
		t.Fatal("the web UI did not start")
	}
	base := ext.URL()
	defer func() {
		if t.Failed() {
			t.Logf("master output:\n%s", out.String())
		}
	}()
	py := startLocust(t, dir, "-f", "locustfile.py", "--worker", "--master-host", "127.0.0.1", "--master-port", strconv.Itoa(port))
	wcfg := fastConfig(t, port)
	ws, wait := runGoWorkers(t, ctx, 1, wcfg, testTypes(50*time.Millisecond))

	uiWait(t, base, "two ready workers", func(_ map[string]any, w []map[string]any) bool { return all(w, 2, "ready", 0) })
	uiPost(t, base+"/swarm", url.Values{"user_count": {"4"}, "spawn_rate": {"100"}})
	uiWait(t, base, "2 users on each worker", func(m map[string]any, w []map[string]any) bool {
		return all(w, 2, "running", 2) && m["user_count"] == 4.0
	})
	time.Sleep(2 * time.Second)
	uiPost(t, base+"/stop", nil)
	deadline := time.Now().Add(20 * time.Second)
	for len(fin.get()) == 0 {
		require.True(t, time.Now().Before(deadline), "the first test's end")
		time.Sleep(20 * time.Millisecond)
	}
	agg := fin.get()[0].Total.Requests
	seen := tg.counts()
	sent := seen["/ok"] + seen["/fail"] + seen["/api"]
	cut := ws[0].CutShort()
	t.Logf("target saw %v; first test's summary: %d requests; Go worker cut short %d", seen, agg, cut)
	assert.Zero(t, seen["/excluded"])
	assert.LessOrEqual(t, agg+cut, sent)
	// at most one request per Python user (2) in flight at the stop
	assert.GreaterOrEqual(t, agg+cut, sent-2, "the Python worker's last report is in the first test")
	uiWait(t, base, "both workers ready again after the stop", func(m map[string]any, w []map[string]any) bool {
		return m["state"] == "stopped" && all(w, 2, "ready", 0)
	})

	uiPost(t, base+"/swarm", url.Values{"user_count": {"2"}, "spawn_rate": {"100"}})
	uiWait(t, base, "a second test: 1 user on each worker", func(m map[string]any, w []map[string]any) bool {
		return all(w, 2, "running", 1) && m["user_count"] == 2.0
	})
	time.Sleep(500 * time.Millisecond)
	uiPost(t, base+"/stop", nil)
	uiWait(t, base, "the second test stopped", func(m map[string]any, _ []map[string]any) bool { return m["state"] == "stopped" })
	time.Sleep(200 * time.Millisecond)

	cancel() // quitting the program sends quit
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("the command did not return")
	}
	for _, err := range wait() {
		require.NoError(t, err)
	}
	py.wait(t, 20*time.Second)
	f := fin.get()
	require.Len(t, f, 2)
	assert.Positive(t, f[1].Total.Requests, "the second test has requests of its own")
	assert.True(t, strings.Contains(out.String(), "master listening"))
}
