// Command golocust is the closed-loop benchmark of golocust: -users users
// each sending GET requests back to back (no wait) to -url for -duration,
// with the fast (fasthttp) or the net/http client, every request recorded
// in the full statistics engine. The test runs as a user's program runs
// it: a UserType whose task calls client.FastFor(u).Get or
// client.HTTPFor(u).Get, run by the library's command line (locust.Command).
// With -bare it runs instead the floor: the same number of goroutines doing
// GETs with the same client library and no statistics at all (for net/http,
// the plain loop: one http.Client on a tuned Transport, no per-request
// timeout, the body copied to io.Discard).
//
// It prints one machine-readable line:
//
//	client=fast mode=stats users=50 secs=10.00 reqs=N fails=0 rps=X p50_us=A p99_us=B cpu_s=C cpu_pct=P cpu_us_per_req=D usr_us_per_req=U lag_p50_us=E lag_p99_us=F lag_max_us=G sockets=S
//
// usr_us_per_req is the part of cpu_us_per_req spent in the process's own
// code (user CPU time), without the kernel's. sockets is how many sockets
// (connections) the process had open halfway through the measured run.
// The lag fields are the generator's own scheduling delay (how late a
// 1 ms timer fires); a warning goes to stderr when the process used more
// than 90% of a core on average (GOMAXPROCS cores), like Locust's CPU
// warning, because response times are then inflated by the generator.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"

	locust "github.com/golocust/locust"
	"github.com/golocust/locust/bench/internal/measure"
	"github.com/golocust/locust/client"
)

func main() {
	kind := flag.String("client", "fast", "client: fast (fasthttp) or net (net/http)")
	users := flag.Int("users", 50, "concurrent users")
	duration := flag.Duration("duration", 10*time.Second, "measured run time")
	warmup := flag.Duration("warmup", time.Second, "run time before measuring (connections open)")
	bare := flag.Bool("bare", false, "no statistics: a plain loop of goroutines (the floor)")
	interleave := flag.Duration("interleave", 0, "run the session and the plain loop in this process, in turns of this long (e.g. 250ms), and print both and their ratio")
	target := flag.String("url", "http://127.0.0.1:18080/", "target URL (loopback only)")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of the measured run to this file")
	heapprofile := flag.String("heapprofile", "", "write a heap profile halfway through the measured run to this file")
	flag.Parse()
	if *heapprofile != "" {
		go func() {
			time.Sleep(*warmup + *duration/2)
			f, err := os.Create(*heapprofile)
			if err != nil {
				fail("%v", err)
			}
			defer f.Close()
			if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
				fail("%v", err)
			}
		}()
	}
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			fail("%v", err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			fail("%v", err)
		}
		defer func() { pprof.StopCPUProfile(); f.Close() }()
	}
	u, err := url.Parse(*target)
	if err != nil || u.Host == "" {
		fail("bad -url %q", *target)
	}
	if ip := net.ParseIP(u.Hostname()); u.Hostname() != "localhost" && (ip == nil || !ip.IsLoopback()) {
		fail("-url %q is not on a loopback address", *target)
	}
	if *kind != "fast" && *kind != "net" {
		fail("-client must be fast or net")
	}
	if *interleave > 0 {
		if *bare {
			fail("-interleave runs both sides: leave out -bare")
		}
		stats, floor := runInterleaved(*kind, u, *users, *warmup, *duration, *interleave)
		printInterleaved(*kind, *users, *interleave, stats, floor)
		return
	}
	// the connections open halfway through the measured run
	sockets := make(chan int, 1)
	go func() {
		time.Sleep(*warmup + *duration/2)
		sockets <- openSockets()
	}()
	var res result
	if *bare {
		res = runBare(*kind, u, *users, *warmup, *duration)
	} else {
		res = runStats(*kind, u, *users, *warmup, *duration)
	}
	mode := "stats"
	if *bare {
		mode = "bare"
	}
	secs := res.wall.Seconds()
	cpuPct := 100 * res.cpu.Seconds() / secs / float64(runtime.GOMAXPROCS(0))
	perReq, usrPerReq := 0.0, 0.0
	if res.reqs > 0 {
		perReq = float64(res.cpu.Microseconds()) / float64(res.reqs)
		usrPerReq = float64(res.usr.Microseconds()) / float64(res.reqs)
	}
	fmt.Printf("client=%s mode=%s users=%d secs=%.2f reqs=%d fails=%d rps=%.0f p50_us=%d p99_us=%d cpu_s=%.3f cpu_pct=%.0f cpu_us_per_req=%.2f usr_us_per_req=%.2f lag_p50_us=%d lag_p99_us=%d lag_max_us=%d sockets=%d\n",
		*kind, mode, *users, secs, res.reqs, res.fails, float64(res.reqs)/secs,
		res.p50.Microseconds(), res.p99.Microseconds(), res.cpu.Seconds(), cpuPct, perReq, usrPerReq,
		res.lag50.Microseconds(), res.lag99.Microseconds(), res.lagMax.Microseconds(), <-sockets)
	if cpuPct > 90 {
		fmt.Fprintf(os.Stderr, "warning: the generator used %.0f%% CPU (over 90%%); its own scheduling lag was p50 %s, p99 %s, and response times include it\n",
			cpuPct, res.lag50, res.lag99)
	}
}

// openSockets counts the process's open sockets (its connections), or
// returns -1 where /proc/self/fd cannot be read.
func openSockets() int {
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return -1
	}
	n := 0
	for _, fd := range fds {
		if l, err := os.Readlink("/proc/self/fd/" + fd.Name()); err == nil && strings.HasPrefix(l, "socket:") {
			n++
		}
	}
	return n
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "golocust: "+format+"\n", args...)
	os.Exit(2)
}

type result struct {
	reqs, fails          int64
	wall, cpu, usr       time.Duration
	p50, p99             time.Duration
	lag50, lag99, lagMax time.Duration
}

// runStats runs the closed loop through a Runner: every request goes
// through the client session and into the statistics.
func runStats(kind string, u *url.URL, users int, warmup, duration time.Duration) result {
	task := sessionTask(kind, u, users)
	ut := &locust.UserType{Name: "Bench", Tasks: locust.NewTaskSet("bench").Task(1, task)}
	var (
		res      result
		usr0     time.Duration
		sys0     time.Duration
		t0       time.Time
		lag      *measure.Lag
		measured sync.WaitGroup
	)
	measured.Add(1)
	r := runCommand(ut, u, users, warmup+duration, func(r *locust.Runner) {
		r.Events().SpawningComplete.Add(func(int) {
			go func() {
				defer measured.Done()
				time.Sleep(warmup)
				r.Stats().Reset()
				usr0, sys0 = measure.CPUSplit()
				t0 = time.Now()
				lag = measure.StartLag(time.Millisecond)
			}()
		})
		r.Events().TestStop.Add(func(*locust.Runner) {
			usr, sys := measure.CPUSplit()
			res.usr, res.cpu, res.wall = usr-usr0, usr+sys-usr0-sys0, time.Since(t0)
		})
	})
	measured.Wait()
	res.lag50, res.lag99, res.lagMax = lag.Stop()
	snap := r.Snapshot()
	res.reqs, res.fails = snap.Total.Requests, snap.Total.Failures
	res.p50, _ = snap.Total.Percentile(50)
	res.p99, _ = snap.Total.Percentile(99)
	if len(snap.Errors) > 0 {
		fmt.Fprintf(os.Stderr, "golocust: %d errors, first: %s\n", len(snap.Errors), snap.Errors[0].Error)
	}
	return res
}

// runCommand runs users users of ut against u's host for runTime through
// the library's own command line (locust.Command), as a user's main does,
// calling setup with the runner before the test starts, and returns the
// runner once the test ended.
func runCommand(ut *locust.UserType, u *url.URL, users int, runTime time.Duration, setup func(*locust.Runner)) *locust.Runner {
	var r *locust.Runner
	cmd := &locust.Command{
		Name:   "golocust-bench",
		Users:  []*locust.UserType{ut},
		Stdout: io.Discard,
		Stderr: io.Discard,
		Getenv: func(string) string { return "" },
		Setup: func(_ context.Context, run *locust.Runner) error {
			r = run
			setup(run)
			return nil
		},
	}
	code := cmd.Run(context.Background(), []string{
		"--headless", "--only-summary", "-L", "ERROR",
		"-u", strconv.Itoa(users), "-r", strconv.Itoa(max(users, 1) * 100),
		"-t", runTime.String(),
		"-H", u.Scheme + "://" + u.Host,
	})
	if code != 0 || r == nil {
		fail("the command line exited with %d", code)
	}
	return r
}

// sessionTask is the task of the benchmark's UserType: one GET through
// the user's session of the client, recorded in the statistics.
func sessionTask(kind string, u *url.URL, users int) locust.TaskFunc {
	path := u.RequestURI()
	if kind == "net" {
		return func(ctx context.Context, usr *locust.User) error {
			_, err := client.HTTPFor(usr).Get(ctx, path)
			return err
		}
	}
	task := func(ctx context.Context, usr *locust.User) error {
		_, err := client.FastFor(usr).Get(ctx, path)
		return err
	}
	if os.Getenv("GOLOCUST_BENCH_RAWTASK") != "" { // experiment: runner loop, no client, no stats
		hc := &fasthttp.HostClient{Addr: u.Host, MaxConns: users}
		type rr struct {
			req  *fasthttp.Request
			resp *fasthttp.Response
		}
		task = func(ctx context.Context, usr *locust.User) error {
			x, ok := usr.Value(rr{}).(*rr)
			if !ok {
				x = &rr{fasthttp.AcquireRequest(), fasthttp.AcquireResponse()}
				x.req.SetRequestURI(u.String())
				usr.SetValue(rr{}, x)
			}
			return hc.DoTimeout(x.req, x.resp, client.DefaultTimeout)
		}
	}
	return task
}

// runBare is the floor: users goroutines doing GETs with the client
// library alone, counting responses and nothing else.
func runBare(kind string, u *url.URL, users int, warmup, duration time.Duration) result {
	var stop atomic.Bool
	var counting atomic.Bool
	counts := make([]struct {
		n, fails int64
		_        [48]byte
	}, users)
	var wg sync.WaitGroup
	pl := newPlain(kind, u, users)
	defer pl.close()
	for i := range users {
		wg.Add(1)
		go func() {
			defer wg.Done()
			get := pl.loop()
			c := &counts[i]
			for !stop.Load() {
				err := get()
				if counting.Load() {
					c.n++
					if err != nil {
						c.fails++
					}
				}
			}
		}()
	}
	time.Sleep(warmup)
	counting.Store(true)
	usr0, sys0 := measure.CPUSplit()
	t0 := time.Now()
	lag := measure.StartLag(time.Millisecond)
	time.Sleep(duration)
	counting.Store(false)
	usr, sys := measure.CPUSplit()
	res := result{usr: usr - usr0, cpu: usr + sys - usr0 - sys0, wall: time.Since(t0)}
	res.lag50, res.lag99, res.lagMax = lag.Stop()
	stop.Store(true)
	wg.Wait()
	for i := range counts {
		res.reqs += counts[i].n
		res.fails += counts[i].fails
	}
	return res
}

// plain is the floor's client: the plain loop a Go programmer writes with
// the same client library, without statistics.
type plain struct {
	kind   string
	target string
	hc     *fasthttp.HostClient
	hcl    *http.Client
	tr     *http.Transport
}

func newPlain(kind string, u *url.URL, users int) *plain {
	p := &plain{kind: kind, target: u.String()}
	switch kind {
	case "fast":
		p.hc = &fasthttp.HostClient{Addr: u.Host, MaxConns: users, MaxIdleConnDuration: 90 * time.Second}
	case "net":
		// a tuned Transport and no per-request timeout
		p.tr = &http.Transport{MaxIdleConns: users, MaxIdleConnsPerHost: users, IdleConnTimeout: 90 * time.Second}
		p.hcl = &http.Client{Transport: p.tr}
	}
	return p
}

func (p *plain) close() {
	if p.tr != nil {
		p.tr.CloseIdleConnections()
	}
}

// loop returns one goroutine's request function: a GET, its body read
// whole, an error for a failure (no response or a status of 400 or more).
// Not safe for concurrent use: each goroutine calls loop once.
func (p *plain) loop() func() error {
	if p.kind == "fast" {
		req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
		req.SetRequestURI(p.target)
		return func() error {
			err := p.hc.DoTimeout(req, resp, client.DefaultTimeout)
			if err == nil && resp.StatusCode() >= 400 {
				err = fmt.Errorf("status %d", resp.StatusCode())
			}
			return err
		}
	}
	return func() error {
		resp, err := p.hcl.Get(p.target)
		if err != nil {
			return err
		}
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if err == nil && resp.StatusCode >= 400 {
			err = fmt.Errorf("status %d", resp.StatusCode)
		}
		return err
	}
}
