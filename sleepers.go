package locust

import (
	"sync"
	"time"
)

// Waiting between tasks without a timer per user: a million users each
// holding a time.Timer (and a channel to stop it) cost hundreds of MiB.
// Instead a sleeping user parks on its wake channel, in a heap of one of a
// few shards ordered by wake time; each shard has one timer, set for its
// earliest wake time. The timer, or a stop, takes the user out of the heap
// and sends on its channel, exactly once per park. (A mutex of the user's
// own would save the channel's 96 bytes, but parking on mutexes goes
// through the runtime's semaphore tables, which cost several times more
// per wake-up with hundreds of thousands of users.)

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

// sleep parks u for d, or until it is asked to stop; false means it was
// asked to stop. Called from u's own goroutine.
func (s *sleepers) sleep(u *User, d time.Duration) bool {
	sh := s.shard(u)
	now := s.now()
	sh.mu.Lock()
	if u.is(userStopping) {
		sh.mu.Unlock()
		return false
	}
	u.wakeAt = now + int64(d)
	sh.push(u)
	if sh.heap[0] == u {
		sh.arm(s, now)
	}
	sh.mu.Unlock()
	<-u.wake
	return !u.is(userStopping)
}

// wake wakes u if it is parked (a stop: u.stopping is already set).
func (s *sleepers) wake(u *User) {
	sh := s.shard(u)
	sh.mu.Lock()
	parked := u.heapIdx >= 0
	if parked {
		sh.remove(u)
	}
	sh.mu.Unlock()
	if parked {
		u.wake <- struct{}{} // the only waker of this park: never blocks
	}
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
func (sh *sleepShard) fire(s *sleepers) {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	now := s.now()
	for len(sh.heap) > 0 && sh.heap[0].wakeAt <= now {
		u := sh.heap[0]
		sh.remove(u)
		u.wake <- struct{}{}
	}
	sh.armed = 0
	if len(sh.heap) > 0 {
		sh.arm(s, now)
	}
}

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
