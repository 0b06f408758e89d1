package locust

import (
	"runtime"
	"sync"
	"time"
)

// Waiting between tasks without a timer per user: a million users each
// holding a time.Timer (and a channel to stop it) cost hundreds of MiB.
// Instead a sleeping user waits in a heap of one of a few shards ordered by
// wake time; each shard has one timer, set for its earliest wake time. The
// timer, or a stop, takes the user out of the heap, exactly once per park,
// and wakes it in one of two ways:
//
//   - a user waiting between two tasks of its root task set (most waits)
//     has no goroutine while it waits (park): its goroutine returned, and
//     the wake-up starts a new one (Runner.resumeUser). A million waiting
//     users cost a million small heap records, not a million stacks.
//   - a user waiting with something on its goroutine's stack (a nested task
//     set's wait, a wait for a request quota) blocks on its wake channel
//     (sleep), to which the wake-up sends. (A mutex of the user's own would
//     save the channel's 96 bytes, but parking on mutexes goes through the
//     runtime's semaphore tables, which cost several times more per wake-up
//     with hundreds of thousands of users.)

// sleepShards is the number of heaps; users are spread over them by id so
// that users parking at once rarely take the same lock.
const sleepShards = 16

// sleepers are the shards of one runner.
type sleepers struct {
	epoch  time.Time // the monotonic time base of wake times
	shards [sleepShards]sleepShard
}

// sleepShard is one heap of sleeping users. Its fields are guarded by mu.
type sleepShard struct {
	mu    sync.Mutex
	heap  []*User // by User.wakeAt
	timer *time.Timer
	armed int64 // wake time the timer is set for; 0: not set
	_     [cacheLine]byte
}

func (s *sleepers) now() int64 { return int64(time.Since(s.epoch)) }

func (s *sleepers) shard(u *User) *sleepShard { return &s.shards[uint32(u.id)%sleepShards] }

// sleep parks u's goroutine for d, or until it is asked to stop; false
// means it was asked to stop. Called from u's own goroutine.
func (s *sleepers) sleep(u *User, d time.Duration) bool {
	if u.wake == nil {
		u.wake = make(chan struct{}, 1) // read by wakers under sh.mu, after the push below
	}
	if !s.push(u, d, false) {
		return false
	}
	<-u.wake
	return !u.is(userStopping)
}

// park parks u for d without its goroutine, or reports false if it is
// asked to stop. After true the caller's goroutine must return at once
// without touching u: the wake-up starts Runner.resumeUser for it.
func (s *sleepers) park(u *User, d time.Duration) bool { return s.push(u, d, true) }

// push puts u in its shard's heap to wake after d, detached or not; false
// if it is asked to stop.
func (s *sleepers) push(u *User, d time.Duration, detached bool) bool {
	sh := s.shard(u)
	now := s.now()
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if u.is(userStopping) {
		return false
	}
	if detached {
		u.set(userDetached)
	}
	u.wakeAt = now + int64(d)
	sh.push(u)
	if sh.heap[0] == u {
		sh.arm(s, now)
	}
	return true
}

// wake wakes u if it is parked (a stop: u.stopping is already set). A
// user parked without its goroutine and without an OnStop to run (its
// type's or its root set's) ends here, with no goroutine started for it:
// stopping a million waiting users starts no million goroutines.
func (s *sleepers) wake(u *User) {
	sh := s.shard(u)
	sh.mu.Lock()
	parked := u.heapIdx >= 0
	ended := false
	if parked {
		sh.remove(u)
		if ended = u.is(userDetached) && u.plan.noOnStop && u.is(userStopping) && u.clear(userDetached); !ended {
			wakeUp(u)
		}
	}
	sh.mu.Unlock()
	if ended {
		u.runner.endUser(u)
	}
}

// wakeUp wakes u, just taken out of its heap by the caller: the only
// waker of this park.
func wakeUp(u *User) {
	if u.clear(userDetached) {
		go u.runner.resumeUser(u)
		return
	}
	u.wake <- struct{}{} // never blocks
}

// arm sets the shard's timer for its earliest wake time, if sooner than
// what it is set for. sh.mu is held.
func (sh *sleepShard) arm(s *sleepers, now int64) {
	at := sh.heap[0].wakeAt
	if sh.armed != 0 && sh.armed <= at {
		return
	}
	sh.armed = at
	d := time.Duration(at - now)
	if sh.timer == nil {
		sh.timer = time.AfterFunc(d, func() { sh.fire(s) })
		return
	}
	sh.timer.Reset(d)
}

// fire wakes the users whose time has come and sets the timer for the next.
// It wakes them in batches, out of the lock and letting them run between
// batches: a burst of users due at once (a million spawned in a second)
// then go on and park again as they are woken, instead of piling up as a
// million new goroutines blocked on the lock this loop holds.
func (sh *sleepShard) fire(s *sleepers) {
	var due [fireBatch]*User
	for {
		sh.mu.Lock()
		now := s.now()
		n := 0
		for n < len(due) && len(sh.heap) > 0 && sh.heap[0].wakeAt <= now {
			due[n] = sh.heap[0]
			sh.remove(due[n])
			n++
		}
		more := len(sh.heap) > 0 && sh.heap[0].wakeAt <= now
		if !more {
			// while more are due, armed stays at a time past, so that
			// a user parking meanwhile leaves the timer to this loop
			sh.armed = 0
			if len(sh.heap) > 0 {
				sh.arm(s, now)
			}
		}
		sh.mu.Unlock()
		for i, u := range due[:n] {
			wakeUp(u) // out of the heap: this is its only waker
			due[i] = nil
		}
		if !more {
			return
		}
		runtime.Gosched()
	}
}

// fireBatch is how many users fire wakes before it lets them run.
const fireBatch = 64

// stop stops the shards' timers (every user has ended).
func (s *sleepers) stop() {
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		if sh.timer != nil {
			sh.timer.Stop()
		}
		sh.armed = 0
		sh.mu.Unlock()
	}
}

// The heap: a binary min-heap on wakeAt, each user knowing its index.

func (sh *sleepShard) push(u *User) {
	u.heapIdx = int32(len(sh.heap))
	sh.heap = append(sh.heap, u)
	sh.up(int(u.heapIdx))
}

func (sh *sleepShard) remove(u *User) {
	i, last := int(u.heapIdx), len(sh.heap)-1
	if i != last {
		sh.swap(i, last)
	}
	sh.heap[last] = nil
	sh.heap = sh.heap[:last]
	u.heapIdx = -1
	if i != last {
		sh.down(i)
		sh.up(i)
	}
	if cap(sh.heap) > 1024 && len(sh.heap) < cap(sh.heap)/4 {
		sh.heap = append([]*User(nil), sh.heap...) // give back a drained heap
	}
}

func (sh *sleepShard) swap(i, j int) {
	h := sh.heap
	h[i], h[j] = h[j], h[i]
	h[i].heapIdx, h[j].heapIdx = int32(i), int32(j)
}

func (sh *sleepShard) up(i int) {
	for i > 0 {
		p := (i - 1) / 2
		if sh.heap[p].wakeAt <= sh.heap[i].wakeAt {
			return
		}
		sh.swap(i, p)
		i = p
	}
}

func (sh *sleepShard) down(i int) {
	n := len(sh.heap)
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		m := l
		if r := l + 1; r < n && sh.heap[r].wakeAt < sh.heap[l].wakeAt {
			m = r
		}
		if sh.heap[i].wakeAt <= sh.heap[m].wakeAt {
			return
		}
		sh.swap(i, m)
		i = m
	}
}
