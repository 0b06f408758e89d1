package shape

import (
	"context"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"sync/atomic"
	"text/tabwriter"
	"time"

	locust "github.com/golocust/locust"
	"github.com/golocust/locust/threshold"
)

// Search is a capacity search: it steps the users of a running test up
// (or the arrival rate of an open-model test), holds each step until its
// throughput is stable, evaluates the thresholds on what happened during
// the step, and stops at the first step that breaks them, or when the load
// generator itself runs short of CPU (locust.Events.LoadWarning), which is
// reported as the generator's limit, never as the target's. The zero
// value of every field but Thresholds means its default. A Search is plain
// data: safe to copy, and Run is safe for concurrent use on different
// runners.
type Search struct {
	// Thresholds are what each step must hold (at least one).
	Thresholds []threshold.Threshold
	// StartUsers is the users of the first step; 0 means StepUsers.
	StartUsers int
	// StepUsers is how many users each step adds; 0 means 10.
	StepUsers int
	// MaxUsers ends the search when the next step would pass it; 0 means
	// no maximum (the test's run time or a stop ends it then).
	MaxUsers int
	// SpawnRate is how fast each step's users start (per second); 0 means
	// at once.
	SpawnRate float64
	// StartRate, StepRate and MaxRate are for a runner of the open model
	// (locust.Config.ArrivalRate above 0), whose search steps the arrival
	// rate (iterations per second) instead of the users: StartRate is the
	// first step's rate (0 means the runner's rate when Run is called, or
	// StepRate when that is 0),
	// StepRate what each step adds (0 means 10), and MaxRate ends the
	// search when the next step would pass it (0 means no maximum). The
	// users fields are not used then. A step of the open model that drops
	// an iteration (no user of the runner's MaxUsers was free) does not
	// hold, whatever its thresholds say.
	StartRate, StepRate, MaxRate float64
	// Warnings, if not nil, delivers signs that the generator itself ran
	// short, besides the runner's LoadWarning event (a program's own check
	// of its resources, say); each ends the search as the generator's
	// limit, as a LoadWarning does.
	Warnings <-chan locust.LoadWarning
	// Settle is how long to wait after a step's users are all running
	// before measuring; 0 means 2 s.
	Settle time.Duration
	// Hold is how long one measuring window lasts; 0 means 10 s.
	Hold time.Duration
	// Windows is how many windows a step may take to become stable: it is
	// stable when a window's throughput is within Tolerance of the
	// previous window's; the last window is the step's figures. 0 means 3;
	// 1 measures one window and calls it stable.
	Windows int
	// Tolerance is the stability bound, a fraction; 0 means 0.1 (10%).
	Tolerance float64
	// OnStep, when set, is called with each step once it is measured, on
	// the goroutine of Run (to show the search's progress).
	OnStep func(Step)
}

// Step is what one step of a capacity search measured. Times are in
// milliseconds. It is plain data.
type Step struct {
	// Users is the step's users; 0 for a step of the open model.
	Users int `json:"users"`
	// Rate is the step's arrival rate (iterations per second) in a search
	// of the open model; 0 for a step of users.
	Rate float64 `json:"arrival_rate,omitempty"`
	// Dropped is the iterations of the open model dropped during the
	// step's windows (none may be for the step to hold).
	Dropped int64 `json:"dropped_iterations,omitempty"`
	// Running is the number of users running at the end of the step (the
	// target Users unless users ended on their own).
	Running   int     `json:"running_users"`
	Requests  int64   `json:"requests"`
	Failures  int64   `json:"failures"`
	RPS       float64 `json:"rps"`
	FailRatio float64 `json:"fail_ratio"`
	AvgMs     float64 `json:"avg_ms"`
	P50Ms     float64 `json:"p50_ms"`
	P95Ms     float64 `json:"p95_ms"`
	P99Ms     float64 `json:"p99_ms"`
	Seconds   float64 `json:"seconds"`
	Stable    bool    `json:"stable"`
	Pass      bool    `json:"pass"`
	Results   []Check `json:"thresholds,omitempty"`
	// GeneratorShort is set when the load generator ran short of CPU
	// during the step: its figures say nothing about the target then.
	GeneratorShort bool `json:"generator_short_of_cpu,omitempty"`
}

// Check is one threshold's outcome on one step. It is plain data.
type Check struct {
	// Threshold is the expression, as threshold.Threshold.String writes it.
	Threshold string `json:"threshold"`
	// Actual is the measured value, as the threshold table shows it.
	Actual string `json:"actual"`
	Pass   bool   `json:"pass"`
}

// Result is the outcome of a capacity search. It is plain data.
type Result struct {
	// Steps are in the order they ran.
	Steps []Step `json:"steps"`
	// Capacity is the index in Steps of the highest step that held every
	// threshold, or -1 when none held.
	Capacity int `json:"capacity_step"`
	// Broke is the index in Steps of the step that broke a threshold, or -1.
	Broke int `json:"broke_step"`
	// GeneratorLimited is true when the search ended because the load
	// generator ran short of CPU: the capacity found is then a lower bound
	// of the target's, the generator's limit.
	GeneratorLimited bool `json:"generator_limited"`
	// Reason says why the search ended.
	Reason string `json:"reason"`
}

func (s Search) withDefaults() Search {
	if s.StepUsers <= 0 {
		s.StepUsers = 10
	}
	if s.StartUsers <= 0 {
		s.StartUsers = s.StepUsers
	}
	if s.Settle <= 0 {
		s.Settle = 2 * time.Second
	}
	if s.Hold <= 0 {
		s.Hold = 10 * time.Second
	}
	if s.Windows <= 0 {
		s.Windows = 3
	}
	if s.Tolerance <= 0 {
		s.Tolerance = 0.1
	}
	if s.StepRate <= 0 {
		s.StepRate = 10
	}
	return s
}

// badRate is true for a rate that is negative or not a number.
func badRate(x float64) bool { return x < 0 || math.IsNaN(x) || math.IsInf(x, 0) }

// Validate reports a search that cannot run.
func (s Search) Validate() error {
	switch {
	case len(s.Thresholds) == 0:
		return fmt.Errorf("a capacity search needs at least one threshold (such as \"p95 < 300ms\"): the criteria each step must hold")
	case s.StepUsers < 0 || s.StartUsers < 0 || s.MaxUsers < 0:
		return fmt.Errorf("capacity search: users must be at least 0")
	case s.SpawnRate < 0:
		return fmt.Errorf("capacity search: negative spawn rate %g", s.SpawnRate)
	case badRate(s.StartRate) || badRate(s.StepRate) || badRate(s.MaxRate):
		return fmt.Errorf("capacity search: arrival rates must be numbers at least 0")
	case s.Settle < 0 || s.Hold < 0:
		return fmt.Errorf("capacity search: negative settle or hold time")
	}
	if d := s.withDefaults(); d.MaxUsers > 0 && d.StartUsers > d.MaxUsers {
		return fmt.Errorf("capacity search: start users %d above the maximum %d", d.StartUsers, d.MaxUsers)
	}
	if s.MaxRate > 0 && s.StartRate > s.MaxRate {
		return fmt.Errorf("capacity search: start rate %g above the maximum %g", s.StartRate, s.MaxRate)
	}
	return nil
}

// Run runs the search on r, which must be running (call it once the test
// started, as Extension does). It returns when the search ended, r
// stopped, or ctx is done, with what it found so far; it does not stop r.
// The error is for a search that cannot run (see Validate).
func (s Search) Run(ctx context.Context, r *locust.Runner) (*Result, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	s = s.withDefaults()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var short atomic.Pointer[locust.LoadWarning]
	defer r.Events().LoadWarning.Add(func(w locust.LoadWarning) { short.Store(&w) })()
	if s.Warnings != nil {
		go func() {
			select {
			case w := <-s.Warnings:
				short.Store(&w)
			case <-ctx.Done():
			}
		}()
	}
	defer r.Events().TestStop.Add(func(*locust.Runner) { cancel() })()
	if st := r.State(); st == locust.StateStopping || st == locust.StateStopped {
		cancel()
	}
	res := &Result{Capacity: -1, Broke: -1}
	sleep := func(d time.Duration) bool {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return false
		case <-t.C:
			return true
		}
	}
	stopped := func() *Result {
		res.Reason = "the test stopped before a step broke a threshold"
		if res.Capacity >= 0 {
			res.Reason += fmt.Sprintf("; the capacity is at least %s", res.Steps[res.Capacity].Load())
		}
		return res
	}
	open := r.Config().ArrivalRate > 0
	if open && s.StartRate == 0 {
		s.StartRate = r.ArrivalRate()
		if s.StartRate <= 0 {
			s.StartRate = s.StepRate
		}
	}
	for i := 0; ; i++ {
		users, rate := s.StartUsers+i*s.StepUsers, 0.0
		if open {
			users, rate = 0, s.StartRate+float64(i)*s.StepRate
			if s.MaxRate > 0 && rate > s.MaxRate*(1+1e-9) {
				res.Reason = fmt.Sprintf("every step held up to the maximum of %s: the capacity is at least that", Step{Rate: s.MaxRate}.Load())
				return res, nil
			}
			if err := r.SetArrivalRate(rate, 0); err != nil {
				return nil, err
			}
		} else {
			if s.MaxUsers > 0 && users > s.MaxUsers {
				res.Reason = fmt.Sprintf("every step held up to the maximum of %d users: the capacity is at least that", s.MaxUsers)
				return res, nil
			}
			if err := r.SetUsers(users, s.SpawnRate); err != nil {
				return nil, err
			}
			// wait for the step's users (a bounded wait: users that end on
			// their own or fixed counts may keep the count from the target)
			spawn := 10 * time.Second
			if s.SpawnRate > 0 {
				spawn += time.Duration(float64(s.StepUsers+s.StartUsers) / s.SpawnRate * float64(time.Second))
			}
			for deadline := time.Now().Add(spawn); r.UserCount() != users && time.Now().Before(deadline); {
				if !sleep(20 * time.Millisecond) {
					return stopped(), nil
				}
			}
		}
		if !sleep(s.Settle) {
			return stopped(), nil
		}
		prev := takeMark(r)
		first := prev
		var step Step
		lastRPS := -1.0
		for w := 0; w < s.Windows; w++ {
			if !sleep(s.Hold) {
				return stopped(), nil
			}
			cur := takeMark(r)
			snap := between(prev, cur)
			step = stepOf(users, snap, cur.snap.Time.Sub(prev.snap.Time))
			step.Rate = rate
			step.Running = r.UserCount()
			results := threshold.Evaluate(s.Thresholds, snap)
			step.Results = step.Results[:0]
			for _, rr := range results {
				step.Results = append(step.Results, Check{Threshold: rr.Threshold.String(), Actual: rr.ActualText, Pass: rr.Pass})
			}
			step.Pass = threshold.AllPass(results)
			if open {
				// every window of the step counts: the load was asked
				// of all of them
				step.Dropped = cur.snap.Dropped - first.snap.Dropped
				step.Results = append(step.Results, Check{Threshold: noDrop, Actual: fmt.Sprint(step.Dropped), Pass: step.Dropped == 0})
				step.Pass = step.Pass && step.Dropped == 0
			}
			step.Stable = s.Windows == 1 || (lastRPS > 0 && abs(step.RPS-lastRPS) <= s.Tolerance*lastRPS)
			if step.Stable {
				break
			}
			lastRPS, prev = step.RPS, cur
		}
		if w := short.Load(); w != nil {
			step.GeneratorShort = true
			step.Pass = false
			res.Steps = append(res.Steps, step)
			if s.OnStep != nil {
				s.OnStep(step)
			}
			res.GeneratorLimited = true
			res.Reason = fmt.Sprintf("the load generator ran short of CPU at %s (%s): that is the generator's limit, not the target's", step.Load(), describeWarning(*w))
			return res, nil
		}
		res.Steps = append(res.Steps, step)
		if s.OnStep != nil {
			s.OnStep(step)
		}
		if !step.Pass {
			res.Broke = len(res.Steps) - 1
			var failed []string
			for _, rr := range step.Results {
				if !rr.Pass {
					failed = append(failed, fmt.Sprintf("%q was %s", rr.Threshold, rr.Actual))
				}
			}
			res.Reason = fmt.Sprintf("%s broke %s", step.Load(), strings.Join(failed, ", "))
			return res, nil
		}
		res.Capacity = len(res.Steps) - 1
	}
}

// noDrop is the check every step of the open model makes besides the
// thresholds: no iteration was dropped.
const noDrop = "no dropped iteration"

// Load is the step's load as the search's lines and tables write it:
// "8 users", or "120 iterations/s" for a step of the open model.
func (s Step) Load() string {
	if s.Rate > 0 {
		return strconv.FormatFloat(s.Rate, 'f', -1, 64) + " iterations/s"
	}
	return fmt.Sprintf("%d users", s.Users)
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}

func describeWarning(w locust.LoadWarning) string {
	return fmt.Sprintf("CPU %.0f%% of its cores, %.0f%% of its timers late, by up to %s", w.CPUPercent, 100*w.LateShare, w.Lag.Round(time.Millisecond))
}

func stepOf(users int, s *locust.Snapshot, window time.Duration) Step {
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	t := s.Total
	st := Step{
		Users:     users,
		Requests:  t.Requests,
		Failures:  t.Failures,
		RPS:       t.CurrentRPS,
		FailRatio: t.FailRatio(),
		AvgMs:     ms(t.Avg()),
		Seconds:   window.Seconds(),
	}
	if t.Requests > 0 {
		p := func(q float64) float64 { d, _ := t.Percentile(q); return ms(d) }
		st.P50Ms, st.P95Ms, st.P99Ms = p(50), p(95), p(99)
	}
	return st
}

// Print writes the search's outcome to w: one line naming the capacity,
// the reason the search ended, and a table of throughput and latency per
// step.
func (res *Result) Print(w io.Writer) {
	fmt.Fprintln(w, res.Summary())
	fmt.Fprintf(w, "Capacity search ended: %s\n", res.Reason)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	open := len(res.Steps) > 0 && res.Steps[0].Rate > 0
	if open {
		fmt.Fprintln(tw, "step\titer/s\tdropped\treq/s\tfail%\tavg ms\tp50 ms\tp95 ms\tp99 ms\tstable\tthresholds\t")
	} else {
		fmt.Fprintln(tw, "step\tusers\treq/s\tfail%\tavg ms\tp50 ms\tp95 ms\tp99 ms\tstable\tthresholds\t")
	}
	for i, s := range res.Steps {
		verdict := "pass"
		switch {
		case s.GeneratorShort:
			verdict = "generator short of CPU"
		case !s.Pass:
			verdict = "FAIL"
		}
		load := strconv.Itoa(s.Users)
		if open {
			load = strconv.FormatFloat(s.Rate, 'f', -1, 64) + "\t" + strconv.FormatInt(s.Dropped, 10)
		}
		fmt.Fprintf(tw, "%d\t%s\t%.1f\t%.2f\t%.1f\t%.1f\t%.1f\t%.1f\t%v\t%s\t\n",
			i+1, load, s.RPS, 100*s.FailRatio, s.AvgMs, s.P50Ms, s.P95Ms, s.P99Ms, s.Stable, verdict)
	}
	_ = tw.Flush()
}

// Summary is the one line naming the capacity found.
func (res *Result) Summary() string {
	var b strings.Builder
	if res.Capacity >= 0 {
		s := res.Steps[res.Capacity]
		fmt.Fprintf(&b, "Capacity: %s, %.1f req/s (p95 %.1f ms): the highest step that held every threshold", s.Load(), s.RPS, s.P95Ms)
	} else {
		b.WriteString("Capacity: not found: no step held every threshold")
	}
	if res.GeneratorLimited {
		b.WriteString("; the load generator ran short of CPU, so the target's capacity may be higher")
	}
	return b.String()
}
