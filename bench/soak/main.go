// Command soak runs golocust for a long while at a moderate rate against a
// local target that misbehaves for a while every minute, and prints the
// generator's memory and goroutines every 10 seconds, to show that they
// stay flat whatever the target does. Not run in CI.
//
//	go run ./bench/soak [-duration 10m] [-fault-every 1m] [-fault-for 15s]
//	                    [-users 50] [-rate 200] [-client fast|http] [-print 10s]
//
// The target (faults.Target) runs in a child process (this program with
// -serve), so the memory printed is the generator's alone. The faults come
// in turn: stall, reset mid-response, garbage, 5xx bursts, slow drip,
// killed (connections refused) and restarted, never reads. Each lasts
// -fault-for, then the target answers normally again.
//
// One line per sample (elapsed, the fault now, RSS, heap in use,
// goroutines, requests, failures, cut short, current requests/s), then a
// last sample after the run and a GC (what is left), and a summary line
// with the lowest and highest RSS and goroutines while running after the
// first minute (-fault-every), and what the target counted against what
// was recorded.
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"time"

	locust "github.com/golocust/locust"
	"github.com/golocust/locust/bench/internal/measure"
	"github.com/golocust/locust/client"
	"github.com/golocust/locust/faults"
)

// the faults in the order they come; "kill" kills the target for the
// fault's time and restarts it after
var schedule = []string{"stall", "reset", "garbage", "5xx", "drip", "kill", "never-read"}

var modes = map[string]faults.Mode{
	"ok": faults.OK, "stall": faults.Stall, "reset": faults.Reset, "garbage": faults.Garbage,
	"5xx": faults.Burst5xx, "drip": faults.Drip, "never-read": faults.NeverRead,
}

func main() {
	serve := flag.Bool("serve", false, "internal: run the target, controlled on stdin")
	duration := flag.Duration("duration", 10*time.Minute, "how long to run")
	every := flag.Duration("fault-every", time.Minute, "a fault starts every this long")
	faultFor := flag.Duration("fault-for", 15*time.Second, "how long each fault lasts")
	users := flag.Int("users", 50, "users")
	rate := flag.Float64("rate", 200, "requests per second, all users together")
	kind := flag.String("client", "fast", "HTTP client: fast (client.Fast) or http (client.HTTP)")
	printEvery := flag.Duration("print", 10*time.Second, "print a sample every this long")
	timeout := flag.Duration("timeout", 500*time.Millisecond, "request timeout")
	flag.Parse()
	if *serve {
		serveTarget()
		return
	}
	if err := soak(*duration, *every, *faultFor, *users, *rate, *kind, *printEvery, *timeout); err != nil {
		fmt.Fprintln(os.Stderr, "soak:", err)
		os.Exit(1)
	}
}

// serveTarget runs a faults.Target and obeys one command a line on stdin:
// "mode NAME", "kill", "restart", "close"; it answers one line each.
func serveTarget() {
	tg, err := faults.Start(faults.OK)
	if err != nil {
		fmt.Println("err", err)
		os.Exit(1)
	}
	defer tg.Close()
	fmt.Println(tg.URL())
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		switch f[0] {
		case "mode":
			m, ok := modes[f[len(f)-1]]
			if !ok {
				fmt.Println("err unknown mode")
				continue
			}
			tg.SetMode(m)
			fmt.Println("ok")
		case "kill":
			tg.Kill()
			fmt.Println("ok")
		case "restart":
			if err := tg.Restart(); err != nil {
				fmt.Println("err", err)
				continue
			}
			fmt.Println("ok")
		case "close": // the final count, once every connection has ended
			tg.Close()
			fmt.Println(tg.Requests(), tg.Conns(), tg.Unread(), tg.Partial())
		default:
			fmt.Println("err unknown command")
		}
	}
}

// target is the parent's handle on the child process's target.
type target struct {
	cmd *exec.Cmd
	in  io.WriteCloser
	out *bufio.Scanner
	url string
}

func startTarget() (*target, error) {
	cmd := exec.Command(os.Args[0], "-serve")
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	t := &target{cmd: cmd, in: in, out: bufio.NewScanner(out)}
	if !t.out.Scan() || !strings.HasPrefix(t.out.Text(), "http://") {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return nil, fmt.Errorf("target did not start: %q", t.out.Text())
	}
	t.url = t.out.Text()
	return t, nil
}

func (t *target) do(command string) (string, error) {
	if _, err := fmt.Fprintln(t.in, command); err != nil {
		return "", err
	}
	if !t.out.Scan() {
		return "", fmt.Errorf("target: no answer to %q", command)
	}
	if a := t.out.Text(); strings.HasPrefix(a, "err") {
		return "", fmt.Errorf("target: %s", a)
	}
	return t.out.Text(), nil
}

func (t *target) close() {
	_ = t.in.Close()
	_ = t.cmd.Wait()
}

func soak(duration, every, faultFor time.Duration, users int, rate float64, kind string,
	printEvery, timeout time.Duration) error {
	tg, err := startTarget()
	if err != nil {
		return err
	}
	defer tg.close()

	get := func(u *locust.User) client.Client { return client.FastFor(u) }
	if kind == "http" {
		get = func(u *locust.User) client.Client { return client.HTTPFor(u) }
	} else if kind != "fast" {
		return fmt.Errorf("-client %q: want fast or http", kind)
	}
	user := &locust.UserType{Name: "Soak", Wait: locust.ConstantThroughput(rate / float64(users)),
		Tasks: locust.NewTaskSet("soak").Task(1, func(ctx context.Context, u *locust.User) error {
			_, err := get(u).Do(ctx, &client.Request{Path: "/soak", Timeout: timeout})
			return err
		})}
	r, err := locust.NewRunner(locust.Config{Users: users, SpawnRate: float64(users), RunTime: duration,
		Host: tg.url, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}, user)
	if err != nil {
		return err
	}
	fmt.Printf("soak: %s, %d users, %.0f requests/s, %s client, a fault every %s for %s, request timeout %s, GOMAXPROCS %d\n",
		duration, users, rate, kind, every, faultFor, timeout, runtime.GOMAXPROCS(0))
	fmt.Println("elapsed fault       rss_mib heap_mib goroutines requests failures cut_short current_rps")

	done := make(chan error, 1)
	go func() { done <- r.Run(context.Background()) }()

	start := time.Now()
	tick := time.NewTicker(printEvery)
	defer tick.Stop()
	faultTick := time.NewTicker(time.Second)
	defer faultTick.Stop()
	fault, next, faultEnd := "ok", every, time.Duration(0)
	var rssLo, rssHi, gLo, gHi int64 = -1, 0, -1, 0
	var ms runtime.MemStats
	sample := func(final bool) {
		el := time.Since(start)
		rss := measure.Status("VmRSS")
		runtime.ReadMemStats(&ms)
		g := int64(runtime.NumGoroutine())
		s := r.Snapshot()
		fmt.Printf("%7s %-11s %7s %8s %10d %8d %8d %9d %11.1f\n", el.Round(time.Second), fault, measure.MiB(rss),
			measure.MiB(int64(ms.HeapInuse)), g, s.Total.Requests, s.Total.Failures, s.CutShort, s.Total.CurrentRPS)
		if el >= every && el < duration-time.Second && !final { // after the first minute (warmed up), while running
			if rssLo < 0 || rss < rssLo {
				rssLo = rss
			}
			if gLo < 0 || g < gLo {
				gLo = g
			}
			rssHi, gHi = max(rssHi, rss), max(gHi, g)
		}
	}
	var runErr error
loop:
	for {
		select {
		case runErr = <-done:
			break loop
		case <-tick.C:
			sample(false)
		case <-faultTick.C:
			el := time.Since(start)
			switch {
			case fault == "ok" && el >= next && el+faultFor < duration:
				fault = schedule[int(next/every-1)%len(schedule)]
				faultEnd, next = el+faultFor, next+every
				if fault == "kill" {
					_, err = tg.do("kill")
				} else {
					_, err = tg.do("mode " + fault)
				}
			case fault != "ok" && el >= faultEnd:
				if fault == "kill" {
					_, err = tg.do("restart")
				} else {
					_, err = tg.do("mode ok")
				}
				fault = "ok"
			}
			if err != nil {
				return err
			}
		}
	}
	if runErr != nil {
		return runErr
	}
	runtime.GC()
	sample(true) // after the run: what is left
	counts, err := tg.do("close")
	if err != nil {
		return err
	}
	s := r.Snapshot()
	var read, conns, unread, partial int64
	_, _ = fmt.Sscan(counts, &read, &conns, &unread, &partial)
	fmt.Printf("summary: after the first %s: rss %s-%s MiB, goroutines %d-%d; requests %d (failures %d, cut short %d); "+
		"the target read %d requests, and %d connections it never read had a request waiting\n",
		every, measure.MiB(rssLo), measure.MiB(rssHi), gLo, gHi, s.Total.Requests, s.Total.Failures, s.CutShort,
		read, unread)
	return nil
}
