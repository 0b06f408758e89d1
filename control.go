package locust

import (
	"context"
	"runtime"
	"runtime/pprof"
	"slices"
	"sync"
	"time"
)

// The runner's control loop: it spawns and stops users to follow the
// target user count and spawn rate, until the test must stop.

// stopPlan says how the remaining users stop.
type stopPlan struct {
	timeout time.Duration // cancel their context after this (0: at once)
	drain   bool          // let running tasks finish (after -i, -n)
	kill    bool          // do not wait at all (Kill)
}

// ramp is the control loop's view of one change of the target.
type ramp struct {
	target    int
	rate      float64
	start     time.Time
	from      int // live users when the ramp began
	moved     int // users spawned (or stopped) by this ramp
	completed bool
	set       bool
}

// control spawns and stops users until the test must stop; it returns how
// the remaining users stop. Users are spawned in uctx; ctx is the run's
// context.
func (r *Runner) control(ctx, uctx context.Context) stopPlan {
	var rs ramp
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	warnedFixed := false
	for {
		// checked before any spawn: Stop before Run starts no user
		if plan, stop := r.stopRequested(ctx); stop {
			return plan
		}
		next, done, live := r.step(uctx, &rs, &warnedFixed)
		switch {
		case done && !rs.completed:
			rs.completed = true
			r.state.Store(int32(StateRunning))
			if r.cfg.ResetStats {
				r.stats.Reset()
				r.events.ResetStats.fire(struct{}{})
			}
			if r.remote.get() == nil { // a Remote's own log says when its users run
				r.log.Info("all users spawned", "users", live)
			}
			r.events.SpawningComplete.fire(live)
		case !done:
			r.state.Store(int32(StateSpawning))
		}
		var tc <-chan time.Time
		if next >= 0 {
			timer.Reset(next)
			tc = timer.C
		}
		select {
		case <-ctx.Done():
		case <-r.stopCh:
		case <-r.limitCh:
		case <-r.wake:
		case <-tc:
		}
		timer.Stop()
	}
}

// stopRequested reports whether the test must stop, and how.
func (r *Runner) stopRequested(ctx context.Context) (stopPlan, bool) {
	select {
	case <-ctx.Done():
		r.stopWith("cancelled")
		return stopPlan{}, true
	case <-r.stopCh:
		return stopPlan{timeout: r.stopTimeout(), kill: r.killed()}, true
	case <-r.limitCh:
		// the reason only: stopCh stays open, so that a Stop, Abort or
		// signal during the drain still ends it
		r.stopWhy.CompareAndSwap(nil, &r.limitWhy)
		return stopPlan{drain: true}, true
	default:
		return stopPlan{}, false
	}
}

// stopTimeout is the stop timeout for a stop by Stop: none after Abort or
// Kill.
func (r *Runner) stopTimeout() time.Duration {
	if r.aborted() != nil || r.killed() {
		return 0
	}
	return r.cfg.StopTimeout
}

// step spawns or stops the users due now. It returns when the next step is
// due (-1: none), whether the target is reached, and the live users.
func (r *Runner) step(uctx context.Context, rs *ramp, warnedFixed *bool) (next time.Duration, done bool, live int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	target, rate := r.target, r.rate
	if m := r.maxUsers(); target > m {
		if !*warnedFixed {
			r.log.Warn("only fixed-count user types: running fewer users than asked", "asked", target, "running", m)
			*warnedFixed = true
		}
		target = m
	}
	live = int(r.userCount.Load())
	if !rs.set || target != rs.target || rate != rs.rate {
		*rs = ramp{target: target, rate: rate, start: time.Now(), from: live, set: true}
	}
	total := abs(target - rs.from)
	want := total // moves due by now
	next = -1
	if rate > 0 {
		steps := int(time.Since(rs.start).Seconds() * rate)
		if want = min(total, steps+1); want < total {
			// at a high rate the next move may be due already: at once
			// (a negative wait would mean no next step at all)
			next = max(0, time.Until(rs.start.Add(time.Duration(float64(want)/rate*float64(time.Second)))))
		}
	}
	if target > rs.from {
		// users that stopped themselves meanwhile are not replaced
		r.users = slices.Grow(r.users, want-rs.moved)
		first := len(r.users)
		for ; rs.moved < want; rs.moved++ {
			r.newUserLocked(uctx)
		}
		r.startUsers(r.users[first:])
		done = rs.moved == total
	} else {
		var timed []*User
		for rs.moved < want && int(r.userCount.Load()) > target && r.retireNewestLocked(&timed) {
			rs.moved++
		}
		r.cancelAfter(timed, r.cfg.StopTimeout)
		done = rs.moved == total || int(r.userCount.Load()) <= target
	}
	r.compactLocked()
	return next, done, int(r.userCount.Load())
}

// retireNewestLocked stops the newest live user, dropping the users that
// stopped themselves on the way; false when there is none. Without a stop
// timeout its context is cancelled at once; with one, the user is added to
// timed, whose contexts the caller cancels when the timeout expires
// (cancelAfter). r.mu is held.
func (r *Runner) retireNewestLocked(timed *[]*User) bool {
	for len(r.users) > 0 {
		u := r.users[len(r.users)-1]
		r.users = r.users[:len(r.users)-1]
		r.typeCount[u.plan.typ]--
		r.retiring = append(r.retiring, u)
		if r.uncount(u) {
			if r.cfg.StopTimeout <= 0 {
				u.requestStop()
			} else if u.requestStopLater() {
				*timed = append(*timed, u)
			}
			return true
		}
	}
	return false
}

// cancelAfter cancels the contexts of users after d, with one timer for
// all of them: a ramp-down of a million users with a stop timeout makes
// one timer, not a million.
func (r *Runner) cancelAfter(users []*User, d time.Duration) {
	if len(users) == 0 {
		return
	}
	time.AfterFunc(d, func() {
		for _, u := range users {
			u.cancel(ErrUserStopped)
		}
	})
}

// compactLocked forgets the retiring users whose goroutine ended, keeping
// their task runs. r.mu is held.
func (r *Runner) compactLocked() {
	if len(r.retiring) < 64 {
		return
	}
	kept := r.retiring[:0]
	for _, u := range r.retiring {
		if u.is(userDone) {
			r.itersDone += u.iters.Load()
		} else {
			kept = append(kept, u)
		}
	}
	clear(r.retiring[len(kept):])
	r.retiring = kept
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// maxUsers is how many users the types allow (unbounded with weighted types).
func (r *Runner) maxUsers() int {
	n := 0
	for _, t := range r.types {
		if t.FixedCount == 0 {
			return int(^uint(0) >> 1)
		}
		n += t.FixedCount
	}
	return n
}

// nextType chooses the type of the next user: fixed counts first, then
// the weighted type furthest below its share.
func (r *Runner) nextType() *UserType {
	for _, t := range r.types {
		if t.FixedCount > 0 && r.typeCount[t] < t.FixedCount {
			return t
		}
	}
	var totalW, k int
	for _, t := range r.types {
		if t.FixedCount == 0 {
			totalW += t.weight()
			k += r.typeCount[t]
		}
	}
	var best *UserType
	bestDef := 0.0
	for _, t := range r.types {
		if t.FixedCount != 0 {
			continue
		}
		def := float64(t.weight())*float64(k+1)/float64(totalW) - float64(r.typeCount[t])
		if best == nil || def > bestDef {
			best, bestDef = t, def
		}
	}
	return best
}

// spawnLocked starts one user and returns it; r.mu must be held.
func (r *Runner) spawnLocked(ctx context.Context) *User {
	u := r.newUserLocked(ctx)
	go r.runUser(u)
	return u
}

// parallelSpawn is the batch from which step starts the users' goroutines
// from every core: starting a goroutine (its stack, its first run) is most
// of a user's cost, and the runtime does it on the core that asks.
const parallelSpawn = 512

// startUsers starts the goroutines of users made by newUserLocked, from
// GOMAXPROCS goroutines at once when there are many; it returns once all
// are started.
func (r *Runner) startUsers(users []*User) {
	n := min(runtime.GOMAXPROCS(0), len(users)/parallelSpawn)
	if n <= 1 {
		for _, u := range users {
			go r.runUser(u)
		}
		return
	}
	var wg sync.WaitGroup
	per := (len(users) + n - 1) / n
	for part := range slices.Chunk(users, per) {
		wg.Go(func() {
			for i, u := range part {
				go r.runUser(u)
				if i%spawnYield == spawnYield-1 {
					runtime.Gosched()
				}
			}
		})
	}
	wg.Wait()
}

// spawnYield is how many goroutines a spawner starts before it lets them
// run: a user that waits after its first task parks without its goroutine
// (sleepers.park), so a spawn that lets them run keeps few goroutines,
// and their stacks, alive at once, instead of a million queued ones.
const spawnYield = 128

// newUserLocked makes one user, counted and added to the runner, whose
// goroutine the caller starts (runUser); r.mu must be held.
func (r *Runner) newUserLocked(ctx context.Context) *User {
	t := r.nextType()
	r.nextID++
	u := &User{
		id:      int32(r.nextID),
		runner:  r,
		plan:    r.plans[t],
		heapIdx: -1,
	}
	// ctx has no cancellation (see Run): the user's context is not
	// registered with a parent, which would cost every user a map entry
	u.ctx, u.cancel = context.WithCancelCause(ctx)
	if r.cfg.MaxRequests > 0 {
		u.reqs = &reqCounter{}
	}
	r.users = append(r.users, u)
	r.typeCount[t]++
	u.set(userCounted)
	r.userCount.Add(1)
	if r.open != nil {
		u.open = r.open.newUser()
	}
	r.wg.Add(1)
	return u
}

// runUser is the first goroutine of one user. A user between two tasks of
// its root task set has no goroutine (sleepers.park): its wake-up starts
// resumeUser, which goes on where it stopped.
func (r *Runner) runUser(u *User) {
	pprof.SetGoroutineLabels(r.labels) // inherited by the goroutines user code starts (leaks.go)
	if !u.run(u.ctx) {
		r.endUser(u)
	}
}

// resumeUser is the goroutine of a user woken from a park without its
// goroutine (by its wait's end or by its stop).
func (r *Runner) resumeUser(u *User) {
	pprof.SetGoroutineLabels(r.labels)
	if !u.resume(u.ctx) {
		r.endUser(u)
	}
}

// endUser is the end of a user, on its last goroutine.
func (r *Runner) endUser(u *User) {
	defer r.wg.Done()
	if u.open != nil {
		u.dropPending()
	}
	u.cancel(ErrUserStopped)
	if !u.is(userStopping) {
		// the user stopped itself (ErrStopUser, iterations): it no
		// longer counts, and its slot is not refilled, as in Locust
		r.uncount(u)
	}
	u.returnTokens()
	u.set(userDone)
}

// uncount removes u from the running user count, once; false if it was
// not counted any more.
func (r *Runner) uncount(u *User) bool {
	if u.clear(userCounted) {
		r.userCount.Add(-1)
		return true
	}
	return false
}

// stopAll asks every user to stop, newest first, and returns every user
// whose goroutine may still run.
func (r *Runner) stopAll(plan stopPlan) []*User {
	r.mu.Lock()
	users := r.users
	r.users = nil
	clear(r.typeCount)
	// one slice for every user, newest first, kept as retiring (nothing
	// changes it once the control loop ended)
	all := make([]*User, 0, len(users)+len(r.retiring))
	for i := len(users) - 1; i >= 0; i-- {
		all = append(all, users[i])
	}
	all = append(all, r.retiring...)
	r.retiring = all
	r.mu.Unlock()
	for _, u := range users {
		r.uncount(u) // all at once: the user count drops to 0 in one go
	}
	for i := len(users) - 1; i >= 0; i-- {
		u := users[i]
		if i%spawnYield == 0 {
			runtime.Gosched() // let woken users end as they go (see spawnYield)
		}
		if plan.timeout == 0 && !plan.drain {
			u.requestStop()
		} else {
			u.requestStopLater()
		}
	}
	return all
}

// warnAtStart logs the mistakes that a test with these settings likely
// holds: no user at all, waits in nanoseconds.
func (r *Runner) warnAtStart() {
	r.mu.Lock()
	target := r.target
	r.mu.Unlock()
	if target == 0 && r.remote.get() == nil {
		r.log.Warn("the test has 0 users: it runs nothing until SetUsers asks for users")
	}
	for _, t := range r.types {
		r.plans[t].root.warnShortWaits(r.log, t)
	}
}
