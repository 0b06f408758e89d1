package cluster

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDistribute(t *testing.T) {
	got := Distribute([]Class{{Name: "A", Weight: 3}, {Name: "B", Weight: 1}, {Name: "F", FixedCount: 2}}, 10, 3)
	sum := map[string]int{}
	for _, w := range got {
		for k, v := range w {
			sum[k] += v
		}
	}
	assert.Equal(t, map[string]int{"A": 6, "B": 2, "F": 2}, sum)
	assert.Equal(t, map[string]int{"A": 2, "B": 1, "F": 1}, got[0])
	assert.Equal(t, map[string]int{"A": 2, "B": 0, "F": 0}, got[2])
	got = Distribute([]Class{{Name: "A"}, {Name: "B"}}, 3, 1)
	assert.Equal(t, 3, got[0]["A"]+got[0]["B"])
}

// pythonWorkerLocustfile: the same classes as the Go types, in Python.
const pythonWorkerLocustfile = `from locust import HttpUser, task, constant

class WebUser(HttpUser):
    wait_time = constant(0.05)
    @task(3)
    def ok(self):
        self.client.get("/ok")
    @task(1)
    def fail(self):
        self.client.get("/fail")

class APIUser(HttpUser):
    wait_time = constant(0.05)
    @task
    def api(self):
        self.client.post("/api", data="x")
`

// A Go master with a real Python worker (Debian's 2.12.1, which sends an
// empty version) and a Go worker: both get users and contribute, and the
// master's merged totals equal what the target saw (less the requests in
// flight at the quit, which Locust's workers drop).
func TestGoMasterWithPythonAndGoWorkers(t *testing.T) {
	locustBin(t)
	tg := newTarget(t)
	dir := t.TempDir()
	writeFile(t, dir, "locustfile.py", pythonWorkerLocustfile)
	m, err := NewMaster(MasterConfig{
		BindPort: -1, ExpectWorkers: 2, Users: 4, RunTime: 8 * time.Second, Host: tg.srv.URL,
		Classes:     []Class{{Name: "WebUser", Weight: 1}, {Name: "APIUser", Weight: 1}},
		ExcludeTags: []string{"other"}, Logger: testLogger(t),
	})
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	require.NoError(t, m.Listen(ctx))
	py := startLocust(t, dir, "-f", "locustfile.py", "--worker", "--master-host", "127.0.0.1", "--master-port", strconv.Itoa(m.Port()))
	ws, wait := runGoWorkers(t, ctx, 1, WorkerConfig{MasterPort: m.Port(), Logger: testLogger(t)}, testTypes(50*time.Millisecond))
	require.NoError(t, m.Run(ctx))
	for _, err := range wait() {
		require.NoError(t, err)
	}
	py.wait(t, 20*time.Second)

	seen := tg.counts()
	reqs, fails := m.Stats().Totals()
	cut := ws[0].CutShort()
	t.Logf("target saw %v; master: %d requests, %d failures; Go worker cut short %d", seen, reqs, fails, cut)
	assert.Zero(t, seen["/excluded"])
	sent := seen["/ok"] + seen["/fail"] + seen["/api"]
	// at most one request per Python user may be in flight at the quit
	assert.LessOrEqual(t, reqs+cut, sent)
	assert.GreaterOrEqual(t, reqs+cut, sent-2)
	assert.Positive(t, fails)

	var py500, go500 bool
	for _, e := range m.Stats().Errors() {
		py500 = py500 || strings.Contains(e.Error, "HTTPError")
		go500 = go500 || strings.Contains(e.Error, "HTTP 500") && !strings.Contains(e.Error, "HTTPError")
	}
	assert.True(t, py500, "the Python worker's failures arrived: %v", m.Stats().Errors())
	assert.True(t, go500, "the Go worker's failures arrived: %v", m.Stats().Errors())
	assert.Positive(t, m.Stats().Exceptions(), "the Go worker's task errors arrived")
}
