package cluster

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-zeromq/zmq4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/golocust/locust"
	"github.com/golocust/locust/cluster/wire"
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
	assert.Equal(t, map[string]int{"A": 2, "B": 1, "F": 0}, got[1])
	assert.Equal(t, map[string]int{"A": 2, "B": 0, "F": 1}, got[2], "the remainders go round the workers: 4, 3, 3 users")
	got = Distribute([]Class{{Name: "A"}, {Name: "B"}}, 3, 1)
	assert.Equal(t, 3, got[0]["A"]+got[0]["B"])
	// one user of each of two classes on two workers: one each, not both on the first
	got = Distribute([]Class{{Name: "A"}, {Name: "B"}}, 2, 2)
	assert.Equal(t, []map[string]int{{"A": 1, "B": 0}, {"A": 0, "B": 1}}, got)
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

// A Python worker's report (float bucket keys, None) merges as Locust's
// master merges it; a malformed report is refused whole.
func TestMasterStatsMergePythonReport(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("wire", "testdata", "stats.msgpack"))
	require.NoError(t, err)
	msg, err := wire.Decode(b)
	require.NoError(t, err)
	s := newMasterStats()
	ls := locust.NewStats(locust.StatsOptions{})
	for range 2 {
		entries, errs, err := s.merge(msg.Data)
		require.NoError(t, err)
		ls.Merge(entries, errs) // what a master run's reports show
	}
	snap := ls.Snapshot()
	ok, found := snap.Entry("GET", "/ok")
	require.True(t, found)
	assert.EqualValues(t, 112, ok.Requests)
	assert.Equal(t, 7400*time.Microsecond, ok.Min)
	assert.Equal(t, 58760*time.Millisecond, ok.Max)
	var tr, tf int64
	for _, a := range s.entries {
		tr, tf = tr+a.requests, tf+a.failures
	}
	assert.Equal(t, tr, snap.Total.Requests, "the aggregate is the sum of the entries")
	assert.Equal(t, tf, snap.Total.Failures)
	require.Len(t, snap.Errors, 1)
	assert.EqualValues(t, 4, snap.Errors[0].Occurrences)
	n, f := s.Entry("GET", "/ok")
	assert.EqualValues(t, 112, n)
	assert.Zero(t, f)
	a := s.entries[entryKey{"GET", "/ok"}]
	assert.Equal(t, map[int64]int64{7: 16, 100: 16, 140: 16, 150: 16, 160: 16, 3400: 16, 59000: 16}, a.rt)
	assert.InDelta(t, 7.4e6, float64(a.minNs), 1)
	assert.EqualValues(t, 58760e6, a.maxNs)
	errs := s.Errors()
	require.Len(t, errs, 1)
	assert.EqualValues(t, 4, errs[0].Occurrences)

	for _, bad := range []any{nil, "x", map[string]any{"stats": "x"}, map[string]any{"stats": []any{}},
		map[string]any{"stats": []any{1}, "stats_total": map[string]any{}},
		map[string]any{"stats": []any{}, "stats_total": map[string]any{"response_times": map[any]any{"k": 1}}},
		map[string]any{"stats": []any{}, "stats_total": map[string]any{"num_requests": -5}},
	} {
		_, _, err := s.merge(bad)
		assert.Error(t, err, "%v", bad)
	}
	n, _ = s.Entry("GET", "/ok")
	assert.EqualValues(t, 112, n, "refused reports change nothing")
}

// Hostile peers (raw garbage over TCP, bad msgpack over ZeroMQ, stats from
// an unknown worker with bad shapes) do not stop the master: a real worker
// still joins it afterwards.
func TestMasterSurvivesHostilePeers(t *testing.T) {
	m, err := NewMaster(MasterConfig{BindPort: -1, Classes: []Class{{Name: "Rec"}}, Users: 1, RunTime: 500 * time.Millisecond, Logger: testLogger(t)})
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	require.NoError(t, m.Listen(ctx))

	// raw bytes that are no ZMTP greeting
	c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", m.Port()))
	require.NoError(t, err)
	_, _ = c.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n" + strings.Repeat("\xff", 4096)))
	_ = c.Close()

	// a ZeroMQ peer sending hostile frames
	rogue := zmq4.NewDealer(ctx, zmq4.WithID(zmq4.SocketIdentity("rogue_0")))
	require.NoError(t, rogue.Dial(fmt.Sprintf("tcp://127.0.0.1:%d", m.Port())))
	for _, b := range [][]byte{{}, {0xc1}, {0x93, 0xdd, 0xff, 0xff, 0xff, 0xff}, {0x93, 0xa1, 'x', 0x81, 0x80, 0x01, 0xa0}} {
		require.NoError(t, rogue.Send(zmq4.NewMsg(b)))
	}
	for _, msg := range []wire.Message{
		{Type: wire.TypeStats, Data: "nonsense", NodeID: "rogue_0"},
		{Type: wire.TypeStats, Data: map[string]any{"stats": []any{map[string]any{"num_requests": "many"}}}, NodeID: "rogue_0"},
		{Type: wire.TypeHeartbeat, Data: 7, NodeID: "rogue_0"},
		{Type: wire.TypeSpawningComplete, Data: nil, NodeID: "rogue_0"},
		{Type: wire.TypeException, Data: []any{1}, NodeID: "rogue_0"},
	} {
		b, err := wire.Encode(msg)
		require.NoError(t, err)
		require.NoError(t, rogue.Send(zmq4.NewMsg(b)))
	}
	require.NoError(t, rogue.Send(zmq4.NewMsgFrom([]byte("two"), []byte("frames"))))
	time.Sleep(200 * time.Millisecond)
	rogue.Close()

	var n atomic.Int64
	ws, wait := runGoWorkers(t, ctx, 1, fastConfig(t, m.Port()), []*locust.UserType{recType("Rec", &n, 1, 10*time.Millisecond)})
	require.NoError(t, m.Run(ctx))
	for _, err := range wait() {
		require.NoError(t, err)
	}
	reqs, _ := m.Stats().Totals()
	assert.Positive(t, reqs)
	assert.Equal(t, n.Load(), reqs+ws[0].CutShort())
}

// A worker whose link is cut goes missing after the heartbeat liveness and
// its users go to the other worker; when its heartbeats come back it heals
// and the users are shared again. No request is lost on the way.
func TestMasterMissingWorkerRebalances(t *testing.T) {
	const tick = 200 * time.Millisecond
	m, err := NewMaster(MasterConfig{
		BindPort: -1, ExpectWorkers: 2, Users: 4, RunTime: 6 * time.Second, HeartbeatInterval: tick,
		Classes: []Class{{Name: "Rec"}}, Logger: testLogger(t),
	})
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	require.NoError(t, m.Listen(ctx))
	proxy := newCutProxy(t, fmt.Sprintf("127.0.0.1:%d", m.Port()), false)

	var n atomic.Int64
	types := []*locust.UserType{recType("Rec", &n, 1, 10*time.Millisecond)}
	direct, waitDirect := runGoWorkers(t, ctx, 1, fastConfig(t, m.Port()), types)
	cfg := fastConfig(t, proxy.port())
	cfg.NodeID = "proxied_00000000000000000000000000000001"
	proxied, err := NewWorker(cfg, types...)
	require.NoError(t, err)
	proxiedErr := make(chan error, 1)
	go func() { proxiedErr <- proxied.Run(ctx) }()
	runErr := make(chan error, 1)
	go func() { runErr <- m.Run(ctx) }()

	users := func() map[string]WorkerInfo {
		out := map[string]WorkerInfo{}
		for _, w := range m.Workers() {
			out[w.ID] = w
		}
		return out
	}
	require.Eventually(t, func() bool {
		u := users()
		return u[cfg.NodeID].Users == 2 && u[direct[0].NodeID()].Users == 2
	}, 10*time.Second, 20*time.Millisecond, "users shared: %v", users)

	proxy.cut()
	require.Eventually(t, func() bool {
		u := users()
		return u[cfg.NodeID].State == "missing" && u[direct[0].NodeID()].Users == 4
	}, 5*time.Second, 20*time.Millisecond, "missing worker's users moved: %v", users)
	proxy.restore()
	require.Eventually(t, func() bool {
		u := users()
		return u[cfg.NodeID].State == "running" && u[cfg.NodeID].Users == 2 && u[direct[0].NodeID()].Users == 2
	}, 5*time.Second, 20*time.Millisecond, "healed and shared again: %v", users)

	require.NoError(t, <-runErr)
	require.NoError(t, <-proxiedErr)
	for _, err := range waitDirect() {
		require.NoError(t, err)
	}
	reqs, _ := m.Stats().Totals()
	assert.Equal(t, n.Load(), reqs+direct[0].CutShort()+proxied.CutShort())
}

// With a spawn rate the master hands the users out SpawnRate more each
// second, shared among the workers, as Locust's -r does.
func TestMasterSpawnRate(t *testing.T) {
	m, err := NewMaster(MasterConfig{
		BindPort: -1, ExpectWorkers: 2, Users: 8, SpawnRate: 2, RunTime: 4 * time.Second,
		Classes: []Class{{Name: "Rec"}}, Logger: testLogger(t),
	})
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	require.NoError(t, m.Listen(ctx))
	var n atomic.Int64
	_, wait := runGoWorkers(t, ctx, 2, fastConfig(t, m.Port()), []*locust.UserType{recType("Rec", &n, 1, 10*time.Millisecond)})
	runErr := make(chan error, 1)
	go func() { runErr <- m.Run(ctx) }()
	total := func() int {
		k := 0
		for _, w := range m.Workers() {
			k += w.Users
		}
		return k
	}
	require.Eventually(t, func() bool { return total() == 2 }, 10*time.Second, 10*time.Millisecond)
	began := time.Now()
	var seen []int
	for total() < 8 && time.Since(began) < 10*time.Second {
		if k := total(); len(seen) == 0 || seen[len(seen)-1] != k {
			seen = append(seen, k)
		}
		time.Sleep(10 * time.Millisecond)
	}
	assert.Equal(t, 8, total())
	assert.GreaterOrEqual(t, time.Since(began), 2500*time.Millisecond, "8 users at 2/s: 3 more seconds after the first 2")
	// the workers confirm their share one after the other: odd totals may show
	assert.True(t, slices.IsSorted(seen), "%v", seen)
	assert.Contains(t, seen, 4, "%v", seen)
	assert.Contains(t, seen, 6, "%v", seen)
	require.NoError(t, <-runErr)
	for _, err := range wait() {
		require.NoError(t, err)
	}
}
