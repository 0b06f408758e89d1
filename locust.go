package locust

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sync"
	"sync/atomic"
	"time"
)

// Version is the version of this library, printed by --version.
const Version = "0.1.0"

// Config is what a Runner runs. The zero value runs no user until
// Runner.SetUsers asks for some, and no limit stops it but Stop.
type Config struct {
	// Host overrides the Host of every user type when set.
	Host string
	// Users is the number of users to run. 0 means none, as SetUsers(0):
	// the test starts with no user (a warning says so) and runs nothing
	// until SetUsers asks for users. (The command line's -u defaults to 1,
	// as Locust's does.)
	Users int
	// SpawnRate is how many users start (or stop) per second, evenly spread;
	// 0 means all at once.
	SpawnRate float64
	// RunTime stops the test after this long (0: no limit).
	RunTime time.Duration
	// Iterations stops the test after exactly this many task runs across
	// all users (0: no limit). Then no new task starts and the running ones
	// finish (the drain), for up to StopTimeout when it is set, else up to
	// DrainLimit; then their context is cancelled, and after a short grace
	// Run returns without them (see StopTimeout).
	Iterations int64
	// MaxRequests stops the test once this many requests were recorded
	// (0: no limit); the old Locust -n. Once it is reached no new task
	// starts and the running ones finish as after Iterations, so they may
	// add a few more requests.
	MaxRequests int64
	// StopTimeout lets running tasks finish for up to this long when users
	// stop; 0 cancels their context at once (Locust's default). Go cannot
	// kill a task that ignores its context: a second after the
	// cancellation, Run stops waiting for such tasks, logs (WARN) how many
	// users are still inside which task, and returns; requests they record
	// later are counted as cut short (Snapshot.CutShort) and in no entry.
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
	// ArrivalRate, when above 0, runs the open model: iterations (one
	// task pick of a user each) start on an evenly spaced schedule of this
	// many per second (Runner.SetArrivalRate changes it), each run by a free
	// user of a pool of at most MaxUsers users, made on demand; when no
	// user is free the iteration is dropped (Snapshot.Dropped), or waits
	// for one up to ArrivalWait. Users and SpawnRate are then ignored, users do not wait
	// between iterations, and nested task sets are walked down to one task
	// (their OnStart and OnStop do not run). Each request of an iteration
	// is timed with the lateness of the iteration's start (actual less
	// intended) added: coordinated omission corrected; Runner.ServiceStats
	// keeps the requests' own times.
	ArrivalRate float64
	// MaxUsers bounds the open model's pool of users (required with
	// ArrivalRate). A user that stops itself (ErrStopUser) leaves the pool
	// for good and its place is not refilled, as in the closed model.
	MaxUsers int
	// ArrivalWait, when above 0, lets an open-model iteration that finds
	// no free user wait for one, first come first served, for at most this
	// long before it is dropped (0: dropped at once, as k6's arrival-rate
	// executors do). An iteration that waited starts late, and its
	// requests carry that lateness as always: a target that
	// stalls shows in the latencies (wrk2's corrected latency) while the
	// service times (Runner.ServiceStats) show only the time the requests
	// took. Snapshot.Late counts the iterations that waited.
	ArrivalWait time.Duration
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

// DrainLimit bounds the drain after Config.Iterations or
// Config.MaxRequests when Config.StopTimeout is 0: running tasks may finish
// for up to this long before their context is cancelled.
const DrainLimit = time.Minute

// stopGrace is how long Run still waits for tasks once their context is
// cancelled, so that tasks that watch it can return, before it stops
// waiting for them.
const stopGrace = time.Second

// Runner runs one load test: it spawns users of the given types, stops
// them, and owns the test's statistics and events. Every method is safe for
// concurrent use. A Runner runs one test (Run once); make a new one for the
// next.
type Runner struct {
	// read-only once Run started, read on every request or task
	cfg        Config
	types      []*UserType
	plans      map[*UserType]*userPlan
	stats      *Stats
	service    *Stats     // open model: service times (nil: closed model)
	open       *openModel // nil: closed model
	events     Events
	log        *slog.Logger
	hooks      hookNames
	drainLimit time.Duration
	grace      time.Duration
	monWindow  time.Duration
	closed     atomic.Bool // Run returned: later requests are cut short
	limitHit   atomic.Bool // Iterations or MaxRequests reached

	// each padded to its own cache lines
	iterQuota quota
	reqQuota  quota
	userCount atomic.Int64 // live users (not stopped, not stopped themselves)
	_         [cacheLine]byte
	remote    remoteRef // SetRemote: the users run there

	state atomic.Int32

	mu         sync.Mutex
	users      []*User // live and self-stopped users, in spawn order
	retiring   []*User // users asked to stop, maybe still running
	typeCount  map[*UserType]int
	target     int
	rate       float64
	wake       chan struct{}
	nextID     int
	itersDone  int64 // task runs of users dropped from users and retiring
	wg         sync.WaitGroup
	start, end time.Time
	sharedMu   sync.Mutex
	shared     map[any]any

	sleepers   sleepers
	monitor    loadMonitor
	panics     panicLog
	abandoned  atomic.Int64
	labels     context.Context // profiler labels of the users' goroutines
	labelValue string
	leakSettle time.Duration
	leaked     atomic.Int64
	leakMu     sync.Mutex
	expected   []string // ExpectGoroutines

	stopOnce  sync.Once
	stopCh    chan struct{}
	limitOnce sync.Once
	limitCh   chan struct{} // iterations or requests exhausted
	limitWhy  string        // written before limitCh is closed
	haltOnce  sync.Once
	haltCh    chan struct{} // stopCh or limitCh closed (Stopping)
	killOnce  sync.Once
	killCh    chan struct{}
	stopWhy   atomic.Pointer[string]
	abortErr  atomic.Pointer[error]
}

// NewRunner checks the user types and returns a Runner for them. Every
// mistake in the definitions (no tasks, a bad weight, a nil function, a
// type left with no task by the tags) is reported here, before any user
// starts.
func NewRunner(cfg Config, types ...*UserType) (*Runner, error) {
	if err := checkConfig(cfg, types); err != nil {
		return nil, err
	}
	r := &Runner{
		cfg:        cfg,
		types:      types,
		plans:      map[*UserType]*userPlan{},
		log:        cfg.Logger,
		hooks:      hookNames{onStart: "on_start", onStop: "on_stop"},
		drainLimit: DrainLimit,
		grace:      stopGrace,
		typeCount:  map[*UserType]int{},
		wake:       make(chan struct{}, 1),
		stopCh:     make(chan struct{}),
		limitCh:    make(chan struct{}),
		haltCh:     make(chan struct{}),
		killCh:     make(chan struct{}),
		leakSettle: leakSettle,
		shared:     map[any]any{},
		monWindow:  monitorWindow,
	}
	if r.log == nil {
		r.log = slog.Default()
	}
	var errs []error
	f := tagFilter{include: cfg.Tags, exclude: cfg.ExcludeTags}
	for _, t := range types {
		c := t.Tasks.compile(f, t.Tags)
		if c == nil {
			errs = append(errs, fmt.Errorf("user type %q has no tasks left after filtering by tags", t.Name))
			continue
		}
		r.plans[t] = &userPlan{typ: t, root: c, noOnStop: t.OnStop == nil && c.onStop == nil}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	so := cfg.Stats
	if so.Logger == nil {
		so.Logger = r.log // the many-names warning reaches the console
	}
	r.stats = NewStats(so)
	if cfg.ArrivalRate > 0 {
		r.service = NewStats(so)
		m := min(cfg.MaxUsers, r.maxUsers())
		r.open = &openModel{free: make(chan *User, m), done: make(chan struct{}), max: m, wait: cfg.ArrivalWait,
			plan: schedule{{r0: cfg.ArrivalRate, r1: cfg.ArrivalRate}}}
	}
	r.events.setPanicHandler(func(msg, stack string) { r.stats.RecordException(msg, stack, cfg.Node) })
	r.target = cfg.Users
	r.rate = cfg.SpawnRate
	r.iterQuota.init(cfg.Iterations)
	r.reqQuota.init(cfg.MaxRequests)
	r.labels = r.userLabels()
	return r, nil
}

// checkConfig reports every mistake in cfg and types.
func checkConfig(cfg Config, types []*UserType) error {
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
	check := func(bad bool, format string, v any) {
		if bad {
			errs = append(errs, fmt.Errorf(format, v))
		}
	}
	check(cfg.Users < 0, "users must be at least 0, not %d", cfg.Users)
	check(cfg.SpawnRate < 0, "spawn rate must be at least 0, not %g", cfg.SpawnRate)
	check(cfg.RunTime < 0, "run time must be at least 0, not %s", cfg.RunTime)
	check(cfg.Iterations < 0, "iterations must be at least 0, not %d", cfg.Iterations)
	check(cfg.MaxRequests < 0, "max requests must be at least 0, not %d", cfg.MaxRequests)
	check(cfg.StopTimeout < 0, "stop timeout must be at least 0, not %s", cfg.StopTimeout)
	check(cfg.ArrivalRate < 0 || math.IsNaN(cfg.ArrivalRate) || math.IsInf(cfg.ArrivalRate, 0), "arrival rate must be a number at least 0, not %g", cfg.ArrivalRate)
	check(cfg.MaxUsers < 0, "max users must be at least 0, not %d", cfg.MaxUsers)
	check(cfg.ArrivalWait < 0, "arrival wait must be at least 0, not %s", cfg.ArrivalWait)
	check(cfg.ArrivalWait > 0 && cfg.ArrivalRate == 0, "an arrival wait is for the open model: give an arrival rate (ArrivalRate, --arrival-rate) too%.0s", cfg.ArrivalWait)
	check(cfg.ArrivalRate > 0 && cfg.MaxUsers == 0, "an arrival rate needs a bound on the users that run it (MaxUsers, --max-users), not %d", cfg.MaxUsers)
	return errors.Join(errs...)
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

// UserCount is the number of running users. Users that stopped themselves
// (ErrStopUser) or were asked to stop are not counted. With a Remote
// (SetRemote) it is the Remote's user count.
func (r *Runner) UserCount() int {
	if rem := r.remote.get(); rem != nil {
		return rem.Users()
	}
	return int(r.userCount.Load())
}

// UserCounts returns the number of running users of each type, by name
// (types with none running are left out). Like UserCount, it does not count
// users that stopped themselves (ErrStopUser). It counts this process's
// users only: with a Remote (SetRemote) it is empty (see Workers).
func (r *Runner) UserCounts() map[string]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	m := make(map[string]int, len(r.typeCount))
	for _, u := range r.users {
		if u.is(userCounted) {
			m[u.plan.typ.Name]++
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
// Config.Iterations when that is set). It adds up a counter per user: call
// it once a second, not per request.
func (r *Runner) Iterations() int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := r.itersDone
	for _, u := range r.users {
		n += u.iters.Load()
	}
	for _, u := range r.retiring {
		n += u.iters.Load()
	}
	return n
}

// Abandoned is the number of users whose task was still running when Run
// stopped waiting for them (see Config.StopTimeout); 0 while Run runs.
func (r *Runner) Abandoned() int { return int(r.abandoned.Load()) }

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
		r.plans[t].root.ratios("", 1, m)
		out[t.Name] = m
	}
	return out
}

// SetUsers changes the target number of users while the test runs (or
// before it starts), spawning or stopping users at rate per second (0: at
// once). When ramping down, the newest running users stop first, until n
// are running; users that stopped themselves (ErrStopUser) are not counted
// and not replaced. An open-model runner (Config.ArrivalRate) makes its
// users on demand: SetUsers is an error there (use SetArrivalRate).
func (r *Runner) SetUsers(n int, rate float64) error {
	if r.open != nil {
		return errors.New("an open-model runner (arrival rate) makes its users on demand: change its rate with SetArrivalRate")
	}
	if n < 0 {
		return fmt.Errorf("users must be at least 0, not %d", n)
	}
	if rate < 0 {
		return fmt.Errorf("spawn rate must be at least 0, not %g", rate)
	}
	if rem := r.remote.get(); rem != nil {
		return rem.SetUsers(n, rate)
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
// call more than once and before Run (then Run starts no user).
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
		r.stopWhy.Store(&why) // also over "iterations" or "requests"
		close(r.stopCh)
		r.halt()
	})
}

// Kill stops the test and Run's waiting at once: users' contexts are
// cancelled with no stop timeout, no drain and no grace, and Run returns as
// soon as it has stopped them, leaving behind (and logging) the tasks that
// are still running. The command line calls it on a second Ctrl-C. Safe to
// call more than once, at any time.
func (r *Runner) Kill() {
	r.stopWith("killed")
	r.killOnce.Do(func() { close(r.killCh) })
}

// aborted returns the error given to Abort, or nil.
func (r *Runner) aborted() error {
	if p := r.abortErr.Load(); p != nil {
		return *p
	}
	return nil
}

func (r *Runner) killed() bool {
	select {
	case <-r.killCh:
		return true
	default:
		return false
	}
}

func (r *Runner) stopWith(why string) {
	r.stopOnce.Do(func() {
		r.stopWhy.CompareAndSwap(nil, &why) // a limit's reason came first
		close(r.stopCh)
		r.halt()
	})
}

// StopReason says why the test stopped ("run time", "iterations",
// "requests", "stopped", "cancelled", "killed", "aborted: ..."), or "" while
// it runs.
func (r *Runner) StopReason() string {
	if p := r.stopWhy.Load(); p != nil {
		return *p
	}
	return ""
}

// limitReached ends the test's iterations or requests: no new task starts.
func (r *Runner) limitReached(why string) {
	r.limitOnce.Do(func() {
		r.limitWhy = why
		r.limitHit.Store(true)
		close(r.limitCh)
		r.halt()
	})
}

// halt closes haltCh once: the test is asked to stop, by a stop or a limit.
func (r *Runner) halt() { r.haltOnce.Do(func() { close(r.haltCh) }) }

// record records one request of u. After Run returned (a task it stopped
// waiting for), the request is counted as cut short and in no entry.
func (r *Runner) record(u *User, req *Request) {
	if r.closed.Load() {
		r.stats.RecordCutShort(1)
		return
	}
	if u.intendedStart() != 0 {
		r.recordOpen(u, req)
	} else {
		u.recorder().record(req)
	}
	r.events.fireRequest(req)
	if c := u.reqs; c != nil {
		c.count(r)
	}
}

// userError records a task's error or panic (after Run returned, only in
// the debug log).
func (r *Runner) userError(u *User, err error, stack string) {
	msg := err.Error()
	r.log.Debug("error in user code", "user", u.plan.typ.Name, "id", u.id, "error", msg)
	if r.closed.Load() {
		return
	}
	r.stats.RecordException(msg, stack, r.cfg.Node)
	r.events.UserError.fire(UserError{User: u, Err: err, Stack: stack})
}

// Run runs the test: it spawns the users, and returns when the test stops
// (run time, iterations, requests, Stop, Abort, Kill, or ctx cancelled)
// after every user has stopped, or after it stopped waiting for the tasks
// that ignore their context (see Config.StopTimeout). It returns an error
// if the runner already ran, or the error given to Abort. When Stop was
// called, or ctx was cancelled, before Run, no user starts.
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
	uctx := context.WithoutCancel(ctx)
	r.sleepers.epoch = time.Now()
	r.stats.Reset()
	if r.service != nil {
		r.service.Reset()
	}
	r.mu.Lock()
	r.start = time.Now()
	start := r.start
	r.mu.Unlock()
	r.events.TestStart.fire(r)
	r.warnAtStart()
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
	var plan stopPlan
	if r.open != nil {
		plan = r.openControl(ctx, uctx, start)
	} else {
		plan = r.control(ctx, uctx)
	}
	r.state.Store(int32(StateStopping))
	users := r.stopAll(plan)
	r.stopWait(ctx, plan, users)
	r.closed.Store(true)
	r.stats.Flush()
	if r.service != nil {
		r.service.Flush()
	}
	r.mu.Lock()
	r.end = time.Now()
	r.mu.Unlock()
	r.state.Store(int32(StateStopped))
	r.events.TestStop.fire(r)
	r.checkLeaks()
	return r.aborted()
}
