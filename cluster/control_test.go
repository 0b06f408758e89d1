package cluster

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	locust "github.com/golocust/locust"
)

// shares returns the users of each worker by node id.
func shares(m *Master) map[string]int {
	out := map[string]int{}
	for _, w := range m.Workers() {
		out[w.ID] = w.Users
	}
	return out
}

// A Runner drives a master through its Remote over two tests, as the web
// UI does: the Runner's SetUsers hands the users out among the workers (and
// again when it changes), the Runner's user count is the workers' sum, a
// stop keeps the workers for the next test, whose reports go to the next
// Runner, and Close sends them quit. Every request a worker recorded is in
// one of the two Runners' statistics or cut short.
func TestMasterRemoteRunsSeveralTests(t *testing.T) {
	m, err := NewMaster(MasterConfig{BindPort: -1, ExpectWorkers: 2, Classes: []Class{{Name: "Rec"}}, Logger: testLogger(t)})
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	require.NoError(t, m.Listen(ctx))
	var n atomic.Int64
	ws, wait := runGoWorkers(t, ctx, 2, fastConfig(t, m.Port()), []*locust.UserType{recType("Rec", &n, 1, 10*time.Millisecond)})
	a, b := ws[0].NodeID(), ws[1].NodeID()
	var runners []*locust.Runner
	for test, want := range [][3]int{{4, 2, 2}, {6, 3, 3}} {
		r, err := locust.NewRunner(locust.Config{Users: want[0], Logger: testLogger(t)}, recType("Rec", &atomic.Int64{}, 1, time.Hour))
		require.NoError(t, err)
		require.NoError(t, r.SetRemote(m.Remote()))
		runners = append(runners, r)
		m.SetStats(r.Stats())
		rctx, rstop := context.WithCancel(ctx)
		runDone := make(chan error, 1)
		go func() { runDone <- r.Run(ctx) }()
		testDone := make(chan error, 1)
		go func() { testDone <- m.RunTest(rctx, 0) }()
		require.Eventually(t, func() bool {
			s := shares(m)
			return s[a] == want[1] && s[b] == want[2] && r.UserCount() == want[0]
		}, 10*time.Second, 10*time.Millisecond, "test %d: users shared: %v", test, shares)
		assert.Equal(t, want[0], r.Snapshot().UserCount)
		require.Len(t, r.Workers(), 2)
		for _, w := range r.Workers() {
			assert.Equal(t, "running", w.State)
			assert.WithinDuration(t, time.Now(), w.LastHeartbeat, 5*time.Second)
		}

		require.NoError(t, r.SetUsers(2, 0)) // fewer users: one each
		require.Eventually(t, func() bool {
			s := shares(m)
			return s[a] == 1 && s[b] == 1 && r.UserCount() == 2
		}, 10*time.Second, 10*time.Millisecond, "test %d: users shared again: %v", test, shares)
		time.Sleep(300 * time.Millisecond)

		rstop() // the UI's stop: the workers get stop, and stay
		require.NoError(t, <-testDone)
		r.Stop()
		require.NoError(t, <-runDone)
		assert.Zero(t, r.UserCount(), "stopped workers run no user")
		require.Eventually(t, func() bool {
			ready := 0
			for _, w := range m.Workers() {
				if w.State == "ready" {
					ready++
				}
			}
			return ready == 2
		}, 10*time.Second, 10*time.Millisecond, "the workers are ready for the next test: %v", m.Workers)
	}
	require.NoError(t, m.Close())
	for _, err := range wait() {
		require.NoError(t, err, "the workers end on the master's quit")
	}
	var got int64
	for _, r := range runners {
		req := r.Snapshot().Total.Requests
		assert.Positive(t, req, "each test has its own requests")
		got += req
	}
	assert.Equal(t, n.Load(), got+ws[0].CutShort()+ws[1].CutShort())
}

// SetUsers with a spawn rate while a test runs ramps from the users handed
// out so far, rate per second, down as well as up.
func TestMasterSetUsersRamps(t *testing.T) {
	m, err := NewMaster(MasterConfig{BindPort: -1, ExpectWorkers: 1, Users: 6, Classes: []Class{{Name: "Rec"}}, Logger: testLogger(t)})
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	require.NoError(t, m.Listen(ctx))
	var n atomic.Int64
	_, wait := runGoWorkers(t, ctx, 1, fastConfig(t, m.Port()), []*locust.UserType{recType("Rec", &n, 1, 10*time.Millisecond)})
	rctx, rstop := context.WithCancel(ctx)
	testDone := make(chan error, 1)
	go func() { testDone <- m.RunTest(rctx, 0) }()
	require.Eventually(t, func() bool { return m.Users() == 6 }, 10*time.Second, 10*time.Millisecond)
	require.Error(t, m.SetUsers(-1, 0))
	require.Error(t, m.SetUsers(1, -1))
	began := time.Now()
	require.NoError(t, m.SetUsers(2, 2)) // 6 -> 4 at once, 2 a second later
	var seen []int
	for m.Users() != 2 && time.Since(began) < 10*time.Second {
		if k := m.Users(); len(seen) == 0 || seen[len(seen)-1] != k {
			seen = append(seen, k)
		}
		time.Sleep(10 * time.Millisecond)
	}
	assert.Equal(t, 2, m.Users())
	assert.GreaterOrEqual(t, time.Since(began), 800*time.Millisecond, "two steps, a second apart: %v", seen)
	assert.Contains(t, seen, 4, "%v", seen)
	rstop()
	require.NoError(t, <-testDone)
	require.NoError(t, m.Close())
	for _, err := range wait() {
		require.NoError(t, err)
	}
}
