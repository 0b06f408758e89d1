package main

import (
	"context"
	"fmt"
	"net/url"
	"runtime/pprof"
	"sync"
	"sync/atomic"
	"time"

	locust "github.com/golocust/locust"
	"github.com/golocust/locust/bench/internal/measure"
)

// gate lets one side of an interleaved run send requests while it is open
// and holds its goroutines while it is closed; it counts the requests that
// end while it counts. Its methods are safe for concurrent use.
type gate struct {
	on       atomic.Bool
	counting atomic.Bool
	active   atomic.Int64 // goroutines between enter and leave
	n, fails atomic.Int64

	mu   sync.Mutex
	cond *sync.Cond // broadcast when the gate opens or drains
}

func newGate() *gate {
	g := &gate{}
	g.cond = sync.NewCond(&g.mu)
	return g
}

// enter returns when the gate is open.
func (g *gate) enter() {
	for {
		g.active.Add(1)
		if g.on.Load() {
			return
		}
		g.done()
		g.mu.Lock()
		for !g.on.Load() {
			g.cond.Wait()
		}
		g.mu.Unlock()
	}
}

// leave ends a request that entered, counting it when the gate counts.
func (g *gate) leave(err error) {
	if g.counting.Load() {
		g.n.Add(1)
		if err != nil {
			g.fails.Add(1)
		}
	}
	g.done()
}

func (g *gate) done() {
	if g.active.Add(-1) == 0 && !g.on.Load() {
		g.mu.Lock()
		g.cond.Broadcast()
		g.mu.Unlock()
	}
}

func (g *gate) open() {
	g.mu.Lock()
	g.on.Store(true)
	g.cond.Broadcast()
	g.mu.Unlock()
}

// shut closes the gate and waits until no request of its side is in flight.
func (g *gate) shut() {
	g.on.Store(false)
	g.mu.Lock()
	for g.active.Load() != 0 {
		g.cond.Wait()
	}
	g.mu.Unlock()
}

// runInterleaved runs the two sides of the comparison in one process, in
// turns of slice each: users users through the library's command line
// (the session, every request recorded in the statistics, as runStats)
// and users goroutines of the plain loop (as runBare). Only one side sends
// at a time; the other's goroutines wait at its gate. A turn is measured
// from the opening of its gate until it shuts, so that both sides meet the
// same machine, within a fraction of a second of each other: a machine
// whose speed drifts from second to second (a shared VM) moves both alike.
// Requests still in flight when a turn ends finish uncounted before the
// other side starts. The turns go ABBA (stats, bare, bare, stats, ...) so
// that neither side always follows the other.
func runInterleaved(kind string, u *url.URL, users int, warmup, duration, slice time.Duration) (stats, bare result) {
	gs, gb := newGate(), newGate()
	var stop atomic.Bool
	pl := newPlain(kind, u, users)
	defer pl.close() // after the loop's goroutines ended (below)
	var wg sync.WaitGroup
	defer wg.Wait()
	for range users {
		wg.Add(1)
		// labelled, with the connections they open, for a CPU profile
		go pprof.Do(context.Background(), pprof.Labels("side", "bare"), func(context.Context) {
			defer wg.Done()
			get := pl.loop()
			for {
				gb.enter()
				if stop.Load() {
					gb.done()
					return
				}
				gb.leave(get())
			}
		})
	}
	defer func() {
		stop.Store(true)
		gb.open()
	}()

	task := sessionTask(kind, u, users)
	ut := &locust.UserType{Name: "Bench", Tasks: locust.NewTaskSet("bench").Task(1, func(ctx context.Context, usr *locust.User) error {
		gs.enter()
		err := task(ctx, usr)
		gs.leave(err)
		return err
	})}

	done := make(chan struct{})
	runCommand(ut, u, users, 2*warmup+2*duration+time.Minute, func(r *locust.Runner) {
		r.Events().SpawningComplete.Add(func(int) {
			go func() {
				defer close(done)
				// open both sides' connections
				gs.open()
				time.Sleep(warmup / 2)
				gs.shut()
				gb.open()
				time.Sleep(warmup / 2)
				gb.shut()
				stats, bare = turns(gs, gb, duration, slice)
				gs.open() // let the users run until the stop
				r.Stop()
			}()
		})
	})
	<-done
	return stats, bare
}

// turns gives each gate turns of slice until each has had duration/2.
func turns(gs, gb *gate, duration, slice time.Duration) (stats, bare result) {
	for i := 0; stats.wall+bare.wall < duration; i++ {
		g, res := gs, &stats
		if i%4 == 1 || i%4 == 2 {
			g, res = gb, &bare
		}
		n0, f0 := g.n.Load(), g.fails.Load()
		usr0, sys0 := measure.CPUSplit()
		g.counting.Store(true)
		t0 := time.Now()
		g.open()
		time.Sleep(slice)
		g.counting.Store(false)
		usr, sys := measure.CPUSplit()
		res.wall += time.Since(t0)
		g.shut()
		res.reqs += g.n.Load() - n0
		res.fails += g.fails.Load() - f0
		res.usr += usr - usr0
		res.cpu += usr + sys - usr0 - sys0
	}
	return stats, bare
}

// printInterleaved prints the line of an interleaved run.
func printInterleaved(kind string, users int, slice time.Duration, stats, bare result) {
	rate := func(r result) float64 { return float64(r.reqs) / r.wall.Seconds() }
	perReq := func(d time.Duration, r result) float64 {
		if r.reqs == 0 {
			return 0
		}
		return float64(d.Nanoseconds()) / 1e3 / float64(r.reqs)
	}
	fmt.Printf("client=%s mode=interleaved users=%d slice=%s stats_secs=%.2f bare_secs=%.2f stats_reqs=%d bare_reqs=%d fails=%d stats_rps=%.0f bare_rps=%.0f ratio=%.3f stats_cpu_us_per_req=%.2f bare_cpu_us_per_req=%.2f stats_usr_us_per_req=%.2f bare_usr_us_per_req=%.2f\n",
		kind, users, slice, stats.wall.Seconds(), bare.wall.Seconds(), stats.reqs, bare.reqs, stats.fails+bare.fails,
		rate(stats), rate(bare), rate(stats)/rate(bare),
		perReq(stats.cpu, stats), perReq(bare.cpu, bare), perReq(stats.usr, stats), perReq(bare.usr, bare))
}
