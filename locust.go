package locust

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// Version is the version of this library, printed by --version.
const Version = "0.1.0"

// Config is what a Runner runs. The zero value runs one user at once until
// stopped.
type Config struct {
	// Host overrides the Host of every user type when set.
	Host string
	// Users is the number of users to run; 0 means 1.
	Users int
	// SpawnRate is how many users start (or stop) per second, evenly spread;
	// 0 means all at once.
	SpawnRate float64
	// RunTime stops the test after this long (0: no limit).
	RunTime time.Duration
	// Iterations stops the test after this many task runs across all users
	// (0: no limit). Running tasks finish; no new task starts.
	Iterations int64
	// MaxRequests stops the test once this many requests were recorded
	// (0: no limit); the old Locust -n. Once it is reached no new task
	// starts, so tasks already running may add at most a few more.
	MaxRequests int64
	// StopTimeout lets running tasks finish for up to this long when users
	// stop; 0 cancels their context at once (Locust's default).
	StopTimeout time.Duration
	// Tags keeps only the tasks with at least one of these tags.
	Tags []string
	// ExcludeTags removes the tasks with any of these tags.
	ExcludeTags []string
	// ResetStats resets the statistics when spawning completes.
	ResetStats bool
	// Stats configures the statistics engine.
	Stats StatsOptions
	// Logger receives the runner's log; nil means slog.Default().
	Logger *slog.Logger
	// Node names this process in the exceptions table; "" means "local".
	Node string
}

// State is the state of a Runner.
type State int32

// The states of a Runner, in the order they happen.
const (
	StateReady State = iota
	StateSpawning
	StateRunning
	StateStopping
	StateStopped
)

// String returns Locust's name of the state.
func (s State) String() string {
	switch s {
	case StateReady:
		return "ready"
	case StateSpawning:
		return "spawning"
	case StateRunning:
		return "running"
	case StateStopping:
		return "stopping"
	case StateStopped:
		return "stopped"
	}
	return fmt.Sprintf("State(%d)", int32(s))
}

// Runner runs one load test: it spawns users of the given types, stops
// them, and owns the test's statistics and events. Every method is safe for
// concurrent use. A Runner runs one test (Run once); make a new one for the
// next.
type Runner struct {
	cfg      Config
	types    []*UserType
	compiled map[*UserType]*compiledSet
	stats    *Stats
	events   Events
	log      *slog.Logger

	state atomic.Int32

	mu         sync.Mutex
	users      []*User // in spawn order
	typeCount  map[*UserType]int
	target     int
	rate       float64
	wake       chan struct{}
	nextID     int
	wg         sync.WaitGroup
	start, end time.Time
	sharedMu   sync.Mutex
	shared     map[any]any

	monitor   loadMonitor
	monWindow time.Duration
	iters     atomic.Int64
	reqs      atomic.Int64
	userCount atomic.Int64

	stopOnce  sync.Once
	stopCh    chan struct{}
	limitOnce sync.Once
	limitCh   chan struct{} // iterations or requests exhausted
	stopWhy   atomic.Pointer[string]
	abortErr  atomic.Pointer[error]
}

// NewRunner checks the user types and returns a Runner for them. Every
// mistake in the definitions (no tasks, a bad weight, a nil function, a
// type left with no task by the tags) is reported here, before any user
// starts.
func NewRunner(cfg Config, types ...*UserType) (*Runner, error) {
	var errs []error
	if len(types) == 0 {
		errs = append(errs, errors.New("no user types"))
	}
	names := map[string]bool{}
	for _, t := range types {
		if t == nil {
			errs = append(errs, errors.New("nil user type"))
			continue
		}
		if err := t.validate(); err != nil {
			errs = append(errs, err)
		}
		if names[t.Name] && t.Name != "" {
			errs = append(errs, fmt.Errorf("user type %q is defined twice", t.Name))
		}
		names[t.Name] = true
	}
	if cfg.Users < 0 {
		errs = append(errs, fmt.Errorf("users must be at least 0, not %d", cfg.Users))
	}
	if cfg.SpawnRate < 0 {
		errs = append(errs, fmt.Errorf("spawn rate must be at least 0, not %g", cfg.SpawnRate))
	}
	if cfg.RunTime < 0 {
		errs = append(errs, fmt.Errorf("run time must be at least 0, not %s", cfg.RunTime))
	}
	if cfg.Iterations < 0 {
		errs = append(errs, fmt.Errorf("iterations must be at least 0, not %d", cfg.Iterations))
	}
	if cfg.MaxRequests < 0 {
		errs = append(errs, fmt.Errorf("max requests must be at least 0, not %d", cfg.MaxRequests))
	}
	if cfg.StopTimeout < 0 {
		errs = append(errs, fmt.Errorf("stop timeout must be at least 0, not %s", cfg.StopTimeout))
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	r := &Runner{
		cfg:       cfg,
		types:     types,
		compiled:  map[*UserType]*compiledSet{},
		log:       cfg.Logger,
		typeCount: map[*UserType]int{},
		wake:      make(chan struct{}, 1),
		stopCh:    make(chan struct{}),
		limitCh:   make(chan struct{}),
		shared:    map[any]any{},
		monWindow: monitorWindow,
	}
	if r.log == nil {
		r.log = slog.Default()
	}
	f := tagFilter{include: cfg.Tags, exclude: cfg.ExcludeTags}
	for _, t := range types {
		c := t.Tasks.compile(f, t.Tags)
		if c == nil {
			errs = append(errs, fmt.Errorf("user type %q has no tasks left after filtering by tags", t.Name))
			continue
		}
		r.compiled[t] = c
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	so := cfg.Stats
	if so.Logger == nil {
		so.Logger = r.log // the many-names warning reaches the console
	}
	r.stats = NewStats(so)
	r.events.setPanicHandler(func(msg, stack string) { r.stats.RecordException(msg, stack, cfg.Node) })
	r.target = cfg.Users
	if r.target == 0 {
		r.target = 1
	}
	r.rate = cfg.SpawnRate
	return r, nil
}

// Config returns the configuration the runner was made with.
func (r *Runner) Config() Config { return r.cfg }

// UserTypes returns the user types of the runner.
func (r *Runner) UserTypes() []*UserType { return append([]*UserType(nil), r.types...) }

// Stats is the runner's statistics engine.
func (r *Runner) Stats() *Stats { return r.stats }

// Events is the runner's event bus; add listeners before calling Run.
func (r *Runner) Events() *Events { return &r.events }

// State is the runner's current state.
func (r *Runner) State() State { return State(r.state.Load()) }

// UserCount is the number of running users.
func (r *Runner) UserCount() int { return int(r.userCount.Load()) }

// UserCounts returns the number of running users of each type, by name
// (types with none running are left out). Like UserCount, it does not count
// users that stopped themselves (ErrStopUser).
func (r *Runner) UserCounts() map[string]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	m := make(map[string]int, len(r.typeCount))
	for _, u := range r.users {
		if u.counted.Load() {
			m[u.typ.Name]++
		}
	}
	return m
}

// StartTime is when Run started (zero before).
func (r *Runner) StartTime() time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.start
}

// EndTime is when the test stopped (zero while it runs).
func (r *Runner) EndTime() time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.end
}

// Iterations is the number of task runs started so far (never more than
// Config.Iterations when that is set).
func (r *Runner) Iterations() int64 {
	n := r.iters.Load()
	if lim := r.cfg.Iterations; lim > 0 && n > lim {
		return lim // refused takes count too, but did not run
	}
	return n
}

// Snapshot returns the current statistics with the user count.
func (r *Runner) Snapshot() *Snapshot {
	s := r.stats.Snapshot()
	s.UserCount = r.UserCount()
	return s
}

// Shared returns the runner-wide value stored under key, creating it with
// init on first use. Clients use it to share a connection pool between the
// users of one runner. Use an unexported key type.
func (r *Runner) Shared(key any, init func() any) any {
	r.sharedMu.Lock()
	defer r.sharedMu.Unlock()
	if v, ok := r.shared[key]; ok {
		return v
	}
	v := init()
	r.shared[key] = v
	return v
}

// TaskRatios returns, per user type name, each task's share of that type's
// task picks (nested sets flattened as "set/task").
func (r *Runner) TaskRatios() map[string]map[string]float64 {
	out := map[string]map[string]float64{}
	for _, t := range r.types {
		m := map[string]float64{}
		r.compiled[t].ratios("", 1, m)
		out[t.Name] = m
	}
	return out
}

// SetUsers changes the target number of users while the test runs (or
// before it starts), spawning or stopping users at rate per second (0: at
// once). When ramping down, the newest users stop first.
func (r *Runner) SetUsers(n int, rate float64) error {
	if n < 0 {
		return fmt.Errorf("users must be at least 0, not %d", n)
	}
	if rate < 0 {
		return fmt.Errorf("spawn rate must be at least 0, not %g", rate)
	}
	r.mu.Lock()
	r.target, r.rate = n, rate
	r.mu.Unlock()
	select {
	case r.wake <- struct{}{}:
	default:
	}
	return nil
}

// Stop asks the test to stop; Run then stops the users and returns. Safe to
// call more than once and before Run.
func (r *Runner) Stop() { r.stopWith("stopped") }

// StopWith is Stop with a reason, reported by StopReason ("threshold
// p95 < 300ms failed"). The first reason given wins.
func (r *Runner) StopWith(reason string) { r.stopWith(reason) }

// Abort stops the test at once because it cannot go on (a client found
// that the host is missing or not a URL, a configuration error): users are
// stopped without a stop timeout and Run returns err. The first call (of
// Abort, Stop or StopWith) wins; a nil err is an error "aborted". Safe for
// concurrent use, from tasks too.
func (r *Runner) Abort(err error) {
	if err == nil {
		err = errors.New("aborted")
	}
	r.stopOnce.Do(func() {
		r.abortErr.Store(&err)
		why := "aborted: " + err.Error()
		r.stopWhy.Store(&why)
		close(r.stopCh)
	})
}

// aborted returns the error given to Abort, or nil.
func (r *Runner) aborted() error {
	if p := r.abortErr.Load(); p != nil {
		return *p
	}
	return nil
}

func (r *Runner) stopWith(why string) {
	r.stopOnce.Do(func() {
		r.stopWhy.Store(&why)
		close(r.stopCh)
	})
}

// StopReason says why the test stopped ("run time", "iterations", ...), or
// "" while it runs.
func (r *Runner) StopReason() string {
	if p := r.stopWhy.Load(); p != nil {
		return *p
	}
	return ""
}

func (r *Runner) limitReached() {
	r.limitOnce.Do(func() { close(r.limitCh) })
}

// takeIteration counts one task run; false means the iteration or request
// limit is exhausted and the user must stop: no new task starts then.
func (r *Runner) takeIteration() bool {
	if lim := r.cfg.MaxRequests; lim > 0 && r.reqs.Load() >= lim {
		return false
	}
	lim := r.cfg.Iterations
	if lim <= 0 {
		r.iters.Add(1)
		return true
	}
	n := r.iters.Add(1)
	if n >= lim {
		r.limitReached()
	}
	return n <= lim
}

func (r *Runner) record(rc Recorder, req *Request) {
	rc.record(req)
	r.events.fireRequest(req)
	if lim := r.cfg.MaxRequests; lim > 0 && r.reqs.Add(1) >= lim {
		r.limitReached()
	}
}

// userError records a task's error or panic.
func (r *Runner) userError(u *User, err error, stack string) {
	msg := err.Error()
	r.stats.RecordException(msg, stack, r.cfg.Node)
	r.log.Debug("error in user code", "user", u.typ.Name, "id", u.id, "error", msg)
	r.events.UserError.fire(UserError{User: u, Err: err, Stack: stack})
}

// Run runs the test: it spawns the users, and returns when the test stops
// (run time, iterations, requests, Stop, Abort, or ctx cancelled) after
// every user has stopped. It returns an error if the runner already ran,
// or the error given to Abort.
//
// Users run in a context that carries ctx's values; it ends, with the cause
// ErrUserStopped, when the user is stopped. Cancelling ctx stops every user
// at once.
func (r *Runner) Run(ctx context.Context) error {
	if !r.state.CompareAndSwap(int32(StateReady), int32(StateSpawning)) {
		return errors.New("locust: Runner.Run called twice")
	}
	// users see ctx's values, not its cancellation: the runner stops them
	// itself, so that their contexts end with the cause ErrUserStopped
	uctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	r.stats.Reset()
	r.mu.Lock()
	r.start = time.Now()
	r.mu.Unlock()
	r.events.TestStart.fire(r)
	mctx, mstop := context.WithCancel(ctx)
	mdone := make(chan struct{})
	go func() {
		defer close(mdone)
		r.monitorLoad(mctx)
	}()
	defer func() {
		mstop()
		<-mdone
	}()
	if r.cfg.RunTime > 0 {
		t := time.AfterFunc(r.cfg.RunTime, func() { r.stopWith("run time") })
		defer t.Stop()
	}
	graceful := r.control(ctx, uctx)
	r.state.Store(int32(StateStopping))
	r.stopAll(graceful)
	r.wg.Wait()
	r.stats.Flush()
	r.mu.Lock()
	r.end = time.Now()
	r.mu.Unlock()
	r.state.Store(int32(StateStopped))
	r.events.TestStop.fire(r)
	return r.aborted()
}

// control spawns and stops users until the test must stop. It returns the
// stop timeout to use for the remaining users (-1: let tasks finish).
// Users are spawned in uctx; ctx is the run's context.
func (r *Runner) control(ctx, uctx context.Context) time.Duration {
	var (
		rampStart   time.Time
		rampFrom    int
		lastTarget  = -1
		lastRate    float64
		completed   bool
		timer       = time.NewTimer(time.Hour)
		warnedFixed bool
	)
	defer timer.Stop()
	for {
		r.mu.Lock()
		target, rate := r.target, r.rate
		cur := len(r.users)
		if max := r.maxUsers(); target > max {
			if !warnedFixed {
				r.log.Warn("only fixed-count user types: running fewer users than asked", "asked", target, "running", max)
				warnedFixed = true
			}
			target = max
		}
		if target != lastTarget || rate != lastRate {
			rampStart, rampFrom, lastTarget, lastRate = time.Now(), cur, target, rate
			completed = false
		}
		var next time.Duration = -1
		if cur != target {
			want := target
			if rate > 0 {
				steps := int(time.Since(rampStart).Seconds() * rate)
				if target > rampFrom {
					want = min(target, rampFrom+steps+1)
				} else {
					want = max(target, rampFrom-steps-1)
				}
				if want != target {
					k := abs(want - rampFrom) // steps done after this round
					next = time.Until(rampStart.Add(time.Duration(float64(k) / rate * float64(time.Second))))
				}
			}
			for len(r.users) < want {
				r.spawnLocked(uctx)
			}
			for len(r.users) > want {
				u := r.users[len(r.users)-1]
				r.users = r.users[:len(r.users)-1]
				r.typeCount[u.typ]--
				r.uncount(u)
				u.requestStop(r.cfg.StopTimeout)
			}
			cur = len(r.users)
		}
		r.mu.Unlock()
		if cur == target && !completed {
			completed = true
			r.state.Store(int32(StateRunning))
			if r.cfg.ResetStats {
				r.stats.Reset()
				r.events.ResetStats.fire(struct{}{})
			}
			r.log.Info("all users spawned", "users", cur)
			r.events.SpawningComplete.fire(cur)
		} else if cur != target {
			r.state.Store(int32(StateSpawning))
		}
		var tc <-chan time.Time
		if next >= 0 {
			timer.Reset(next)
			tc = timer.C
		}
		select {
		case <-ctx.Done():
			r.stopWith("cancelled")
			return 0
		case <-r.stopCh:
			if r.aborted() != nil {
				return 0
			}
			return r.cfg.StopTimeout
		case <-r.limitCh:
			if r.cfg.Iterations > 0 && r.iters.Load() >= r.cfg.Iterations {
				r.stopWith("iterations")
				return -1
			}
			r.stopWith("requests")
			return r.cfg.StopTimeout
		case <-r.wake:
		case <-tc:
		}
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
	}
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

// spawnLocked starts one user; r.mu must be held.
func (r *Runner) spawnLocked(ctx context.Context) {
	t := r.nextType()
	r.nextID++
	uctx, cancel := context.WithCancelCause(ctx)
	u := &User{
		ctx:    uctx,
		id:     r.nextID,
		typ:    t,
		runner: r,
		root:   r.compiled[t],
		rec:    r.stats.Recorder(),
		stopCh: make(chan struct{}),
		cancel: cancel,
	}
	r.users = append(r.users, u)
	r.typeCount[t]++
	u.counted.Store(true)
	r.userCount.Add(1)
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		defer cancel(ErrUserStopped)
		u.run(uctx)
		if !u.stopping.Load() {
			// the user stopped itself (ErrStopUser, iterations): it no
			// longer counts, and its slot is not refilled, as in Locust
			r.uncount(u)
		}
	}()
}

// uncount removes u from the running user count, once.
func (r *Runner) uncount(u *User) {
	if u.counted.CompareAndSwap(true, false) {
		r.userCount.Add(-1)
	}
}

// stopAll stops every user, newest first.
func (r *Runner) stopAll(timeout time.Duration) {
	r.mu.Lock()
	users := r.users
	r.users = nil
	clear(r.typeCount)
	r.mu.Unlock()
	for i := len(users) - 1; i >= 0; i-- {
		r.uncount(users[i])
		if timeout < 0 {
			users[i].requestStopGraceful()
		} else {
			users[i].requestStop(timeout)
		}
	}
}
