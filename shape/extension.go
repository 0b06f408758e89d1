package shape

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"sync"
	"time"

	locust "github.com/golocust/locust"
	"github.com/golocust/locust/threshold"
)

// Extension adds load shapes and the capacity search to locust.Command:
//
//	--stages LIST            duration:target pairs, e.g. 30s:10,2m:100,30s:0 (ramp to each target over each duration, then stop)
//	--find-capacity          step the users (with --arrival-rate: the rate) up until a --threshold breaks; report the highest load that held
//	--capacity-start N       users of the first step (default: --capacity-step); with --arrival-rate, its rate (default: --arrival-rate)
//	--capacity-step N        users added per step (default 10); with --arrival-rate, iterations per second added
//	--capacity-max N         stop stepping above N users (default: no maximum); with --arrival-rate, above N iterations per second
//	--capacity-settle TIME   wait after a step's users all run before measuring (default 2s)
//	--capacity-hold TIME     length of one measuring window (default 10s; up to 3 until stable)
//	--arrival-rate R         open model: start R iterations per second (locust.Config.ArrivalRate); with --stages the targets are rates, ramped from R
//	--max-users M            open model: at most M users run the iterations (required with --arrival-rate)
//	--arrival-wait D         open model: an iteration finding no free user waits up to D for one (default 0: dropped)
//
// With --arrival-rate, iterations that find no free user are dropped: the
// summary prints how many, and the report data gets "dropped_iterations"
// and "service_time" (the percentiles of the requests timed from their
// actual start, while the tables time them from their intended start).
//
// The capacity search evaluates the thresholds of the threshold Extension
// given to NewExtension on each step (with --arrival-rate it steps the rate,
// and a step that drops an iteration does not hold); it prints a line naming the capacity
// and a table per step, and adds the Result under the key "capacity" to the
// report data (the "extra" object of --json/--json-file and the HTML
// report). With --find-capacity the search decides the exit code: 0 when a
// step held (a capacity was found), threshold.ExitCode (3) when none did;
// the thresholds on the whole run are still printed but do not decide, as
// the search breaks them on purpose. A shape set with SetShape drives every
// test instead of --stages.
//
// An Extension is used by one Command run at a time; Result is safe for
// concurrent use.
type Extension struct {
	th   *threshold.Extension
	warn chan locust.LoadWarning // GeneratorShort

	fs          *flag.FlagSet
	stages      string
	find        bool
	search      Search
	settle      time.Duration
	hold        time.Duration
	arrival     float64
	maxUser     int
	arrivalWait time.Duration
	code        LoadShape
	parsed      LoadShape
	cleanup     []func()
	wg          sync.WaitGroup
	mu          sync.Mutex
	result      *Result
}

var (
	_ locust.Extension  = (*Extension)(nil)
	_ locust.Configurer = (*Extension)(nil)
)

// NewExtension returns an Extension whose capacity search uses th's
// thresholds (th may be nil when no capacity search is wanted). Pass it in
// locust.Command.Extensions after th.
func NewExtension(th *threshold.Extension) *Extension {
	return &Extension{th: th, warn: make(chan locust.LoadWarning, 1)}
}

// GeneratorShort tells a running capacity search that the load generator
// itself ran short (as the runner's LoadWarning event does when its CPU is
// busy): the search ends there, reported as the generator's limit and not
// the target's. A program may call it from its own resource checks. Safe
// for concurrent use; a warning while none is being searched is kept for
// the next search.
func (e *Extension) GeneratorShort(w locust.LoadWarning) {
	select {
	case e.warn <- w:
	default: // one is already waiting
	}
}

// SetShape makes shape drive every test of the command (it wins over
// --stages). Call it before Run.
func (e *Extension) SetShape(shape LoadShape) { e.code = shape }

// Result returns the outcome of the last capacity search, or nil.
func (e *Extension) Result() *Result {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.result
}

type spanFlag struct{ d *time.Duration }

func (s spanFlag) String() string {
	if s.d == nil || *s.d == 0 {
		return ""
	}
	return s.d.String()
}

func (s spanFlag) Set(v string) error {
	d, err := locust.ParseTimespan(v)
	if err != nil {
		return err
	}
	*s.d = d
	return nil
}

type countFlag struct{ n *int }

func (c countFlag) String() string {
	if c.n == nil {
		return "0"
	}
	return strconv.Itoa(*c.n)
}

func (c countFlag) Set(v string) error {
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return fmt.Errorf("want a whole number at least 0, not %q", v)
	}
	*c.n = n
	return nil
}

// Flags registers the extension's flags.
func (e *Extension) Flags(fs *flag.FlagSet) {
	e.fs = fs
	fs.StringVar(&e.stages, "stages", "", "load shape: duration:target pairs, e.g. 30s:10,2m:100,30s:0 (ramp to each target over each duration, then stop)")
	fs.BoolVar(&e.find, "find-capacity", false, "step the users (with --arrival-rate: the arrival rate) up until a --threshold breaks, and report the highest load that held")
	fs.Var(countFlag{&e.search.StartUsers}, "capacity-start", "users of the first capacity step (default: --capacity-step); with --arrival-rate, its rate (default: --arrival-rate)")
	fs.Var(countFlag{&e.search.StepUsers}, "capacity-step", "users added per capacity step (default 10); with --arrival-rate, iterations per second added")
	fs.Var(countFlag{&e.search.MaxUsers}, "capacity-max", "stop the capacity search above this many users (default: no maximum); with --arrival-rate, above this rate")
	fs.Var(spanFlag{&e.settle}, "capacity-settle", "wait after a step's users all run before measuring (default 2s)")
	fs.Float64Var(&e.arrival, "arrival-rate", 0, "open model: start this many iterations per second, each on a free user of at most --max-users (with --stages the targets are rates, ramped from this one)")
	fs.Var(countFlag{&e.maxUser}, "max-users", "open model: most users that run the --arrival-rate iterations (required with it); an iteration finding none free is dropped (or waits: --arrival-wait)")
	fs.Var(spanFlag{&e.arrivalWait}, "arrival-wait", "open model: how long an iteration finding no free user may wait for one (then it starts late, and its requests' times include the wait, as wrk2's do) before it is dropped (default 0: dropped at once, as k6)")
	fs.Var(spanFlag{&e.hold}, "capacity-hold", "length of one measuring window of a capacity step (default 10s; up to 3 windows until stable)")
}

// Configure checks --stages and the capacity flags (bad values end the
// program with exit code 2 before any user starts).
func (e *Extension) Configure(cfg *locust.Config) error {
	e.parsed = nil
	if e.stages != "" {
		st, err := ParseStages(e.stages)
		if err != nil {
			return fmt.Errorf("invalid value %q for --stages: %v", e.stages, err)
		}
		e.parsed = st
	}
	if err := e.configureArrival(cfg); err != nil {
		return err
	}
	if e.find && (e.parsed != nil || e.code != nil) {
		return errors.New("--find-capacity and --stages (or a load shape) both set the user count: choose one")
	}
	if e.fs != nil && (e.find || cfg.ArrivalRate > 0) {
		// a shape drives a master like a local runner (Runner.SetUsers
		// reaches its workers); these two are not distributed yet
		if f := e.fs.Lookup("master"); f != nil && f.Value.String() == "true" {
			return errors.New("--master with --find-capacity or --arrival-rate: these are not distributed yet (a master runs no user itself); run them on one process (--stages and load shapes do drive a master)")
		}
	}
	if e.find && e.fs != nil {
		if f := e.fs.Lookup("threshold-abort"); f != nil && f.Value.String() == "true" {
			return errors.New("--find-capacity and --threshold-abort: the live checks would stop the search at the first step that breaks a threshold, before it is measured (choose one)")
		}
	}
	return nil
}

// Start sets the first user count of the shape or the search, and starts
// it when the test starts. A capacity search with no threshold is an
// error.
func (e *Extension) Start(ctx context.Context, r *locust.Runner, out io.Writer) error {
	e.mu.Lock()
	e.result = nil
	e.mu.Unlock()
	if e.th != nil {
		// the search judges each step; the whole run breaks on purpose
		e.th.LeaveVerdict(e.find)
	}
	if r.Config().ArrivalRate > 0 {
		e.cleanup = append(e.cleanup, r.Events().Report.Add(func(d *locust.ReportData) { addOpenReport(d, r) }))
	}
	shape := e.code
	if shape == nil {
		shape = e.parsed
	}
	var run func(context.Context)
	switch {
	case e.arrival > 0 && e.parsed != nil:
		st := e.parsed.(Stages)
		run = func(ctx context.Context) { _ = DriveRates(ctx, r, st) } // a bad stage aborts the test
	case shape != nil && e.find:
		return errors.New("--find-capacity and a load shape both set the user count: choose one")
	case shape != nil:
		n, rate, ok := shape.Tick(0)
		if !ok {
			return errors.New("the load shape stops at once: nothing to run")
		}
		if err := r.SetUsers(n, rate); err != nil {
			return fmt.Errorf("load shape: %w", err)
		}
		run = func(ctx context.Context) { _ = Drive(ctx, r, shape) } // a bad answer aborts the test
	case e.find:
		s := e.search
		s.Settle, s.Hold = e.settle, e.hold
		s.SpawnRate = r.Config().SpawnRate
		s.OnStep = func(st Step) {
			verdict := "held"
			switch {
			case st.GeneratorShort:
				verdict = "the load generator ran short of CPU"
			case !st.Pass:
				verdict = "broke a threshold"
			}
			dropped := ""
			if st.Rate > 0 {
				dropped = fmt.Sprintf(", %d iterations dropped", st.Dropped)
			}
			fmt.Fprintf(out, "capacity step: %s, %.1f req/s, p95 %.1f ms, %.2f%% failed%s: %s\n", st.Load(), st.RPS, st.P95Ms, 100*st.FailRatio, dropped, verdict)
		}
		if e.th != nil {
			s.Thresholds = e.th.Thresholds()
		}
		s.Warnings = e.warn
		if e.arrival > 0 {
			// the flags count iterations per second
			s.StartRate, s.StepRate, s.MaxRate = float64(s.StartUsers), float64(s.StepUsers), float64(s.MaxUsers)
			if s.StartRate == 0 {
				s.StartRate = e.arrival
			}
			s.StartUsers, s.StepUsers, s.MaxUsers = 0, 0, 0
		}
		if err := s.Validate(); err != nil {
			return fmt.Errorf("--find-capacity: %w", err)
		}
		if e.arrival > 0 {
			if err := r.SetArrivalRate(s.StartRate, 0); err != nil {
				return err
			}
		} else if err := r.SetUsers(s.withDefaults().StartUsers, s.SpawnRate); err != nil {
			return err
		}
		run = func(ctx context.Context) {
			res, err := s.Run(ctx, r)
			if err != nil {
				r.Abort(fmt.Errorf("capacity search: %w", err))
				return
			}
			e.mu.Lock()
			e.result = res
			e.mu.Unlock()
			r.StopWith("capacity search ended")
		}
		e.cleanup = append(e.cleanup, r.Events().Report.Add(func(d *locust.ReportData) {
			if res := e.Result(); res != nil {
				d.Add("capacity", res)
			}
		}))
	default:
		return nil
	}
	rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	var once sync.Once
	stop := func() {
		cancel()
		e.wg.Wait()
	}
	e.cleanup = append(e.cleanup,
		r.Events().TestStart.Add(func(*locust.Runner) {
			once.Do(func() {
				e.wg.Add(1)
				go func() {
					defer e.wg.Done()
					run(rctx)
				}()
			})
		}),
		// the search ends before the report is built, so that it is in it
		r.Events().TestStop.Add(func(*locust.Runner) { stop() }),
		stop)
	return nil
}

// Stop ends the shape or search if the test ended first, and prints the
// capacity search's outcome to out. It has no say in the exit code.
func (e *Extension) Stop(ctx context.Context, r *locust.Runner, final *locust.Snapshot, out io.Writer) (locust.Verdict, error) {
	for _, f := range e.cleanup {
		f()
	}
	e.cleanup = nil
	printServiceTime(out, r)
	res := e.Result()
	if res != nil {
		fmt.Fprintln(out)
		res.Print(out)
	}
	if !e.find {
		return locust.Verdict{}, nil
	}
	// the search decides: 0 when a step held, the threshold exit code when
	// none did (the thresholds broke at the first step, or no step ran)
	if res != nil && res.Capacity >= 0 {
		return locust.Verdict{Decided: true}, nil
	}
	return locust.Verdict{Decided: true, ExitCode: threshold.ExitCode}, nil
}
