// Command arrival measures the open model's pacing (issue 11): it runs
// locust.Config.ArrivalRate with a task that does no I/O, so that what it
// measures is the schedule itself, and prints the iterations asked
// (rate × run time), started and dropped, the started ones in every 1 s
// window against the rate, the spread of the gaps between starts, the share
// of starts bunched (less than a tenth of the asked gap after the one before)
// and the process CPU. With -demo each iteration is a GET of the demo
// target's home page (started in this process on 127.0.0.1) through
// client.FastFor, and the counts the target received are printed too.
//
// Usage: go run ./bench/arrival [-rate 5000] [-t 20s] [-max-users 100] [-demo]
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"math"
	"os"
	"slices"
	"sync/atomic"
	"time"

	locust "github.com/golocust/locust"
	"github.com/golocust/locust/bench/internal/measure"
	"github.com/golocust/locust/client"
	"github.com/golocust/locust/demo"
)

func main() {
	rate := flag.Float64("rate", 5000, "iterations per second")
	runTime := flag.Duration("t", 20*time.Second, "run time")
	maxUsers := flag.Int("max-users", 100, "most users running iterations")
	useDemo := flag.Bool("demo", false, "each iteration GETs / of the demo target (in this process, 127.0.0.1) instead of doing nothing")
	flag.Parse()
	if err := run(*rate, *runTime, *maxUsers, *useDemo); err != nil {
		fmt.Fprintln(os.Stderr, "arrival:", err)
		os.Exit(1)
	}
}

func run(rate float64, runTime time.Duration, maxUsers int, useDemo bool) error {
	var target *demo.Server
	host := ""
	if useDemo {
		var err error
		if target, err = demo.Start(demo.Options{}); err != nil {
			return err
		}
		defer target.Close()
		host = target.URL
	}
	asked := int64(math.Ceil(rate * runTime.Seconds()))
	starts := make([]int64, asked+asked/10+16) // ns after the run's start
	var n atomic.Int64
	var t0 atomic.Int64
	typ := &locust.UserType{Name: "Noop", Tasks: locust.NewTaskSet("t").Task(1, func(ctx context.Context, u *locust.User) error {
		now := time.Now().UnixNano()
		if i := n.Add(1) - 1; i < int64(len(starts)) {
			starts[i] = now - t0.Load()
		}
		if target != nil {
			_, err := client.FastFor(u).Get(ctx, "/")
			return err
		}
		u.RecordSuccess("RUN", "iteration", 0, 0)
		return nil
	})}
	r, err := locust.NewRunner(locust.Config{ArrivalRate: rate, MaxUsers: maxUsers, RunTime: runTime, Host: host,
		Logger: slog.New(slog.DiscardHandler)}, typ)
	if err != nil {
		return err
	}
	r.Events().TestStart.Add(func(r *locust.Runner) { t0.Store(r.StartTime().UnixNano()) })
	cpu0, wall0 := measure.CPU(), time.Now()
	if err := r.Run(context.Background()); err != nil {
		return err
	}
	cpu, wall := measure.CPU()-cpu0, time.Since(wall0)
	started, dropped := r.Iterations(), r.Snapshot().Dropped
	fmt.Printf("rate %g/s for %s, at most %d users\n", rate, runTime, maxUsers)
	fmt.Printf("asked %d, started %d, dropped %d, started+dropped-asked %+d\n", asked, started, dropped, started+dropped-asked)
	if target != nil {
		snap := r.Snapshot()
		fmt.Printf("demo target received %d; recorded %d (%d failed), cut short %d\n", target.Requests(), snap.Total.Requests, snap.Total.Failures, snap.CutShort)
	}
	fmt.Printf("process CPU %.1f%% of one core (%s over %s)\n", 100*cpu.Seconds()/wall.Seconds(), cpu.Round(time.Millisecond), wall.Round(time.Millisecond))
	got := starts[:min(n.Load(), int64(len(starts)))]
	slices.Sort(got)
	// started per 1 s window, against the rate
	secs := int(runTime / time.Second)
	win := make([]int, secs)
	for _, s := range got {
		if i := int(s / int64(time.Second)); i >= 0 && i < secs {
			win[i]++
		}
	}
	worst := 0.0
	for _, c := range win {
		worst = max(worst, math.Abs(float64(c)-rate)/rate)
	}
	fmt.Printf("started per 1 s window: %v\nworst window off the rate by %.2f%%\n", win, 100*worst)
	if len(got) < 2 {
		return nil
	}
	gaps := make([]float64, len(got)-1)
	var sum, sq float64
	for i := range gaps {
		g := float64(got[i+1]-got[i]) / 1e3 // µs
		gaps[i] = g
		sum += g
		sq += g * g
	}
	mean := sum / float64(len(gaps))
	sd := math.Sqrt(max(0, sq/float64(len(gaps))-mean*mean))
	// bunched: starts less than a tenth of the asked gap after the one before
	bunched := 0
	for _, g := range gaps {
		if g < 1e5/rate {
			bunched++
		}
	}
	slices.Sort(gaps)
	q := func(p float64) float64 { return gaps[min(len(gaps)-1, int(p*float64(len(gaps))))] }
	fmt.Printf("gaps between starts (µs): asked %.1f, mean %.1f, sd %.1f, p1 %.1f, p50 %.1f, p99 %.1f, max %.1f\n",
		1e6/rate, mean, sd, q(0.01), q(0.5), q(0.99), gaps[len(gaps)-1])
	fmt.Printf("bunched (gap under a tenth of the asked %.1f µs): %.1f%% of starts\n", 1e6/rate, 100*float64(bunched)/float64(len(gaps)))
	return nil
}
