package locust

import (
	"sync/atomic"
	"time"
)

// Remote is a set of users that run somewhere else but that a Runner
// controls and reports as its own, such as a cluster master's workers
// (cluster.Master.Remote). With a Remote set (Runner.SetRemote) the Runner
// runs no user itself: Runner.SetUsers sets the Remote's user count, and
// Runner.UserCount and the snapshots' user count read it, so that the
// console, the reports, the web UI and load shapes (which call SetUsers)
// work unchanged. The Remote's requests reach the Runner through its Stats
// (Stats.Merge). Implementations must be safe for concurrent use.
type Remote interface {
	// SetUsers sets how many users run in all, started (or stopped) at
	// rate per second in all (0: at once). It may be called before the
	// remote test starts: the count then applies when it does.
	SetUsers(n int, rate float64) error
	// Users is how many users run now.
	Users() int
	// Workers describes the processes that run the users, by index.
	Workers() []WorkerStatus
}

// WorkerStatus is what a Remote knows of one of its worker processes, as
// Locust's workers tab shows it. It is plain data.
type WorkerStatus struct {
	// ID is the worker's node id (Locust's "host_<hex>").
	ID string
	// State is Locust's name of the worker's state: "ready", "spawning",
	// "running", "stopped" or "missing" (no heartbeat for a while).
	State string
	// Users is how many users the worker runs.
	Users int
	// CPU is the worker's CPU use in percent of one core, from its
	// last heartbeat.
	CPU float64
	// LastHeartbeat is when the worker was last heard from.
	LastHeartbeat time.Time
}

// remoteBox holds a Remote for an atomic.Pointer.
type remoteBox struct{ Remote }

// remoteRef is the Runner's Remote, read on every UserCount.
type remoteRef struct{ p atomic.Pointer[remoteBox] }

func (rr *remoteRef) get() Remote {
	if b := rr.p.Load(); b != nil {
		return b.Remote
	}
	return nil
}

// SetRemote makes the runner control rem instead of running users itself
// (see Remote); nil makes it run its own users again. The runner's target
// so far (Config.Users, or the last SetUsers) and spawn rate are handed to
// rem at once, and its own target becomes 0. Call it before Run, and before
// anything calls SetUsers (an extension's Start). It returns rem's error
// for the target. Safe for concurrent use.
func (r *Runner) SetRemote(rem Remote) error {
	r.mu.Lock()
	n, rate := r.target, r.rate
	if rem != nil {
		r.target = 0
	}
	r.mu.Unlock()
	if rem == nil {
		r.remote.p.Store(nil)
		return nil
	}
	r.remote.p.Store(&remoteBox{rem})
	select {
	case r.wake <- struct{}{}:
	default:
	}
	return rem.SetUsers(n, rate)
}

// Remote returns the Remote set with SetRemote, or nil. Safe for
// concurrent use.
func (r *Runner) Remote() Remote { return r.remote.get() }

// Workers describes the worker processes of the runner's Remote, or
// returns nil when it has none (the users run in this process). Safe for
// concurrent use.
func (r *Runner) Workers() []WorkerStatus {
	if rem := r.remote.get(); rem != nil {
		return rem.Workers()
	}
	return nil
}
