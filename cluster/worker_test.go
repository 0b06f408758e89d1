package cluster

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/golocust/locust"
	"github.com/golocust/locust/cluster/wire"
)

// recType records one request per name in names every tick, and counts them
// in n. Every 7th iteration it also panics (an exception for the master).
func recType(name string, n *atomic.Int64, names int, tick time.Duration) *locust.UserType {
	var it atomic.Int64
	return &locust.UserType{
		Name: name,
		Wait: locust.Constant(tick),
		Tasks: locust.NewTaskSet(name).Task(1, func(ctx context.Context, u *locust.User) error {
			for i := range names {
				u.RecordSuccess("GET", fmt.Sprintf("/r/%03d", i), time.Millisecond, 10)
				n.Add(1)
			}
			if it.Add(1)%7 == 0 {
				panic("task panicked on purpose")
			}
			return nil
		}),
	}
}

func fastConfig(t *testing.T, port int) WorkerConfig {
	return WorkerConfig{
		MasterPort: port, Logger: testLogger(t),
		HeartbeatInterval: 100 * time.Millisecond, ReportInterval: 200 * time.Millisecond,
		AckTimeout: time.Second,
	}
}

// The worker against a scripted master: join, heartbeats, hostile frames,
// a spawn naming an unknown class, a stale spawn, stats, exceptions, stop
// and a second test, quit; every request recorded reaches the master.
func TestWorkerProtocol(t *testing.T) {
	m := newFakeMaster(t)
	var recorded atomic.Int64
	cfg := fastConfig(t, m.port)
	cfg.NodeID = "gohost_0123456789abcdef0123456789abcdef"
	w, err := NewWorker(cfg, recType("Rec", &recorded, 3, 10*time.Millisecond))
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()

	ready := m.waitFor(wire.TypeClientReady, nil, 5*time.Second)
	assert.Equal(t, int64(-1), ready.Data)
	assert.Equal(t, cfg.NodeID, ready.NodeID)
	hb := m.waitFor(wire.TypeHeartbeat, nil, 5*time.Second)
	d, ok := wire.Map(hb.Data)
	require.True(t, ok)
	assert.Equal(t, "ready", d["state"])
	_, isFloat := d["current_cpu_usage"].(float64)
	assert.True(t, isFloat, "current_cpu_usage is %T", d["current_cpu_usage"])
	_, ok = wire.Int(d["current_memory_usage"])
	assert.True(t, ok)

	// hostile and stray frames are dropped; the worker goes on
	for _, b := range [][]byte{{}, {0xc1}, {0x93, 0xa1}, {0x93, 0xdd, 0xff, 0xff, 0xff, 0xff}, []byte("GET / HTTP/1.1\r\n\r\n")} {
		m.sendRaw(cfg.NodeID, b)
	}
	b, err := wire.Encode(wire.Message{Type: wire.TypeQuit, NodeID: "someone_else"})
	require.NoError(t, err)
	m.sendRaw(cfg.NodeID, b) // to us, but for another node: dropped by the worker
	m.send(cfg.NodeID, "no_such_type", map[string]any{"x": 1})

	m.send(cfg.NodeID, wire.TypeSpawn, spawnMsg(100, map[string]any{"Rec": 2, "Ghost": 3}))
	m.waitFor(wire.TypeSpawning, nil, 5*time.Second)
	sc := m.waitFor(wire.TypeSpawningComplete, nil, 5*time.Second)
	d, _ = wire.Map(sc.Data)
	counts, _ := wire.Map(d["user_classes_count"])
	assert.Equal(t, map[string]any{"Rec": int64(2)}, counts)
	assert.Equal(t, int64(2), d["user_count"])
	ghost := m.waitFor(wire.TypeException, func(x wire.Message) bool {
		d, _ := wire.Map(x.Data)
		return strings.Contains(fmt.Sprint(d["msg"]), "Ghost")
	}, 5*time.Second)
	t.Logf("unknown class reported: %v", ghost.Data)

	// a stale spawn changes nothing
	m.send(cfg.NodeID, wire.TypeSpawn, spawnMsg(50, map[string]any{"Rec": 9}))
	m.waitFor(wire.TypeHeartbeat, func(x wire.Message) bool {
		d, _ := wire.Map(x.Data)
		return d["state"] == "running"
	}, 5*time.Second)
	m.waitFor(wire.TypeException, func(x wire.Message) bool {
		d, _ := wire.Map(x.Data)
		return strings.Contains(fmt.Sprint(d["msg"]), "task panicked on purpose") &&
			strings.Contains(fmt.Sprint(d["traceback"]), "goroutine")
	}, 5*time.Second)
	st := m.waitFor(wire.TypeStats, func(x wire.Message) bool {
		d, _ := wire.Map(x.Data)
		uc, _ := wire.Map(d["user_classes_count"])
		return uc["Rec"] == int64(2)
	}, 5*time.Second)
	d, _ = wire.Map(st.Data)
	for _, k := range []string{"stats", "stats_total", "errors", "user_classes_count", "user_count"} {
		assert.Contains(t, d, k)
	}

	// reconnect: a new connection and a new client_ready
	readies := len(m.of(wire.TypeClientReady))
	m.send(cfg.NodeID, wire.TypeReconnect, nil)
	require.Eventually(t, func() bool { return len(m.of(wire.TypeClientReady)) > readies }, 5*time.Second, 10*time.Millisecond)

	// stop: client_stopped, then client_ready again; a new test after it
	readies = len(m.of(wire.TypeClientReady))
	m.send(cfg.NodeID, wire.TypeStop, nil)
	m.waitFor(wire.TypeClientStopped, nil, 10*time.Second)
	require.Eventually(t, func() bool { return len(m.of(wire.TypeClientReady)) > readies }, 5*time.Second, 10*time.Millisecond)
	m.send(cfg.NodeID, wire.TypeSpawn, spawnMsg(200, map[string]any{"Rec": 1}))
	m.waitFor(wire.TypeSpawningComplete, func(x wire.Message) bool {
		d, _ := wire.Map(x.Data)
		return d["user_count"] == int64(1)
	}, 5*time.Second)
	time.Sleep(300 * time.Millisecond)

	m.send(cfg.NodeID, wire.TypeQuit, nil)
	require.NoError(t, <-done)
	m.waitFor(wire.TypeQuit, nil, 5*time.Second)
	assert.Positive(t, recorded.Load())
	assert.Equal(t, recorded.Load(), m.requests(), "every recorded request reached the master")
}

// A report stuck unacknowledged in the worker's send queue when the link
// breaks is sent again after the reconnect: the master ends with every
// request. (zmq4 would drop it without a word.)
func TestWorkerResendsUnacknowledgedReports(t *testing.T) {
	m := newFakeMaster(t)
	proxy := newCutProxy(t, fmt.Sprintf("127.0.0.1:%d", m.port), true)
	var recorded atomic.Int64
	cfg := fastConfig(t, proxy.port())
	cfg.NodeID = "gohost_fedcba9876543210fedcba9876543210"
	// 300 names per iteration: reports of tens of KiB, more than the
	// proxy's small receive buffer holds while it is paused
	w, err := NewWorker(cfg, recType("Rec", &recorded, 300, 20*time.Millisecond))
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	m.waitFor(wire.TypeClientReady, nil, 5*time.Second)
	m.send(cfg.NodeID, wire.TypeSpawn, spawnMsg(1, map[string]any{"Rec": 1}))
	m.waitFor(wire.TypeSpawningComplete, nil, 5*time.Second)
	time.Sleep(500 * time.Millisecond)

	proxy.pause()
	time.Sleep(1500 * time.Millisecond) // several reports pile up unacknowledged
	proxy.cut()
	time.Sleep(500 * time.Millisecond)
	proxy.restore()
	time.Sleep(1500 * time.Millisecond)

	m.send(cfg.NodeID, wire.TypeQuit, nil)
	require.NoError(t, <-done)
	m.waitFor(wire.TypeQuit, nil, 5*time.Second)
	assert.Equal(t, recorded.Load(), m.requests(), "requests recorded vs received by the master")
}

// A master that goes away and comes back (a new process on the same port):
// the idle worker reconnects with backoff and joins the new master; a
// spawn from it works.
func TestWorkerRejoinsRestartedMaster(t *testing.T) {
	m := newFakeMaster(t)
	var recorded atomic.Int64
	cfg := fastConfig(t, m.port)
	cfg.NodeID = "gohost_00112233445566778899aabbccddeeff"
	w, err := NewWorker(cfg, recType("Rec", &recorded, 1, 10*time.Millisecond))
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	m.waitFor(wire.TypeHeartbeat, nil, 5*time.Second)

	m.stop()
	time.Sleep(1500 * time.Millisecond) // a few failed attempts, with backoff
	m2 := newFakeMasterOn(t, m.port)
	m2.waitFor(wire.TypeClientReady, nil, 10*time.Second)
	m2.send(cfg.NodeID, wire.TypeSpawn, spawnMsg(1, map[string]any{"Rec": 1}))
	m2.waitFor(wire.TypeSpawningComplete, nil, 5*time.Second)
	time.Sleep(300 * time.Millisecond)
	m2.send(cfg.NodeID, wire.TypeQuit, nil)
	require.NoError(t, <-done)
	m2.waitFor(wire.TypeQuit, nil, 5*time.Second)
	assert.Equal(t, recorded.Load(), m2.requests())
}

// Cancelling the context stops the users at once and tells the master the
// worker quits, with a final report.
func TestWorkerContextCancel(t *testing.T) {
	m := newFakeMaster(t)
	var recorded atomic.Int64
	cfg := fastConfig(t, m.port)
	cfg.NodeID = "gohost_ffeeddccbbaa99887766554433221100"
	w, err := NewWorker(cfg, recType("Rec", &recorded, 1, 10*time.Millisecond))
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	m.waitFor(wire.TypeClientReady, nil, 5*time.Second)
	m.send(cfg.NodeID, wire.TypeSpawn, spawnMsg(1, map[string]any{"Rec": 2}))
	m.waitFor(wire.TypeSpawningComplete, nil, 5*time.Second)
	time.Sleep(300 * time.Millisecond)
	cancel()
	require.NoError(t, <-done)
	m.waitFor(wire.TypeQuit, nil, 5*time.Second)
	assert.Equal(t, recorded.Load(), m.requests())
}

func TestNewWorkerChecks(t *testing.T) {
	var n atomic.Int64
	_, err := NewWorker(WorkerConfig{})
	assert.Error(t, err)
	_, err = NewWorker(WorkerConfig{}, recType("A", &n, 1, 0), recType("A", &n, 1, 0))
	assert.ErrorContains(t, err, "two user types")
	_, err = NewWorker(WorkerConfig{MasterPort: 70000}, recType("A", &n, 1, 0))
	assert.Error(t, err)
	w, err := NewWorker(WorkerConfig{}, recType("A", &n, 1, 0))
	require.NoError(t, err)
	assert.Regexp(t, `^[^_]+_[0-9a-f]{32}$`, w.NodeID())
}

// The spawn options of a real Locust 2.12.1 master's frame (host, stop
// timeout, tags) reach the runners' configuration.
func TestSpawnOptionsFromRealMaster(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("wire", "testdata", "master_spawn.msgpack"))
	require.NoError(t, err)
	m, err := wire.Decode(b)
	require.NoError(t, err)
	d, ok := wire.Map(m.Data)
	require.True(t, ok)
	var n atomic.Int64
	w, err := NewWorker(WorkerConfig{Base: locust.Config{ExcludeTags: []string{"kept"}}}, recType("WebUser", &n, 1, 0))
	require.NoError(t, err)
	require.NoError(t, w.options(d))
	require.NotNil(t, w.host)
	assert.Equal(t, "http://127.0.0.1:9", *w.host)
	assert.Equal(t, 2*time.Second, w.stopTimeout)
	assert.Equal(t, []string{"a", "b"}, w.tags)
	assert.Equal(t, []string{"kept"}, w.exclude, "None keeps the worker's own")

	bad := map[string]any{"stop_timeout": "soon"}
	assert.Error(t, w.options(bad))
	bad = map[string]any{"parsed_options": map[string]any{"tags": []any{1}}}
	assert.Error(t, w.options(bad))
}

// slowType makes 400 ms requests that end early when the user's context
// does; attempted counts the requests begun.
func slowType(attempted *atomic.Int64) *locust.UserType {
	return &locust.UserType{
		Name: "Slow",
		Tasks: locust.NewTaskSet("slow").Task(1, func(ctx context.Context, u *locust.User) error {
			attempted.Add(1)
			return u.Measure(ctx, "GET", "/slow", func(ctx context.Context) (int64, error) {
				select {
				case <-time.After(400 * time.Millisecond):
					return 1, nil
				case <-ctx.Done():
					return 0, context.Cause(ctx)
				}
			})
		}),
	}
}

// The master's stop_timeout lets running requests finish at a stop; without
// one they are cut short (counted by CutShort, in no report, as in Locust).
func TestWorkerAppliesStopTimeout(t *testing.T) {
	m := newFakeMaster(t)
	var attempted atomic.Int64
	cfg := fastConfig(t, m.port)
	cfg.NodeID = "gohost_0000000000000000000000000000abcd"
	w, err := NewWorker(cfg, slowType(&attempted))
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	m.waitFor(wire.TypeClientReady, nil, 5*time.Second)

	spawn := spawnMsg(1, map[string]any{"Slow": 3})
	spawn["stop_timeout"] = 2.0
	m.send(cfg.NodeID, wire.TypeSpawn, spawn)
	m.waitFor(wire.TypeSpawningComplete, nil, 5*time.Second)
	time.Sleep(100 * time.Millisecond)
	m.send(cfg.NodeID, wire.TypeStop, nil)
	m.waitFor(wire.TypeClientStopped, nil, 5*time.Second)
	assert.Zero(t, w.CutShort(), "requests finished within the stop timeout")
	assert.Equal(t, attempted.Load(), m.requests())
	assert.EqualValues(t, 3, attempted.Load())

	m.send(cfg.NodeID, wire.TypeSpawn, spawnMsg(2, map[string]any{"Slow": 2})) // stop_timeout None
	require.Eventually(t, func() bool { return len(m.of(wire.TypeSpawningComplete)) == 2 }, 5*time.Second, 10*time.Millisecond)
	time.Sleep(100 * time.Millisecond)
	m.send(cfg.NodeID, wire.TypeStop, nil)
	require.Eventually(t, func() bool { return len(m.of(wire.TypeClientStopped)) == 2 }, 5*time.Second, 10*time.Millisecond)
	assert.EqualValues(t, 2, w.CutShort(), "requests in flight at a stop without timeout are cut short")
	assert.Equal(t, attempted.Load(), m.requests()+w.CutShort())

	m.send(cfg.NodeID, wire.TypeQuit, nil)
	require.NoError(t, <-done)
}

// A worker that saw the master's heartbeats quits when they stop coming.
func TestWorkerQuitsWithoutMasterHeartbeats(t *testing.T) {
	m := newFakeMaster(t)
	var n atomic.Int64
	cfg := fastConfig(t, m.port)
	cfg.NodeID = "gohost_0000000000000000000000000000beef"
	cfg.MasterTimeout = 500 * time.Millisecond
	w, err := NewWorker(cfg, recType("Rec", &n, 1, 10*time.Millisecond))
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	m.waitFor(wire.TypeClientReady, nil, 5*time.Second)
	time.Sleep(700 * time.Millisecond)
	select {
	case <-done:
		t.Fatal("quit before any master heartbeat")
	default:
	}
	m.send(cfg.NodeID, wire.TypeHeartbeat, nil)
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(5 * time.Second):
		t.Fatal("worker did not quit after the master's heartbeats stopped")
	}
	m.waitFor(wire.TypeQuit, nil, 5*time.Second)
}
