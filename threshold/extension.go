package threshold

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	locust "github.com/golocust/locust"
)

// DefaultGrace is the default of --threshold-grace: how long after the
// test starts --threshold-abort begins checking.
const DefaultGrace = 10 * time.Second

// Extension adds thresholds to locust.Command:
//
//	--threshold EXPR        a threshold (repeatable), e.g. --threshold "p95 < 300ms"
//	--threshold-abort       check the thresholds every second and stop the test at the first failure
//	--threshold-grace TIME  how long after the start to begin the live checks (default 10s)
//
// The environment variable LOCUST_THRESHOLD holds one more expression.
// With --threshold-abort, a live failure stops the test (Runner.StopWith) only
// when it is final: entries not requested yet are not a failure then, and
// counts are checked live only with < and <= ("requests > 1000" may still
// come true).
//
// When at least one threshold is given (by flag or Add), the thresholds
// decide the exit code: 0 when all pass, ExitCode otherwise, even if
// requests failed (as in k6). Without thresholds the extension has no say.
//
// Configure, Start and Stop are called by one Command run at a time, as
// locust.Extension requires; Add is safe for concurrent use with them;
// Results and Aborted are safe for concurrent use. Use one Extension per
// Command; it may be reused for the next run once the previous one ended.
type Extension struct {
	mu         sync.Mutex
	code       []Threshold // added with Add
	flagExprs  []string    // from --threshold, parsed by Configure
	active     []Threshold // code and flag thresholds of the current run
	configured bool
	abort      bool
	grace      time.Duration
	results    []Result
	abortedBy  *Result

	leave bool // LeaveVerdict: print the results, decide nothing

	aborted atomic.Bool
	quit    chan struct{} // closes to end the live checker
	done    chan struct{} // closed when the live checker ended
	cleanup []func()
}

var (
	_ locust.Extension  = (*Extension)(nil)
	_ locust.Configurer = (*Extension)(nil)
)

// NewExtension returns an Extension with no thresholds yet; they come from
// --threshold flags and Add. Pass it in locust.Command.Extensions.
func NewExtension() *Extension {
	return &Extension{grace: DefaultGrace}
}

// Add parses thresholds given in code and adds them to every run of the
// extension, in addition to the --threshold flags. Call it before the test
// starts; it returns the parse errors of the bad expressions and adds none
// of them then. Safe for concurrent use.
func (e *Extension) Add(exprs ...string) error {
	ts, err := ParseAll(exprs)
	if err != nil {
		return err
	}
	e.mu.Lock()
	e.code = append(e.code, ts...)
	e.mu.Unlock()
	return nil
}

// exprsValue is the repeatable --threshold flag.
type exprsValue struct{ e *Extension }

func (v exprsValue) String() string {
	if v.e == nil {
		return ""
	}
	v.e.mu.Lock()
	defer v.e.mu.Unlock()
	return strings.Join(v.e.flagExprs, "; ")
}

func (v exprsValue) Set(s string) error {
	if strings.TrimSpace(s) == "" {
		return errors.New("empty threshold")
	}
	v.e.mu.Lock()
	v.e.flagExprs = append(v.e.flagExprs, s)
	v.e.mu.Unlock()
	return nil
}

// graceValue is --threshold-grace, in Locust or Go time units.
type graceValue struct{ e *Extension }

func (v graceValue) String() string {
	if v.e == nil {
		return DefaultGrace.String()
	}
	return v.e.grace.String()
}

func (v graceValue) Set(s string) error {
	d, err := locust.ParseTimespan(s)
	if err != nil {
		return err
	}
	v.e.grace = d
	return nil
}

// Flags registers --threshold, --threshold-abort and --threshold-grace on
// fs, and forgets the flag values of a previous run.
func (e *Extension) Flags(fs *flag.FlagSet) {
	e.mu.Lock()
	e.flagExprs = nil
	e.abort = false
	e.grace = DefaultGrace
	e.mu.Unlock()
	fs.Var(exprsValue{e}, "threshold", "a success criterion (`EXPR`) such as \"p95 < 300ms\", \"fail_ratio < 1%\" or \"GET /home: p99 < 1s\" (repeatable); "+
		fmt.Sprintf("when given, the exit code is 0 if all pass and %d otherwise", ExitCode))
	fs.BoolVar(&e.abort, "threshold-abort", false, "check the thresholds every second and stop the test as soon as one fails")
	fs.Var(graceValue{e}, "threshold-grace", "with --threshold-abort, wait this long (`TIME`) after the start before checking")
}

// Configure parses the --threshold expressions (a bad one is an error, so
// the program exits with locust.ExitUsage before the test starts) and adds
// the percentiles the thresholds need to cfg.Stats.ExtraPercentiles.
func (e *Extension) Configure(cfg *locust.Config) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	flagTs, err := ParseAll(e.flagExprs)
	if err != nil {
		return err
	}
	e.active = append(slices.Clone(e.code), flagTs...)
	e.configured = true
	e.results, e.abortedBy = nil, nil
	e.aborted.Store(false)
	for _, t := range e.active {
		for _, p := range t.Percentiles() {
			if !slices.Contains(locust.Percentiles, p) && !slices.Contains(cfg.Stats.ExtraPercentiles, p) {
				cfg.Stats.ExtraPercentiles = append(cfg.Stats.ExtraPercentiles, p)
			}
		}
	}
	return nil
}

// Thresholds returns the thresholds of the current run (after Configure),
// or those added with Add before it. Safe for concurrent use.
func (e *Extension) Thresholds() []Threshold {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.configured {
		return slices.Clone(e.active)
	}
	return slices.Clone(e.code)
}

// Start adds the final results to the runner's report data (key
// "thresholds") and, with --threshold-abort, starts the live checker, which
// ends when the test stops or ctx is done. If Configure was not called (a
// Runner driven from code), Start uses the thresholds added with Add; it
// returns an error if a percentile they need is missing from the runner's
// Config.Stats.ExtraPercentiles.
func (e *Extension) Start(ctx context.Context, r *locust.Runner, out io.Writer) error {
	e.mu.Lock()
	if !e.configured {
		e.mu.Unlock()
		cfg := r.Config()
		if err := e.Configure(&cfg); err != nil {
			return err
		}
		e.mu.Lock()
	}
	ts := slices.Clone(e.active)
	abort, grace := e.abort, e.grace
	e.mu.Unlock()
	if len(ts) == 0 {
		return nil
	}
	if grace < 0 {
		return fmt.Errorf("invalid value %s for --threshold-grace: must be at least 0", grace)
	}
	have := append(slices.Clone(locust.Percentiles), r.Config().Stats.ExtraPercentiles...)
	for _, t := range ts {
		for _, p := range t.Percentiles() {
			if !slices.Contains(have, p) {
				return fmt.Errorf("threshold %q needs percentile %g: add it to Config.Stats.ExtraPercentiles (Configure does)", exprOf(t), p)
			}
		}
	}
	e.cleanup = append(e.cleanup, r.Events().Report.Add(func(rd *locust.ReportData) {
		rd.Add("thresholds", Evaluate(ts, rd.Snapshot))
	}))
	if !abort {
		return nil
	}
	quit, done := make(chan struct{}), make(chan struct{})
	e.quit, e.done = quit, done
	var once sync.Once
	stop := func() { once.Do(func() { close(quit) }) }
	e.cleanup = append(e.cleanup, r.Events().TestStop.Add(func(*locust.Runner) { stop() }), stop)
	go e.watch(ctx, r, ts, grace, quit, done)
	return nil
}

// watch checks the thresholds every second once the grace period after the
// test start is over, and stops the test at the first decided failure.
func (e *Extension) watch(ctx context.Context, r *locust.Runner, ts []Threshold, grace time.Duration, quit, done chan struct{}) {
	defer close(done)
	var live []Threshold // the thresholds a live failure decides
	for _, t := range ts {
		if t.Metric.kind() == kindCount && t.Op != Less && t.Op != LessEqual {
			continue // "requests > 1000" may still come true
		}
		live = append(live, t)
	}
	if len(live) == 0 {
		return
	}
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-quit:
			return
		case <-tick.C:
		}
		if st := r.State(); st == locust.StateStopping || st == locust.StateStopped {
			return
		}
		start := r.StartTime()
		if start.IsZero() || time.Since(start) < grace {
			continue
		}
		for _, res := range Evaluate(live, r.Snapshot()) {
			if res.Pass || res.Missing {
				continue // an entry not requested yet may still come
			}
			e.mu.Lock()
			e.abortedBy = &res
			e.mu.Unlock()
			e.aborted.Store(true)
			log := r.Config().Logger
			if log == nil {
				log = slog.Default()
			}
			log.Warn("threshold failed: stopping the test", "threshold", exprOf(res.Threshold), "actual", res.ActualText)
			r.StopWith("threshold failed: " + exprOf(res.Threshold))
			return
		}
	}
}

func exprOf(t Threshold) string {
	if t.Expr != "" {
		return t.Expr
	}
	return t.String()
}

// Stop ends the live checker, evaluates the thresholds on the final
// snapshot, prints the table to out and decides the exit code: 0 when all
// pass and ExitCode when any fails, whenever there is a threshold;
// Verdict{} (no say) when there is none.
func (e *Extension) Stop(ctx context.Context, r *locust.Runner, final *locust.Snapshot, out io.Writer) (locust.Verdict, error) {
	for _, f := range e.cleanup {
		f()
	}
	e.cleanup = nil
	if e.done != nil {
		<-e.done
		e.quit, e.done = nil, nil
	}
	e.mu.Lock()
	ts := slices.Clone(e.active)
	if !e.configured {
		ts = slices.Clone(e.code) // Stop without Configure or Start
	}
	e.active, e.configured = nil, false
	abortedBy := e.abortedBy
	leave := e.leave
	e.mu.Unlock()
	if len(ts) == 0 {
		return locust.Verdict{}, nil
	}
	rs := Evaluate(ts, final)
	e.mu.Lock()
	e.results = rs
	e.mu.Unlock()
	if out != nil {
		fmt.Fprintln(out)
		PrintResults(out, rs)
		if abortedBy != nil {
			fmt.Fprintf(out, "The test was stopped early: threshold %q failed (actual %s).\n", exprOf(abortedBy.Threshold), abortedBy.ActualText)
		}
	}
	if leave {
		if out != nil {
			fmt.Fprintln(out, "(These are the whole run's figures; another extension decides the exit code.)")
		}
		return locust.Verdict{}, nil
	}
	code := 0
	if !AllPass(rs) {
		code = ExitCode
	}
	return locust.Verdict{Decided: true, ExitCode: code}, nil
}

// LeaveVerdict makes Stop still evaluate and print the thresholds on the
// whole run but leave the exit code to another extension: the capacity
// search (package shape) sets it, since it applies the thresholds to each
// step and breaks them on purpose at the last one. Safe for concurrent use.
func (e *Extension) LeaveVerdict(leave bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.leave = leave
}

// Results returns the results of the last finished run (nil before one
// finished or without thresholds). Safe for concurrent use.
func (e *Extension) Results() []Result {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.results)
}

// Aborted reports whether --threshold-abort stopped the last run. Safe for
// concurrent use.
func (e *Extension) Aborted() bool { return e.aborted.Load() }
