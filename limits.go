package locust

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// Limits on iterations (-i) and requests (-n) without a counter shared by
// every task or request: the runner hands out the N runs or requests as
// tokens, in batches, from a pool (quota). A user takes a batch, uses its
// tokens without touching shared memory, and reports a batch to the quota
// once all its tokens are used; it gives back what it did not use when it
// stops. The limit is reached when the last of the N tokens is used, which
// is exact: never more than N task runs start.

// cacheLine is the padding that keeps a quota's counters off the cache
// lines of other fields.
const cacheLine = 64

// maxBatch is the most tokens a user takes at once. A batch is also at most
// a quarter of the pool's share per live user, so that near the end tokens
// go one at a time and no user holds many that others could use.
const maxBatch = 64

// quota hands out limit tokens in batches. Safe for concurrent use.
type quota struct {
	_     [cacheLine]byte
	pool  atomic.Int64 // tokens not handed out
	used  atomic.Int64 // tokens of batches reported as used
	dry   atomic.Bool  // the pool was found empty once (tokens may have come back since)
	limit int64        // 0: no limit
	_     [cacheLine]byte
}

func (q *quota) init(limit int64) {
	q.limit = limit
	q.pool.Store(limit)
}

// grab takes a batch of tokens for one of users live users; 0 means the
// pool is empty.
func (q *quota) grab(users int64) int64 {
	for {
		p := q.pool.Load()
		if p <= 0 {
			q.dry.Store(true)
			return 0
		}
		b := min(max(p/(4*max(users, 1)), 1), maxBatch)
		if q.pool.CompareAndSwap(p, p-b) {
			return b
		}
	}
}

// give returns n unused tokens to the pool.
func (q *quota) give(n int64) {
	if n > 0 {
		q.pool.Add(n)
	}
}

// use reports n tokens as used; it is true once all limit tokens are used.
func (q *quota) use(n int64) bool {
	if n <= 0 {
		return false
	}
	return q.used.Add(n) >= q.limit
}

// takeIteration counts one task run; false means the iteration or request
// limit is reached and the user must stop: no new task starts then. It is
// called from the user's own goroutine only.
func (u *User) takeIteration(ctx context.Context) bool {
	r := u.runner
	if r.limitHit.Load() {
		return false
	}
	if c := u.reqs; c != nil && c.n.Load() >= c.mark.Load() && !u.awaitRequests(ctx, c) {
		return false
	}
	if q := &r.iterQuota; q.limit > 0 {
		if u.itTok == 0 {
			b := u.grabIterations(ctx, q)
			if b == 0 {
				return false
			}
			u.itTok, u.itHeld = int32(b), int32(b)
		}
		u.itTok--
		if u.itTok == 0 {
			held := u.itHeld
			u.itHeld = 0
			if q.use(int64(held)) {
				r.limitReached("iterations")
			}
		}
	}
	u.iters.Add(1)
	return true
}

// pollDry is how often a user with no runs or requests left first looks
// whether another user gave some back (stopping with them in hand) while
// the pool is dry; it waits twice as long each time, up to pollDryMax.
const (
	pollDry    = 2 * time.Millisecond
	pollDryMax = 100 * time.Millisecond
)

// awaitTokens waits, with a growing poll interval, until ready, the quota
// is used up, the limit is reached or the user stops; it is true when
// ready.
func (u *User) awaitTokens(ctx context.Context, q *quota, ready func() bool) bool {
	r := u.runner
	for wait := pollDry; ; wait = min(2*wait, pollDryMax) {
		if ready() {
			return true
		}
		if q.used.Load() >= q.limit || r.limitHit.Load() || !u.sleep(ctx, wait) {
			return false
		}
	}
}

// grabIterations takes a batch of task runs. When the pool is dry but not
// all runs are used yet (other users hold some and may stop without using
// them), it waits for runs given back, the limit or the user's stop; 0
// means the user must stop.
func (u *User) grabIterations(ctx context.Context, q *quota) int64 {
	var b int64
	u.awaitTokens(ctx, q, func() bool {
		b = q.grab(u.runner.userCount.Load())
		return b > 0
	})
	return b
}

// awaitRequests is called before a task run when every request granted to
// the user was recorded. While the pool has requests, the run goes ahead
// (its first request takes a batch). When the pool is dry, the user waits
// for requests given back by users that stop with some in hand (a
// ramp-down), the limit or its stop; false means the user must stop.
func (u *User) awaitRequests(ctx context.Context, c *reqCounter) bool {
	q := &u.runner.reqQuota
	return u.awaitTokens(ctx, q, func() bool {
		if q.pool.Load() > 0 || c.n.Load() < c.mark.Load() {
			return true
		}
		q.dry.Store(true)
		return false
	})
}

// returnTokens settles the user's tokens when its goroutine ends: the used
// ones are reported, the others go back to the pool. When the pool ran dry
// and the last user stopped itself (ErrStopUser: its slot is not refilled),
// no user is left to use what comes back and the limit counts as reached.
// A ramp-down to 0 users is not that: a shape may ramp up again, and the
// test goes on.
func (u *User) returnTokens() {
	r := u.runner
	last := !u.is(userStopping) && r.userCount.Load() == 0
	if q := &r.iterQuota; q.limit > 0 {
		used := int64(u.itHeld - u.itTok)
		q.give(int64(u.itTok))
		u.itTok, u.itHeld = 0, 0
		if q.use(used) || (last && q.dry.Load()) {
			r.limitReached("iterations")
		}
	}
	if c := u.reqs; c != nil {
		q := &r.reqQuota
		if c.settle(q) || (last && q.dry.Load()) {
			r.limitReached("requests")
		}
	}
}

// reqCounter counts one user's requests against Config.MaxRequests. Safe
// for concurrent use (a task may record from several goroutines); the fast
// path is one atomic add and one load, on the user's own memory.
type reqCounter struct {
	n       atomic.Int64 // requests recorded by the user
	mark    atomic.Int64 // tokens granted to the user so far
	mu      sync.Mutex   // guards the slow path and flushed
	flushed int64        // tokens reported to the quota as used
}

// count counts one request.
func (c *reqCounter) count(r *Runner) {
	n := c.n.Add(1)
	if n < c.mark.Load() {
		return
	}
	c.slow(r, n)
}

// slow handles a request that uses the last token granted (n == mark) or
// goes past it (n > mark). Every granted token is then used and is reported
// as such; past the grant a new batch is taken. A request recorded while the
// pool was dry goes past the grant without a token (past the limit, tasks
// already running may finish); tokens that come back later (a ramp-down)
// are taken for it first, so that every granted token is reported used
// once the user's requests pass it.
func (c *reqCounter) slow(r *Runner, n int64) {
	q := &r.reqQuota
	c.mu.Lock()
	defer c.mu.Unlock()
	for {
		m := c.mark.Load()
		if n < m {
			return
		}
		if m > c.flushed {
			reached := q.use(m - c.flushed)
			c.flushed = m
			if reached {
				r.limitReached("requests")
			}
		}
		if n == m {
			return
		}
		b := q.grab(r.userCount.Load())
		if b == 0 {
			return
		}
		c.mark.Store(m + b)
	}
}

// settle reports the used tokens and gives back the others; it is true
// when that used the last of the limit's tokens.
func (c *reqCounter) settle(q *quota) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	n, m := c.n.Load(), c.mark.Load()
	used := min(n, m)
	if m > n {
		q.give(m - n)
		c.mark.Store(n)
	}
	reached := q.use(used - c.flushed)
	c.flushed = used
	return reached
}
