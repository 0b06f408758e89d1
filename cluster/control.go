package cluster

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sync"
	"time"

	locust "github.com/golocust/locust"
	"github.com/golocust/locust/cluster/wire"
)

// control is the master's part that a locust.Runner drives: the user
// count asked for (SetUsers) and the ramp towards it, the workers asked to
// stop, and the loops started by Listen. Guarded by Master.mu, except
// where said.
type control struct {
	want     int               // users asked for (SetUsers, MasterConfig.Users)
	rate     float64           // their spawn rate; 0: at once
	from     int               // users handed out when the ramp began
	rampAt   time.Time         // when the ramp began
	stopping map[string]bool   // workers sent stop, not yet client_stopped
	final    map[string]bool   // workers stopped, their report after client_stopped not yet in
	gone     map[string][]byte // workers that stopped and have not sent client_ready again (by node: their id)
	quitting map[string]bool   // workers sent quit, not yet gone
	quitSent bool              // quit went to the workers: Close need not send it again
	wake     chan struct{}     // SetUsers: the test's loop looks again

	cancel    context.CancelFunc // ends Listen's loops (set by Listen)
	loops     sync.WaitGroup
	closeOnce sync.Once
}

func newControl(cfg MasterConfig) control {
	return control{want: cfg.Users, rate: cfg.SpawnRate, stopping: map[string]bool{}, final: map[string]bool{},
		gone: map[string][]byte{}, quitting: map[string]bool{}, wake: make(chan struct{}, 1)}
}

// seen follows the messages that end a worker's test or its life: a
// worker that stopped (client_stopped) is gone until it sends client_ready
// again, and still gets the quit at the end; its next stats report is its
// last of the test; one that quit is gone for good.
func (c *control) seen(node string, id []byte, typ string) {
	switch typ {
	case wire.TypeStats:
		delete(c.final, node)
	case wire.TypeClientStopped:
		if c.stopping[node] {
			c.final[node] = true
		}
		delete(c.stopping, node)
		c.gone[node] = slices.Clone(id)
	case wire.TypeClientReady:
		delete(c.gone, node)
	case wire.TypeQuit:
		delete(c.gone, node)
		delete(c.quitting, node)
	}
}

// restartRamp starts a ramp from `from` users handed out at now.
func (c *control) restartRamp(from int, now time.Time) { c.from, c.rampAt = from, now }

// rampTarget is how many users are handed out at now: all of them without
// a spawn rate, else rate more (or fewer) each second since the ramp began
// (at least one at once), up to want.
func (c *control) rampTarget(now time.Time) int {
	if c.rate <= 0 || c.from == c.want {
		return c.want
	}
	steps := math.Floor(now.Sub(c.rampAt).Seconds()) + 1
	k := max(1, int(math.Floor(c.rate*steps)))
	if c.want > c.from {
		return min(c.want, c.from+k)
	}
	return max(c.want, c.from-k)
}

// nextStep is how long until the ramp's next whole second, and whether
// the ramp still moves (target users are handed out now).
func (c *control) nextStep(target int, now time.Time) (time.Duration, bool) {
	if target == c.want {
		return 0, false
	}
	el := now.Sub(c.rampAt)
	next := (el/time.Second + 1) * time.Second
	return max(next-el, time.Millisecond), true
}

// SetUsers sets how many users the workers run in all and the spawn rate
// (users per second in all, shared among the workers; 0: at once). While a
// test runs the users are handed out again at once (a new ramp from the
// users handed out so far); before, the count applies when the test
// starts. Safe for concurrent use.
func (m *Master) SetUsers(n int, rate float64) error {
	if n < 0 {
		return fmt.Errorf("users must be at least 0, not %d", n)
	}
	if !(rate >= 0) || math.IsInf(rate, 0) {
		return fmt.Errorf("spawn rate must be a number at least 0, not %g", rate)
	}
	m.mu.Lock()
	m.ctl.want, m.ctl.rate = n, rate
	if m.running {
		now := time.Now()
		m.ctl.restartRamp(m.target, now)
		if t := m.ctl.rampTarget(now); t != m.target {
			m.target = t
			m.rebalanceLocked()
		}
	}
	m.mu.Unlock()
	select {
	case m.ctl.wake <- struct{}{}:
	default:
	}
	return nil
}

// Users is how many users the workers that are not missing run, as they
// last confirmed (spawning_complete). Safe for concurrent use.
func (m *Master) Users() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for _, w := range m.workers {
		if w.info.State != "missing" {
			n += w.info.Users
		}
	}
	return n
}

// SetStats makes the workers' reports go to s (Stats.Merge) from now on:
// each test of the web UI gets the Stats of its own Runner. Safe for
// concurrent use.
func (m *Master) SetStats(s *locust.Stats) {
	m.mu.Lock()
	m.cfg.Stats = s
	m.mu.Unlock()
}

// SetHost sets the host sent to the workers with the users from the next
// hand-out on (the web UI's form may change it between tests). Safe for
// concurrent use.
func (m *Master) SetHost(host string) {
	m.mu.Lock()
	m.cfg.Host = host
	m.mu.Unlock()
}

// finalReportWait bounds the wait for a stopped worker's next stats report:
// a Locust worker sends none with client_stopped, only every 3 s.
const finalReportWait = 3500 * time.Millisecond

// stopWorkers sends stop to every worker and waits, up to limit, until
// those that are not missing confirmed it (client_stopped), then, up to
// finalReportWait, for each one's next stats report: a Python worker
// reports its last requests only then (a Go worker right before
// client_stopped, and again at its next report), so that they count in
// this test.
func (m *Master) stopWorkers(limit time.Duration) error {
	m.mu.Lock()
	m.running = false
	clear(m.ctl.stopping)
	clear(m.ctl.final)
	for id, w := range m.workers {
		m.send(w.id, id, wire.TypeStop, nil)
		if w.info.State != "missing" {
			m.ctl.stopping[id] = true
		}
	}
	m.mu.Unlock()
	if err := m.await(limit, "stop", func() int { return len(m.ctl.stopping) }); err != nil {
		return err
	}
	return m.await(finalReportWait, "last report after the stop", func() int { return len(m.ctl.final) })
}

// quitWorkers sends quit to every worker, also those that stopped and have
// not joined again, and waits, up to limit, until they all confirmed it
// (quit).
func (m *Master) quitWorkers(limit time.Duration) error {
	m.mu.Lock()
	m.running = false
	m.ctl.quitSent = true
	clear(m.ctl.quitting)
	for node, w := range m.workers {
		m.send(w.id, node, wire.TypeQuit, nil)
		m.ctl.quitting[node] = true
	}
	for node, id := range m.ctl.gone { // stopped, not back yet
		m.send(id, node, wire.TypeQuit, nil)
		m.ctl.quitting[node] = true
	}
	m.mu.Unlock()
	return m.await(limit, "quit", func() int { return len(m.ctl.quitting) })
}

// await waits, up to limit, until left (called with m.mu held) is 0.
func (m *Master) await(limit time.Duration, what string, left func() int) error {
	deadline := time.After(limit)
	for {
		m.mu.Lock()
		n := left()
		m.mu.Unlock()
		if n == 0 {
			return nil
		}
		select {
		case <-deadline:
			m.log.Warn("master: workers did not confirm the "+what, "left", n)
			return nil
		case <-m.changed:
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Close sends quit to the workers still connected, waits (up to 3 s) for
// them to leave, and closes the master's socket and loops. Run closes the
// master itself. Safe to call more than once, and concurrently.
func (m *Master) Close() error {
	m.ctl.closeOnce.Do(func() {
		if m.sock == nil {
			return
		}
		m.mu.Lock()
		left := len(m.workers)+len(m.ctl.gone) > 0 && !m.ctl.quitSent
		m.mu.Unlock()
		if left {
			_ = m.quitWorkers(3 * time.Second)
		}
		if m.ctl.cancel != nil {
			m.ctl.cancel()
		}
		m.sock.Close()
		m.ctl.loops.Wait()
	})
	return nil
}

// Remote returns the master as the locust.Remote of a Runner
// (Runner.SetRemote): the Runner's SetUsers sets the master's user count,
// its UserCount reads the workers' users, and its Workers lists them. Safe
// for concurrent use.
func (m *Master) Remote() locust.Remote { return masterRemote{m} }

type masterRemote struct{ m *Master }

var _ locust.Remote = masterRemote{}

func (r masterRemote) SetUsers(n int, rate float64) error { return r.m.SetUsers(n, rate) }
func (r masterRemote) Users() int                         { return r.m.Users() }

func (r masterRemote) Workers() []locust.WorkerStatus {
	ws := r.m.Workers()
	out := make([]locust.WorkerStatus, len(ws))
	for i, w := range ws {
		out[i] = locust.WorkerStatus{ID: w.ID, State: w.State, Users: w.Users, CPU: w.CPU, LastHeartbeat: w.LastSeen}
	}
	return out
}
