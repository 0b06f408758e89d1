package shape

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"time"

	locust "github.com/golocust/locust"
)

// DriveRates drives the arrival rate of an open-model runner
// (locust.Config.ArrivalRate) through stages whose targets are rates
// (iterations per second): each stage ramps the rate linearly from the
// previous stage's target (the first from the runner's rate when it is
// called) to its own over its duration, so that iterations follow the
// exact schedule of the ramp (Runner.SetArrivalStages: none is due after
// the last stage), then it stops the test
// (r.StopWith("load shape ended")). Call it when the test starts; it returns
// when the stages end, the runner stops or ctx is done. A runner without an
// arrival rate is an error (the test is aborted). Safe for concurrent use;
// run one per runner.
func DriveRates(ctx context.Context, r *locust.Runner, stages Stages) error {
	if err := stages.Validate(); err != nil {
		r.Abort(err)
		return err
	}
	start := time.Now()
	var end time.Duration
	as := make([]locust.ArrivalStage, len(stages))
	for i, st := range stages {
		as[i] = locust.ArrivalStage{Duration: st.Duration, Target: float64(st.Target)}
		end += st.Duration
	}
	if err := r.SetArrivalStages(as); err != nil {
		err = fmt.Errorf("arrival-rate stages: %w", err)
		r.Abort(err)
		return err
	}
	if wait := end - time.Since(start); wait > 0 && !sleep(ctx, r, wait) {
		return nil
	}
	r.StopWith("load shape ended")
	return nil
}

// sleep waits d; false when ctx is done or the runner stopped first.
func sleep(ctx context.Context, r *locust.Runner, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	poll := time.NewTicker(100 * time.Millisecond)
	defer poll.Stop()
	for {
		select {
		case <-ctx.Done():
			return false
		case <-t.C:
			return true
		case <-poll.C:
			if st := r.State(); st == locust.StateStopping || st == locust.StateStopped {
				return false
			}
		}
	}
}

// configureArrival checks --arrival-rate and --max-users and sets them in
// cfg.
func (e *Extension) configureArrival(cfg *locust.Config) error {
	switch {
	case e.arrival < 0 || math.IsNaN(e.arrival) || math.IsInf(e.arrival, 0):
		return fmt.Errorf("invalid value %g for --arrival-rate: want iterations per second, at least 0", e.arrival)
	case e.arrival == 0 && e.maxUser > 0:
		return errors.New("--max-users bounds the users of --arrival-rate: give both")
	case e.arrivalWait < 0:
		return fmt.Errorf("invalid value %s for --arrival-wait: want a time span at least 0", e.arrivalWait)
	case e.arrival == 0 && e.arrivalWait > 0:
		return errors.New("--arrival-wait is how long an --arrival-rate iteration may wait for a free user: give --arrival-rate too")
	case e.arrival == 0:
		return nil
	case e.maxUser == 0:
		return errors.New("--arrival-rate needs --max-users: the most users that may run its iterations at once")
	case e.code != nil:
		return errors.New("--arrival-rate and a load shape of users set from code: choose one")
	}
	cfg.ArrivalRate, cfg.MaxUsers, cfg.ArrivalWait = e.arrival, e.maxUser, e.arrivalWait
	return nil
}

// ServiceTime sums up the service times of an open-model run (requests
// timed from their actual start, not their iteration's intended start), for
// the report data under "service_time".
type ServiceTime struct {
	Requests int64   `json:"num_requests"`
	AvgMs    float64 `json:"avg_response_time"`
	P50Ms    float64 `json:"p50_ms"`
	P95Ms    float64 `json:"p95_ms"`
	P99Ms    float64 `json:"p99_ms"`
	MaxMs    float64 `json:"max_response_time"`
}

// addOpenReport adds the open model's dropped iterations and service times
// to the report data.
func addOpenReport(d *locust.ReportData, r *locust.Runner) {
	if d.Snapshot != nil {
		d.Add("dropped_iterations", d.Snapshot.Dropped)
		d.Add("late_iterations", d.Snapshot.Late)
	}
	ss := r.ServiceStats()
	if ss == nil {
		return
	}
	d.Add("service_time", serviceTime(ss))
}

// printServiceTime prints the service times of an open-model run beside the
// tables' latencies timed from the intended starts; nothing for a closed
// model or a run with no request.
func printServiceTime(w io.Writer, r *locust.Runner) {
	ss := r.ServiceStats()
	if ss == nil {
		return
	}
	st := serviceTime(ss)
	if st.Requests == 0 {
		return
	}
	fmt.Fprintf(w, "open model: the tables time requests from their iterations' intended start; service time from the actual start: avg %.1f ms, p50 %.1f ms, p95 %.1f ms, p99 %.1f ms, max %.1f ms\n",
		st.AvgMs, st.P50Ms, st.P95Ms, st.P99Ms, st.MaxMs)
}

// serviceTime sums up ss.
func serviceTime(ss *locust.Stats) ServiceTime {
	tot := ss.Snapshot().Total
	ms := func(x time.Duration) float64 { return float64(x) / 1e6 }
	pc := func(p float64) float64 {
		v, _ := tot.Percentile(p)
		return ms(v)
	}
	return ServiceTime{Requests: tot.Requests, AvgMs: ms(tot.Avg()), P50Ms: pc(50), P95Ms: pc(95), P99Ms: pc(99), MaxMs: ms(tot.Max)}
}
