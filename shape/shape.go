// Package shape drives a locust.Runner's user count over time: load shapes
// (Locust's LoadTestShape: stages, step load, spike, or any function of the
// elapsed time) and a capacity search that steps the users up until the
// thresholds break ("What is your capacity?").
//
// Everything here uses the public API of the root package only
// (Runner.SetUsers, Runner.StopWith, the statistics and the events), so a
// shape drives any Runner. Extension adds it all to locust.Command:
//
//	--stages 30s:10,2m:100,30s:0   ramp to each target over each duration
//	--find-capacity                step the users up until a --threshold breaks
package shape

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	locust "github.com/golocust/locust"
)

// Interval is how often Drive polls a LoadShape: every second, as Locust
// polls its LoadTestShape.
const Interval = time.Second

// LoadShape says how many users should run at each moment of a test.
// Implementations must be safe for concurrent use if one value drives
// several runners at once (the built-ins are plain data and are).
type LoadShape interface {
	// Tick is given the time since the test started and returns the user
	// count to reach and the spawn rate (users per second, 0: at once), or
	// ok == false to stop the test.
	Tick(elapsed time.Duration) (users int, rate float64, ok bool)
}

// Func adapts a function to a LoadShape. It is safe for concurrent use if
// the function is.
type Func func(elapsed time.Duration) (users int, rate float64, ok bool)

var _ LoadShape = Func(nil)

// Tick calls f.
func (f Func) Tick(elapsed time.Duration) (int, float64, bool) { return f(elapsed) }

// Stage is one stage of a Stages shape: reach Target users over Duration.
type Stage struct {
	Duration time.Duration
	Target   int
}

// Stages ramps linearly to each stage's target over its duration (the
// spawn rate is the change divided by the duration; a zero duration jumps
// at once), like k6's stages, starting from 0 users, and stops the test
// after the last stage. It is plain data, safe for concurrent use.
type Stages []Stage

var _ LoadShape = Stages(nil)

// Tick implements LoadShape.
func (s Stages) Tick(elapsed time.Duration) (int, float64, bool) {
	from := 0
	var end time.Duration
	for _, st := range s {
		end += st.Duration
		if elapsed < end {
			rate := 0.0
			if st.Duration > 0 {
				rate = math.Abs(float64(st.Target-from)) / st.Duration.Seconds()
			}
			return st.Target, rate, true
		}
		from = st.Target
	}
	return from, 0, false
}

// Validate reports the first bad stage: a negative duration or target.
func (s Stages) Validate() error {
	if len(s) == 0 {
		return fmt.Errorf("no stages")
	}
	for i, st := range s {
		if st.Duration < 0 {
			return fmt.Errorf("stage %d: negative duration %s", i+1, st.Duration)
		}
		if st.Target < 0 {
			return fmt.Errorf("stage %d: negative target %d", i+1, st.Target)
		}
	}
	return nil
}

// ParseStages reads the --stages syntax: comma-separated duration:target
// pairs, such as "30s:10,2m:100,30s:0". Durations are Locust time spans
// (30s, 2m, 1h30m) or Go durations (1.5s). Safe for concurrent use.
func ParseStages(s string) (Stages, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, fmt.Errorf("no stages (want duration:target pairs such as 30s:10,2m:100,30s:0)")
	}
	var out Stages
	for i, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		durText, targetText, found := strings.Cut(part, ":")
		if !found {
			return nil, fmt.Errorf("stage %d %q: want duration:target, such as 30s:10", i+1, part)
		}
		d, err := locust.ParseTimespan(durText)
		if err != nil {
			return nil, fmt.Errorf("stage %d %q: bad duration: %v", i+1, part, err)
		}
		targetText = strings.TrimSpace(targetText)
		n, err := strconv.Atoi(targetText)
		if err != nil {
			return nil, fmt.Errorf("stage %d %q: target %q is not a whole number of users", i+1, part, targetText)
		}
		out = append(out, Stage{Duration: d, Target: n})
	}
	if err := out.Validate(); err != nil {
		return nil, err
	}
	return out, nil
}

// Steps adds Users users every Every, up to Max (0: no maximum), spawning
// them at Rate per second (0: at once), and stops the test after Duration
// (0: never). It is plain data, safe for concurrent use.
type Steps struct {
	Users    int
	Every    time.Duration
	Max      int
	Rate     float64
	Duration time.Duration
}

var _ LoadShape = Steps{}

// Tick implements LoadShape.
func (s Steps) Tick(elapsed time.Duration) (int, float64, bool) {
	if s.Duration > 0 && elapsed >= s.Duration {
		return 0, 0, false
	}
	n := s.Users
	if s.Every > 0 {
		n = s.Users * int(elapsed/s.Every+1)
	}
	if s.Max > 0 && n > s.Max {
		n = s.Max
	}
	return n, s.Rate, true
}

// Spike runs Base users for Before, jumps to Peak users (at Rate per
// second, 0: at once) for Hold, falls back to Base for After to show the
// recovery, then stops the test. It is plain data, safe for concurrent use.
type Spike struct {
	Base, Peak          int
	Before, Hold, After time.Duration
	Rate                float64
}

var _ LoadShape = Spike{}

// Tick implements LoadShape.
func (s Spike) Tick(elapsed time.Duration) (int, float64, bool) {
	switch {
	case elapsed < s.Before:
		return s.Base, s.Rate, true
	case elapsed < s.Before+s.Hold:
		return s.Peak, s.Rate, true
	case elapsed < s.Before+s.Hold+s.After:
		return s.Base, s.Rate, true
	}
	return s.Base, s.Rate, false
}

// Drive polls shape every Interval from the moment it is called (call it
// when the test starts) and applies its answers with r.SetUsers, until the
// shape says stop (then it calls r.StopWith("load shape ended")), the
// runner stops, or ctx is done. A bad answer (a negative count or rate)
// aborts the test (Runner.Abort) and is returned. Safe for concurrent
// use; run one Drive per runner.
func Drive(ctx context.Context, r *locust.Runner, shape LoadShape) error {
	return drive(ctx, r, shape, Interval)
}

func drive(ctx context.Context, r *locust.Runner, shape LoadShape, every time.Duration) error {
	start := time.Now()
	tick := time.NewTicker(every)
	defer tick.Stop()
	lastN, lastRate := -1, -1.0
	for {
		if st := r.State(); st == locust.StateStopping || st == locust.StateStopped {
			return nil
		}
		n, rate, ok := shape.Tick(time.Since(start))
		if !ok {
			r.StopWith("load shape ended")
			return nil
		}
		if n != lastN || rate != lastRate {
			if err := r.SetUsers(n, rate); err != nil {
				err = fmt.Errorf("load shape at %s: %w", time.Since(start).Round(time.Second), err)
				r.Abort(err)
				return err
			}
			lastN, lastRate = n, rate
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}
