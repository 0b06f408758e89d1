// Command scale runs the scale and memory checks of golocust and prints
// one machine-readable line per check:
//
//	scale -mode users [-users 100000] [-hold 5s] [-wait 10s]
//	    users whose task is a no-op followed by a constant wait (-wait),
//	    spawned all at once: spawn rate achieved, peak RSS (VmHWM), tasks per
//	    second, peak goroutines (sampled every 10 ms).
//	scale -mode http [-users 10000] [-client fast|net] [-hold 10s]
//	    HTTP users (GET / then a 1 s wait) against the demo target, which runs
//	    in a child process so that only the generator's memory is counted.
//	scale -mode entries [-entries 1000] [-hours 1] [-current]
//	    an hour of simulated recording (a fake clock through StatsOptions.Now
//	    and Request.Start) into 1,000 entries, with a snapshot every
//	    simulated minute; heap and RSS every 10 simulated minutes.
//	scale -mode names [-entries 100000] [-per-name 3]
//	    distinct names (an id in the URL), each recorded a few times, with a
//	    snapshot every second: entries, peak RSS (VmHWM), time.
//
// For -mode users and http, SCALE_TRACE=1 prints the goroutine count every
// 10 ms to standard error, and SCALE_HEAPPROFILE=F writes a heap profile to
// F half a second after the spawn completes.
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
	"runtime/pprof"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	locust "github.com/golocust/locust"
	"github.com/golocust/locust/bench/internal/measure"
	"github.com/golocust/locust/client"
	"github.com/golocust/locust/demo"
)

func main() {
	mode := flag.String("mode", "users", "users, http, entries, names (serve: internal)")
	users := flag.Int("users", 0, "users (default 100000 for users, 10000 for http)")
	hold := flag.Duration("hold", 0, "how long to run once all users are spawned (default 5s users, 10s http)")
	kind := flag.String("client", "fast", "HTTP client for -mode http: fast or net")
	entries := flag.Int("entries", 0, "distinct entries for -mode entries (default 1000) or names (default 100000)")
	perName := flag.Int("per-name", 3, "requests per name for -mode names")
	hours := flag.Float64("hours", 1, "simulated hours for -mode entries")
	perSec := flag.Int("per-second", 10, "requests per entry per simulated second for -mode entries")
	wait := flag.Duration("wait", 10*time.Second, "constant wait between the tasks of -mode users")
	current := flag.Bool("current", false, "track current percentiles for every entry (--csv-full-history)")
	flag.Parse()
	switch *mode {
	case "users":
		runUsers(def(*users, 100_000), defD(*hold, 5*time.Second), *wait)
	case "http":
		runHTTP(def(*users, 10_000), defD(*hold, 10*time.Second), *kind)
	case "entries":
		runEntries(def(*entries, 1000), *hours, *perSec, *current)
	case "names":
		runNames(def(*entries, 100_000), *perName, 8)
	case "serve":
		serve()
	default:
		fmt.Fprintln(os.Stderr, "scale: unknown -mode", *mode)
		os.Exit(2)
	}
}

func def(v, d int) int {
	if v > 0 {
		return v
	}
	return d
}

func defD(v, d time.Duration) time.Duration {
	if v > 0 {
		return v
	}
	return d
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// run spawns users of ut all at once, holds, and reports.
func run(label string, users int, hold time.Duration, ut *locust.UserType, host string) *locust.Runner {
	r, err := locust.NewRunner(locust.Config{Host: host, Users: users, Logger: quiet()}, ut)
	if err != nil {
		fmt.Fprintln(os.Stderr, "scale:", err)
		os.Exit(1)
	}
	var spawned atomic.Int64
	start := time.Now()
	var iters0 int64
	var t0 time.Time
	r.Events().SpawningComplete.Add(func(int) {
		spawned.Store(int64(time.Since(start)))
		go func() {
			time.Sleep(time.Second) // let every user finish its first task
			iters0, t0 = r.Iterations(), time.Now()
			time.Sleep(hold)
			r.Stop()
		}()
	})
	rss := make(chan int64, 1)
	var peakG atomic.Int64
	go func() { // sample RSS and goroutines while running
		var peak int64
		for r.State() != locust.StateStopped {
			peak = max(peak, measure.Status("VmRSS"))
			g := int64(runtime.NumGoroutine())
			peakG.Store(max(peakG.Load(), g))
			if os.Getenv("SCALE_TRACE") != "" {
				fmt.Fprintf(os.Stderr, "%6.2fs goroutines=%d state=%v\n", time.Since(start).Seconds(), g, r.State())
			}
			time.Sleep(10 * time.Millisecond)
		}
		rss <- peak
	}()
	if f := os.Getenv("SCALE_HEAPPROFILE"); f != "" {
		r.Events().SpawningComplete.Add(func(int) {
			go func() {
				time.Sleep(500 * time.Millisecond)
				w, err := os.Create(f)
				if err == nil {
					_ = pprof.WriteHeapProfile(w)
					w.Close()
				}
			}()
		})
	}
	cpu0 := measure.CPU()
	if err := r.Run(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, "scale:", err)
		os.Exit(1)
	}
	iters := r.Iterations() - iters0
	secs := time.Since(t0).Seconds()
	sp := time.Duration(spawned.Load())
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	fmt.Printf("mode=%s users=%d spawn_s=%.3f spawn_rate=%.0f tasks_per_s=%.0f peak_rss_mib=%s sampled_rss_mib=%s rss_per_user_kib=%.1f heap_sys_mib=%s stack_mib=%s peak_goroutines=%d cpu_s=%.2f\n",
		label, users, sp.Seconds(), float64(users)/sp.Seconds(), float64(iters)/secs,
		measure.MiB(measure.Status("VmHWM")), measure.MiB(<-rss),
		float64(measure.Status("VmHWM"))/1024/float64(users),
		measure.MiB(int64(ms.HeapSys)), measure.MiB(int64(ms.StackSys)), peakG.Load(), (measure.CPU() - cpu0).Seconds())
	return r
}

// runUsers runs users whose task is a no-op followed by a constant wait
// (10 s by default): what one process costs per mostly idle user.
func runUsers(users int, hold, wait time.Duration) {
	ut := &locust.UserType{
		Name:  "Idle",
		Wait:  locust.Constant(wait),
		Tasks: locust.NewTaskSet("noop").Task(1, func(context.Context, *locust.User) error { return nil }),
	}
	run("users", users, hold, ut, "")
}

func runHTTP(users int, hold time.Duration, kind string) {
	cmd := exec.Command(os.Args[0], "-mode", "serve")
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		fmt.Fprintln(os.Stderr, "scale:", err)
		os.Exit(1)
	}
	if err := cmd.Start(); err != nil {
		fmt.Fprintln(os.Stderr, "scale:", err)
		os.Exit(1)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		fmt.Fprintln(os.Stderr, "scale: demo target did not start:", err)
		return
	}
	host := strings.TrimSpace(line)
	task := func(ctx context.Context, u *locust.User) error {
		_, err := client.FastFor(u).Get(ctx, "/")
		return err
	}
	if kind == "net" {
		task = func(ctx context.Context, u *locust.User) error {
			_, err := client.HTTPFor(u).Get(ctx, "/")
			return err
		}
	}
	ut := &locust.UserType{Name: "Web", Wait: locust.Constant(time.Second), Tasks: locust.NewTaskSet("web").Task(1, task)}
	r := run("http-"+kind, users, hold, ut, host)
	snap := r.Snapshot()
	p50, _ := snap.Total.Percentile(50)
	p99, _ := snap.Total.Percentile(99)
	fmt.Printf("mode=http-%s requests=%d failures=%d p50_ms=%.2f p99_ms=%.2f\n", kind, snap.Total.Requests, snap.Total.Failures,
		float64(p50.Microseconds())/1000, float64(p99.Microseconds())/1000)
	if len(snap.Errors) > 0 {
		fmt.Fprintln(os.Stderr, "scale: first error:", snap.Errors[0].Error)
	}
}

// serve runs the demo target and prints its URL; it exits when its stdin
// or parent goes away (the parent kills it).
func serve() {
	s, err := demo.Start(demo.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, "scale:", err)
		os.Exit(1)
	}
	fmt.Println(s.URL)
	select {}
}

func runEntries(entries int, hours float64, perSec int, current bool) {
	var now atomic.Int64
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	now.Store(t0.UnixNano())
	clock := func() time.Time { return time.Unix(0, now.Load()) }
	s := locust.NewStats(locust.StatsOptions{Now: clock, CurrentPercentiles: current})
	names := make([]string, entries)
	for i := range names {
		names[i] = "/entry/" + strconv.Itoa(i)
	}
	rc := s.Recorder()
	errs := []error{fmt.Errorf("HTTP 500 Internal Server Error"), fmt.Errorf("timeout after 60s")}
	total := int(hours * 3600)
	wall := time.Now()
	var events int64
	report := func(sec int) {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		fmt.Printf("mode=entries current=%t entries=%d sim_min=%d events=%d heap_inuse_mib=%s rss_mib=%s peak_rss_mib=%s\n",
			current, entries, sec/60, events, measure.MiB(int64(ms.HeapInuse)),
			measure.MiB(measure.Status("VmRSS")), measure.MiB(measure.Status("VmHWM")))
	}
	for sec := range total {
		base := t0.Add(time.Duration(sec) * time.Second)
		now.Store(base.Add(time.Second).UnixNano())
		for k := range perSec {
			at := base.Add(time.Duration(k) * time.Second / time.Duration(perSec))
			for i, name := range names {
				var err error
				if (i+k+sec)%97 == 0 {
					err = errs[(i+sec)%2]
				}
				rc.Record(locust.Request{Type: "GET", Name: name, Start: at,
					Duration: time.Duration(1+(i*7+k*13+sec)%2000) * time.Millisecond, Length: 100, Err: err})
				events++
			}
		}
		if sec%60 == 59 {
			_ = s.Snapshot()
		}
		if sec%600 == 599 || sec == 0 {
			report(sec + 1)
		}
	}
	fmt.Printf("mode=entries done events=%d wall_s=%.1f ns_per_event=%.1f\n", events, time.Since(wall).Seconds(),
		float64(time.Since(wall).Nanoseconds())/float64(events))
}
