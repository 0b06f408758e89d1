package locust

import (
	"context"
	"errors"
	"fmt"
	"math"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// The open model (Config.ArrivalRate): iterations start on a schedule, each
// run by a free user of a pool bounded by Config.MaxUsers; when no user is
// free the iteration is dropped (Snapshot.Dropped), or, with
// Config.ArrivalWait, waits for one in a queue that long at most
// (Snapshot.Late counts those that started late). Each request of an
// iteration carries the lateness of the iteration's start (wrk2's
// correction of coordinated omission); the requests' own times are kept in
// Runner.ServiceStats.

// openModel is the state of an open-model run.
type openModel struct {
	free chan *User    // idle users of the pool (capacity: the pool's bound)
	done chan struct{} // closed when the schedule ends: idle users return
	max  int           // the pool's bound
	made int           // users made so far (control loop only)

	// the iteration a user being spawned is made for (Runner.mu held)
	first    int64
	hasFirst bool

	// Config.ArrivalWait: iterations waiting for a free user, oldest first
	// (intended starts, ns after the sleepers' epoch; pacer only)
	wait    time.Duration
	backlog []int64

	mu   sync.Mutex
	plan schedule // the schedule from plan[0].t0 on, replaced whole
}

// rateSegment is a piecewise-linear arrival rate from t0 (seconds after
// the start of the run): r0 at t0, changing linearly by slope per second
// for dur seconds, then r1 for ever. acc is how many iterations were due
// (as a real number) from the start of the run up to t0.
type rateSegment struct {
	t0, acc, r0, slope, dur, r1 float64
}

// count is how many iterations are due (as a real number) from the start
// of the run up to t seconds (t >= t0).
func (s rateSegment) count(t float64) float64 {
	tau := t - s.t0
	if tau <= s.dur {
		return s.acc + s.r0*tau + s.slope*tau*tau/2
	}
	return s.acc + s.r0*s.dur + s.slope*s.dur*s.dur/2 + s.r1*(tau-s.dur)
}

// rate is the arrival rate at t seconds (t >= t0).
func (s rateSegment) rate(t float64) float64 {
	if tau := t - s.t0; tau < s.dur {
		return s.r0 + s.slope*tau
	}
	return s.r1
}

// due is when (seconds after the start of the run) iteration k (counting
// from 0) is due: the first time count reaches k. ok is false when it never
// is (the rate stays 0).
func (s rateSegment) due(k float64) (at float64, ok bool) {
	need := k - s.acc
	if need <= 0 {
		return s.t0, true
	}
	if s.dur > 0 {
		var tau float64
		switch {
		case s.slope == 0:
			tau = math.Inf(1)
			if s.r0 > 0 {
				tau = need / s.r0
			}
		default:
			d := s.r0*s.r0 + 2*s.slope*need
			tau = math.Inf(1)
			if d >= 0 {
				tau = (-s.r0 + math.Sqrt(d)) / s.slope
			}
			if tau < 0 {
				tau = math.Inf(1)
			}
		}
		if tau <= s.dur {
			return s.t0 + tau, true
		}
		need -= s.r0*s.dur + s.slope*s.dur*s.dur/2
	}
	if s.r1 <= 0 {
		return 0, false
	}
	return s.t0 + s.dur + need/s.r1, true
}

// openUser is what a user of the open model has besides a User: one
// pointer in User, so that closed-model users stay small.
type openUser struct {
	iterCh   chan int64               // intended starts of its iterations
	intended atomic.Int64             // intended start of the running iteration (0: none)
	late     atomic.Int64             // how late the running iteration started, ns (0: on time)
	srec     atomic.Pointer[Recorder] // of Runner.ServiceStats, made at its first request
}

// schedule is a piecewise-linear arrival rate: segments in order, each
// from its t0 to the next one's.
type schedule []rateSegment

// at returns the segment in force at t seconds (t >= s[0].t0).
func (s schedule) at(t float64) rateSegment {
	i := len(s) - 1
	for i > 0 && s[i].t0 > t {
		i--
	}
	return s[i]
}

// due is when iteration k is due (see rateSegment.due); ok is false when it
// never is.
func (s schedule) due(k float64) (at float64, ok bool) {
	for i, seg := range s {
		at, ok = seg.due(k)
		if i == len(s)-1 || (ok && at < s[i+1].t0) {
			return at, ok
		}
	}
	return 0, false
}

// overdue is how many iterations from k on are due by now (seconds after
// the start) and before limit (0: none).
func (s schedule) overdue(k, now, limit float64) int64 {
	var n int64
	for ; ; k++ {
		at, ok := s.due(k)
		if !ok || at > now || (limit > 0 && at >= limit) {
			return n
		}
		n++
	}
}

// ArrivalStage is one stage of Runner.SetArrivalStages: ramp the rate
// linearly to Target iterations per second over Duration (0: at once).
type ArrivalStage struct {
	Duration time.Duration
	Target   float64
}

// SetArrivalStages makes the arrival rate of an open-model test follow
// stages from now (or from the start, when called before Run): each ramps
// linearly from the rate before it to its target over its duration, and
// after the last one the rate is 0 (no more iteration is due; the caller
// stops the test). The schedule is exact: started + dropped is the
// integral of the rate (±1). Errors as SetArrivalRate's. Safe for
// concurrent use.
func (r *Runner) SetArrivalStages(stages []ArrivalStage) error {
	o := r.open
	if o == nil {
		return errors.New("SetArrivalStages needs an open-model runner (Config.ArrivalRate above 0)")
	}
	for i, st := range stages {
		if st.Target < 0 || math.IsNaN(st.Target) || math.IsInf(st.Target, 0) || st.Duration < 0 {
			return fmt.Errorf("arrival stage %d: want a rate at least 0 and a duration at least 0, not %g over %s", i+1, st.Target, st.Duration)
		}
	}
	r.changeRate(func(cur rateSegment, t float64) schedule {
		plan := make(schedule, 0, len(stages)+1)
		from, acc := cur.rate(t), cur.count(t)
		for _, st := range stages {
			seg := rateSegment{t0: t, acc: acc, r0: from, r1: st.Target}
			if d := st.Duration.Seconds(); d > 0 {
				seg.dur, seg.slope = d, (st.Target-from)/d
			} else {
				seg.r0 = st.Target
			}
			plan = append(plan, seg)
			t += seg.dur
			acc, from = seg.count(t), st.Target
		}
		return append(plan, rateSegment{t0: t, acc: acc})
	})
	return nil
}

// changeRate replaces the schedule from now on with what next makes of the
// segment in force now and the time now (seconds after the start).
func (r *Runner) changeRate(next func(cur rateSegment, t float64) schedule) {
	o := r.open
	t := 0.0
	if st := r.StartTime(); !st.IsZero() {
		t = time.Since(st).Seconds()
	}
	o.mu.Lock()
	t = max(t, o.plan[0].t0)
	o.plan = next(o.plan.at(t), t)
	o.mu.Unlock()
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// SetArrivalRate changes the arrival rate of an open-model test
// (Config.ArrivalRate) to rate iterations per second, linearly over the
// given duration (0: at once); iterations keep starting on the exact
// schedule of the changing rate. It is an error for a closed-model runner
// (Config.ArrivalRate 0), for a negative rate or duration. Safe for
// concurrent use; it may be called before Run.
func (r *Runner) SetArrivalRate(rate float64, over time.Duration) error {
	o := r.open
	if o == nil {
		return errors.New("SetArrivalRate needs an open-model runner (Config.ArrivalRate above 0)")
	}
	if rate < 0 || math.IsNaN(rate) || math.IsInf(rate, 0) {
		return fmt.Errorf("arrival rate must be at least 0, not %g", rate)
	}
	if over < 0 {
		return fmt.Errorf("arrival rate change must take at least 0s, not %s", over)
	}
	r.changeRate(func(cur rateSegment, t float64) schedule {
		seg := rateSegment{t0: t, acc: cur.count(t), r0: cur.rate(t), r1: rate}
		if over > 0 {
			seg.dur = over.Seconds()
			seg.slope = (rate - seg.r0) / seg.dur
		} else {
			seg.r0 = rate
		}
		return schedule{seg}
	})
	return nil
}

// ArrivalRate is the open model's arrival rate now (iterations per second),
// 0 for a closed-model runner. Safe for concurrent use.
func (r *Runner) ArrivalRate() float64 {
	o := r.open
	if o == nil {
		return 0
	}
	t := 0.0
	if st := r.StartTime(); !st.IsZero() {
		t = time.Since(st).Seconds()
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	t = max(t, o.plan[0].t0)
	return o.plan.at(t).rate(t)
}

// ServiceStats is the open model's statistics of service times: the same
// requests as Stats, timed from their actual start instead of their
// iteration's intended start (nil for a closed-model runner). Safe for
// concurrent use.
func (r *Runner) ServiceStats() *Stats { return r.service }

// openPreciseLead is how long before an iteration's intended start the
// pacer stops waiting on a timer and sleeps precisely (sleepPrecise): more
// than a Go timer's lateness when the process is idle (up to 1 ms).
const openPreciseLead = 2 * time.Millisecond

// openControl runs the open model's schedule until the test must stop; it
// returns how the users stop. start is the run's start; uctx is the users'
// context.
func (r *Runner) openControl(ctx, uctx context.Context, start time.Time) stopPlan {
	o := r.open
	defer close(o.done)
	r.state.Store(int32(StateRunning))
	r.events.SpawningComplete.fire(0)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	// epoch offset of the run's start, for the intended starts of iterations
	base := int64(start.Sub(r.sleepers.epoch))
	k := 0.0 // the next iteration
	// the iterations due within the run time, whenever its timer fires
	limit := r.cfg.RunTime.Seconds()
	for {
		o.mu.Lock()
		seg := o.plan
		o.mu.Unlock()
		now := time.Since(start).Seconds()
		if plan, stop := r.stopRequested(ctx); stop {
			// iterations due before the stop that the pacer had not
			// handed out yet (it was late: a stall of the process), or
			// that still waited for a free user, were due and not
			// started: dropped, so that started + dropped is every
			// iteration due up to the stop
			r.stats.RecordDropped(seg.overdue(k, now, limit) + int64(len(o.backlog)))
			o.backlog = o.backlog[:0]
			return plan
		}
		r.serveBacklog()
		next, handed := -1.0, false
		for {
			at, ok := seg.due(k)
			if !ok || (limit > 0 && at >= limit) {
				break
			}
			if at > now {
				next = at
				break
			}
			r.dispatch(uctx, base+int64(at*1e9))
			k++
			handed = true
		}
		var tc <-chan time.Time
		if next >= 0 {
			// Each iteration starts at its own intended start, not in a
			// batch at a timer's tick: a Go timer wakes up to 1 ms late
			// (the runtime's poll) when the process is idle, so it only
			// brings the pacer to within openPreciseLead of the next
			// start, and a nanosleep of the thread does the rest. Before
			// that sleep the pacer yields, so that the iteration it just
			// handed out runs on this P now (instead of another thread
			// waking to steal it while this one sleeps in a system call).
			at := start.Add(time.Duration(next * 1e9))
			wait := time.Until(at)
			if wait <= openPreciseLead {
				if handed {
					runtime.Gosched()
					wait = time.Until(at)
				}
				sleepPrecise(wait)
				continue
			}
			timer.Reset(wait - openPreciseLead)
			tc = timer.C
		}
		var freeCh chan *User
		if len(o.backlog) > 0 {
			// wake for a user that becomes free, or when the oldest
			// waiting iteration has waited its limit
			freeCh = o.free
			expire := r.sleepers.epoch.Add(time.Duration(o.backlog[0]) + o.wait)
			if tc == nil || time.Until(expire) < time.Until(start.Add(time.Duration(next*1e9)))-openPreciseLead {
				timer.Reset(max(time.Until(expire), 0))
				tc = timer.C
			}
		}
		select {
		case <-ctx.Done():
		case <-r.stopCh:
		case <-r.limitCh:
		case <-r.wake:
		case <-tc:
		case u := <-freeCh:
			r.startLate(u, o.backlog[0])
			o.backlog = o.backlog[1:]
		}
		timer.Stop()
	}
}

// dispatch starts the iteration due at (ns after the sleepers' epoch) on a
// free user, a new one while the pool has room, or counts it as dropped.
func (r *Runner) dispatch(uctx context.Context, at int64) {
	o := r.open
	if len(o.backlog) == 0 { // else it waits its turn behind the others
		select {
		case u := <-o.free:
			u.open.iterCh <- at // the user is idle: never blocks
			return
		default:
		}
	}
	if o.made >= o.max {
		if o.wait > 0 {
			o.backlog = append(o.backlog, at)
			return
		}
		r.stats.RecordDropped(1)
		return
	}
	o.made++
	r.mu.Lock()
	o.first, o.hasFirst = at, true
	r.spawnLocked(uctx) // the user starts with the iteration (newUser)
	r.mu.Unlock()
}

// serveBacklog drops the waiting iterations (Config.ArrivalWait) that
// waited their limit, and hands the others, oldest first, to the users
// that are free.
func (r *Runner) serveBacklog() {
	o := r.open
	if len(o.backlog) == 0 {
		return
	}
	now := r.sleepers.now()
	expired := 0
	for expired < len(o.backlog) && now-o.backlog[expired] > int64(o.wait) {
		expired++
	}
	if expired > 0 {
		r.stats.RecordDropped(int64(expired))
		o.backlog = o.backlog[expired:]
	}
	for len(o.backlog) > 0 {
		select {
		case u := <-o.free:
			r.startLate(u, o.backlog[0])
			o.backlog = o.backlog[1:]
		default:
			return
		}
	}
}

// startLate hands u (free) an iteration that waited for it.
func (r *Runner) startLate(u *User, at int64) {
	r.stats.RecordLate(1)
	u.open.iterCh <- at // the user is idle: never blocks
}

// newUser makes the open-model part of a user being spawned, holding the
// iteration it is spawned for: handed over before its goroutine starts, so
// that a user that ends at once (ErrStopUser in OnStart) still finds it and
// counts it as dropped (a send after the start could come after that
// check, and the iteration would be lost). Runner.mu is held.
func (o *openModel) newUser() *openUser {
	ou := &openUser{iterCh: make(chan int64, 1)}
	if o.hasFirst {
		ou.iterCh <- o.first
		o.hasFirst = false
	}
	return ou
}

// dropPending counts as dropped the iteration handed to a user that
// ends without running it (it stopped itself in OnStart, or the test
// ended), so that started + dropped is every iteration that was due.
func (u *User) dropPending() {
	select {
	case <-u.open.iterCh:
		u.runner.stats.RecordDropped(1)
	default:
	}
}

// runOpen is the loop of an open-model user: it runs one task pick per
// iteration handed to it, timed from the iteration's intended start, then
// goes back to the pool, until the schedule ends or it is stopped.
func (u *User) runOpen(ctx context.Context) {
	o := u.runner.open
	for seq := 0; ; seq++ {
		var at int64
		select {
		case at = <-u.open.iterCh:
		case <-o.done:
			return
		case <-ctx.Done():
			return
		}
		if u.stopped(ctx) || !u.takeIteration(ctx) {
			u.runner.stats.RecordDropped(1) // due, handed out, not run
			return
		}
		c, root := u.plan.root, true
		t := &c.tasks[c.pick(seq)]
		for t.set != nil {
			c, root = t.set, false
			t = &c.tasks[c.pick(seq)]
		}
		u.lastStart = max(u.runner.sleepers.now(), 1)
		u.open.late.Store(max(u.lastStart-at, 0))
		u.open.intended.Store(max(at, 1))
		res, leave := u.runTask(ctx, t, root)
		u.open.intended.Store(0)
		if leave && res == setStopped {
			return // ErrStopUser: the user leaves the pool for good
		}
		o.free <- u // at most max users: never blocks
	}
}

// intendedStart is the intended start of the open-model iteration the user
// runs (ns after the sleepers' epoch), 0 for none or a closed-model user.
func (u *User) intendedStart() int64 {
	if o := u.open; o != nil {
		return o.intended.Load()
	}
	return 0
}

// recordOpen records req of the user's running open-model iteration: in
// ServiceStats as measured, in Stats
// with the iteration's lateness (its actual start less its intended start)
// added, as if it had started on time and waited that long (wrk2's
// correction). Each request of an iteration carries the same lateness: the
// second request's time is not counted again in it.
func (r *Runner) recordOpen(u *User, req *Request) {
	if req.Start.IsZero() {
		req.Start = time.Now().Add(-req.Duration)
	}
	u.serviceRecorder().record(req)
	if late := time.Duration(u.open.late.Load()); late > 0 && req.Duration >= 0 {
		req.Duration += late
		req.Start = req.Start.Add(-late)
	}
	u.recorder().record(req)
}

// serviceRecorder returns the user's Recorder of ServiceStats, made at its
// first request.
func (u *User) serviceRecorder() *Recorder {
	if rc := u.open.srec.Load(); rc != nil {
		return rc
	}
	rc := u.runner.service.Recorder()
	if u.open.srec.CompareAndSwap(nil, &rc) {
		return &rc
	}
	return u.open.srec.Load()
}
