package cluster_test

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/golocust/locust/internal/testutil"
	"github.com/golocust/locust/report"
)

// waitCount waits until the target has seen at least n requests of path.
func waitCount(t *testing.T, tg *target, path string, n int64, limit time.Duration) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for tg.get(path) < n {
		if time.Now().After(deadline) {
			t.Fatalf("the target saw %d %s, waited for %d", tg.get(path), path, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// A worker process killed (SIGKILL) in the middle of a run, through the
// command line: the master marks it missing after the heartbeat timeout,
// hands its users to the other worker, and keeps what it reported; the
// other worker's requests are all accounted for.
func TestKilledWorkerThroughCommandLine(t *testing.T) {
	bin := program(t)
	tg := newTarget(t)
	port := freePort(t)
	m := start(t, bin, "--master", "--master-bind-host", "127.0.0.1", "--master-bind-port", port,
		"--expect-workers", "2", "--headless", "-u", "4", "-r", "100", "-t", "14s", "-H", tg.srv.URL,
		"--json-file", "run.json", "Hit")
	m.WaitFor(t, "master listening", 1, 20*time.Second)
	w1 := startEnv(t, []string{"CLUSTERPROG_TAG=/1"}, bin, "--worker", "--master-port", port)
	w2 := startEnv(t, []string{"CLUSTERPROG_TAG=/2"}, bin, "--worker", "--master-port", port)

	waitCount(t, tg, "/go/2", 1, 30*time.Second)
	time.Sleep(4 * time.Second) // at least one report of w2 reached the master
	w2.Kill(t)
	sent2 := tg.get("/go/2")
	m.WaitFor(t, "marked missing", 1, 15*time.Second)
	m.WaitFor(t, "users handed out", 2, 5*time.Second)
	log := m.Stderr.String()
	after := log[strings.Index(log, "marked missing"):]
	assert.Contains(t, after, "users=4 workers=1", "the missing worker's users go to the other")

	res := m.Wait(t, 60*time.Second)
	require.Equal(t, 0, res.Code, "master stderr:\n%s", res.Stderr)
	r1 := w1.Wait(t, 30*time.Second)
	require.Equal(t, 0, r1.Code, "worker stderr:\n%s", r1.Stderr)
	doc, err := report.ReadDocumentFile(filepath.Join(m.Dir, "run.json"))
	require.NoError(t, err)
	e1, ok := doc.Entry("GET", "/go/1")
	require.True(t, ok)
	e2, ok := doc.Entry("GET", "/go/2")
	require.True(t, ok, "the killed worker's reports stay in the master's statistics")
	t.Logf("target: /go/1 %d, /go/2 %d; master: /go/1 %d, /go/2 %d, cut short %d",
		tg.get("/go/1"), sent2, e1.NumRequests, e2.NumRequests, doc.CutShort)
	assert.Positive(t, e2.NumRequests)
	assert.LessOrEqual(t, e2.NumRequests, sent2, "what it sent before its last report at most")
	assert.Equal(t, tg.get("/go/1"), e1.NumRequests+doc.CutShort, "the surviving worker: every request")
}

// A master process killed and a new one started on the same port, through
// the command line: the workers running the first test rejoin the new
// master and run its test, and the new master's report holds that test's
// requests only: requests + cut short equal what its target received.
func TestRestartedMasterThroughCommandLine(t *testing.T) {
	bin := program(t)
	tg1, tg2 := newTarget(t), newTarget(t)
	port := freePort(t)
	master := func(tg *target, runTime string) *testutil.Proc {
		m := start(t, bin, "--master", "--master-bind-host", "127.0.0.1", "--master-bind-port", port,
			"--expect-workers", "2", "--headless", "-u", "4", "-r", "100", "-t", runTime, "-H", tg.srv.URL,
			"--json-file", "run.json", "Hit")
		m.WaitFor(t, "master listening", 1, 20*time.Second)
		return m
	}
	m1 := master(tg1, "5m")
	w1 := start(t, bin, "--worker", "--master-port", port)
	w2 := start(t, bin, "--worker", "--master-port", port)
	waitCount(t, tg1, "/go", 200, 30*time.Second)
	m1.Kill(t)

	m2 := master(tg2, "4s")
	res := m2.Wait(t, 60*time.Second)
	require.Equal(t, 0, res.Code, "master stderr:\n%s", res.Stderr)
	for _, w := range []*testutil.Proc{w1, w2} {
		r := w.Wait(t, 30*time.Second)
		require.Equal(t, 0, r.Code, "worker stderr:\n%s", r.Stderr)
		assert.Contains(t, r.Stderr, "the master does not know this worker")
	}
	doc, err := report.ReadDocumentFile(filepath.Join(m2.Dir, "run.json"))
	require.NoError(t, err)
	t.Logf("first target %d, second target %d; second master: requests %d, cut short %d",
		tg1.get("/go"), tg2.get("/go"), doc.Total.NumRequests, doc.CutShort)
	assert.Positive(t, doc.Total.NumRequests, "the workers ran the new master's test")
	assert.Equal(t, tg2.get("/go"), doc.Total.NumRequests+doc.CutShort)
}
