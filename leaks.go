package locust

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Goroutines left behind by user code: every user's goroutine carries the
// profiler label golocust=user, which the goroutines it starts inherit
// (the runtime copies a goroutine's labels to the goroutines it starts).
// When the test has stopped and every user has returned, a goroutine that
// still carries the label was started by user code (or by a library on its
// behalf) and never ended: the runner reports it.

const (
	leakLabel = "golocust"
	leakValue = "user"
	// leakSettle is how long the runner lets goroutines of user code end
	// after the test (a connection's reader noticing its close) before it
	// reports the ones left.
	leakSettle = time.Second
)

// userLabels returns the context whose profiler labels every user
// goroutine of r carries: golocust=user-<a random number of r's>, so that
// one runner's check does not count another's goroutines (not even those
// of an earlier runner at the same address).
func (r *Runner) userLabels() context.Context {
	r.labelValue = fmt.Sprintf("%s-%016x", leakValue, rand.Uint64())
	return pprof.WithLabels(context.Background(), pprof.Labels(leakLabel, r.labelValue))
}

// ExpectGoroutines declares that goroutines running fn (a function's full
// name as a stack trace shows it, such as
// "github.com/valyala/fasthttp.(*HostClient).connsCleaner", or a prefix of
// it) belong to a pool that a client started for the users and that ends
// them on its own: they are not reported as leaked (LeakedGoroutines).
// Safe for concurrent use.
func (r *Runner) ExpectGoroutines(fn string) {
	r.leakMu.Lock()
	defer r.leakMu.Unlock()
	r.expected = append(r.expected, fn)
}

// leakGroup is one stack of goroutines left running by user code.
type leakGroup struct {
	n     int
	where string // the first frame of code outside the standard library
	user  bool   // where is outside the standard library
}

// LeakedGoroutines is the number of goroutines started by user code (in a
// task, OnStart or OnStop, or by a library on its behalf) still running
// when Run returned, after a second's grace: goroutines that never end
// leak memory over a long test. It is not counted (0) when users were left
// running (Abandoned, Kill), nor before Run returns. Safe for concurrent
// use.
func (r *Runner) LeakedGoroutines() int { return int(r.leaked.Load()) }

// checkLeaks waits up to leakSettle for the goroutines of user code to end,
// then records and logs the ones left. It is skipped after Kill (users are
// left running on purpose).
func (r *Runner) checkLeaks() {
	if r.killed() || r.abandoned.Load() > 0 || r.abortErr.Load() != nil {
		return // users were left running, so may their goroutines; an abort ends at once
	}
	var groups []leakGroup
	deadline := time.Now().Add(r.leakSettle)
	for wait := time.Millisecond; ; wait = min(2*wait, 100*time.Millisecond) {
		groups = r.userGoroutines()
		if len(groups) == 0 || !time.Now().Before(deadline) {
			break
		}
		time.Sleep(wait)
	}
	n := 0
	for _, g := range groups {
		n += g.n
	}
	r.leaked.Store(int64(n))
	if n == 0 {
		return
	}
	slices.SortFunc(groups, func(a, b leakGroup) int { return b.n - a.n })
	var where []string
	for i, g := range groups {
		if i == 3 {
			where = append(where, "...")
			break
		}
		where = append(where, fmt.Sprintf("%d in %s", g.n, g.where))
	}
	r.log.Warn("user code left goroutines running after the test: a goroutine a task starts must end with the task's context, or it leaks on every run",
		"goroutines", n, "where", strings.Join(where, "; "))
}

// userGoroutines lists the goroutines that carry the user label and run
// code outside the standard library, other than users' own goroutines
// (abandoned users are reported as such). Goroutines of the standard
// library alone, such as the reader of an idle keep-alive connection that
// a user's own http.Transport keeps for the next test, are not counted.
func (r *Runner) userGoroutines() []leakGroup {
	r.leakMu.Lock()
	expected := slices.Clone(r.expected)
	r.leakMu.Unlock()
	label := fmt.Sprintf(`"%s":"%s"`, leakLabel, r.labelValue)
	var buf bytes.Buffer
	if err := pprof.Lookup("goroutine").WriteTo(&buf, 1); err != nil {
		return nil
	}
	// debug=1: a blank line between records; a record is "N @ pcs",
	// optionally "# labels: {...}", then "#\tpc\tfunc+off\tfile:line" frames
	var out []leakGroup
	sc := bufio.NewScanner(&buf)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	var cur leakGroup
	labelled, own, pooled := false, false, false
	flush := func() {
		if labelled && !own && cur.user && !pooled && cur.n > 0 {
			out = append(out, cur)
		}
		cur, labelled, own, pooled = leakGroup{}, false, false, false
	}
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			flush()
		case strings.Contains(line, " @ ") && !strings.HasPrefix(line, "#"):
			flush()
			cur.n, _ = strconv.Atoi(line[:strings.IndexByte(line, ' ')])
		case strings.HasPrefix(line, "# labels: "):
			labelled = strings.Contains(line, label)
		case strings.HasPrefix(line, "#\t"):
			f := strings.Fields(line[2:])
			if len(f) < 2 {
				continue
			}
			fn := f[1]
			if strings.Contains(fn, "golocust/locust.(*Runner).runUser") || strings.Contains(fn, "golocust/locust.(*Runner).resumeUser") {
				own = true
			}
			for _, e := range expected {
				pooled = pooled || strings.HasPrefix(fn, e)
			}
			if i := strings.LastIndexByte(fn, '+'); i > 0 {
				fn = fn[:i]
			}
			// where: the first frame of code outside the standard library
			// (its import path starts with a domain)
			if !cur.user && strings.Contains(fn[:max(strings.IndexByte(fn, '/'), 0)], ".") {
				cur.where, cur.user = fn, true
			}
		}
	}
	flush()
	return out
}
