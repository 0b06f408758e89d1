package faults_test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	locust "github.com/golocust/locust"
	"github.com/golocust/locust/client"
	"github.com/golocust/locust/faults"
	"github.com/golocust/locust/report"
	"github.com/golocust/locust/run"
)

// fasthttp's cleaner of a runner's connection pool sleeps out its idle time
// (MaxIdleConnDuration) after the test, then ends.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.(*HostClient).connsCleaner"))
}

// requestTimeout is the client timeout of every request in the suite:
// short, so that a stalled target costs a fraction of a run.
const requestTimeout = 300 * time.Millisecond

// clientKind picks one of the shipped HTTP clients for a user.
type clientKind struct {
	name string
	get  func(u *locust.User) client.Client
}

var clientKinds = []clientKind{
	{"http", func(u *locust.User) client.Client { return client.HTTPFor(u) }},
	{"fast", func(u *locust.User) client.Client { return client.FastFor(u) }},
}

// run is what one fault case saw.
type runResult struct {
	code     int
	out      string
	doc      *report.Document
	attempts int64 // requests the tasks handed to the client that it sent
	elapsed  time.Duration
	peakG    int    // goroutines, highest sample during the run
	peakHeap uint64 // heap in use, highest sample during the run
}

// loadRun runs the command line the user runs, headless for runTime, with
// users users each sending req in a loop (10 ms apart) with the kind's
// client, to url.
func loadRun(t *testing.T, kind clientKind, url string, users int, runTime string, req client.Request) runResult {
	t.Helper()
	var attempts atomic.Int64
	user := &locust.UserType{
		Name: "Faulty",
		Wait: locust.Constant(10 * time.Millisecond),
		Tasks: locust.NewTaskSet("t").Task(1, func(ctx context.Context, u *locust.User) error {
			r := req // the client may keep the request; each call gets its own copy
			resp, err := kind.get(u).Do(ctx, &r)
			if resp != nil { // sent: recorded, or cut short (nil: stopped before sending)
				attempts.Add(1)
			}
			return err
		}),
	}
	// sample goroutines and heap while the test runs
	stop := make(chan struct{})
	var peakG int
	var peakHeap uint64
	var sampler sync.WaitGroup
	sampler.Go(func() {
		var ms runtime.MemStats
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			peakG = max(peakG, runtime.NumGoroutine())
			runtime.ReadMemStats(&ms)
			peakHeap = max(peakHeap, ms.HeapInuse)
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	})
	c := cliRun(t, []string{"-u", fmt.Sprint(users), "-r", "1000", "-t", runTime, "-H", url}, user)
	close(stop)
	sampler.Wait()
	return runResult{code: c.code, out: c.out, doc: c.doc, attempts: attempts.Load(), elapsed: c.elapsed,
		peakG: peakG, peakHeap: peakHeap}
}

// cliResult is what a run of the command line gave.
type cliResult struct {
	code    int
	out     string // stdout and stderr
	doc     *report.Document
	elapsed time.Duration
}

// cliRun runs the command line the user runs (run.Command), headless, with
// args and a JSON report, and reads the report back.
func cliRun(t *testing.T, args []string, types ...*locust.UserType) cliResult {
	t.Helper()
	dir := t.TempDir()
	jsonFile := filepath.Join(dir, "run.json")
	cmd := run.Command(types...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.Getenv = func(string) string { return "" }
	cmd.Home, cmd.Dir = dir, dir
	start := time.Now()
	code := cmd.Run(context.Background(), append([]string{"--headless", "--only-summary", "--json-file", jsonFile}, args...))
	elapsed := time.Since(start)
	doc, err := report.ReadDocumentFile(jsonFile)
	require.NoError(t, err, out.String())
	return cliResult{code: code, out: out.String(), doc: doc, elapsed: elapsed}
}

// settled waits until the goroutine count is back to at most base + slack
// (connections closing, their goroutines ending) and returns it.
func settled(base, slack int) int {
	n := runtime.NumGoroutine()
	for deadline := time.Now().Add(5 * time.Second); n > base+slack && time.Now().Before(deadline); n = runtime.NumGoroutine() {
		time.Sleep(20 * time.Millisecond)
	}
	return n
}

// ephemeral matches a port of the generator's side in an error text,
// which would make every failure a row of its own.
var ephemeral = regexp.MustCompile(`127\.0\.0\.1:\d+->`)

// A fault case: a target misbehaving in one way, what the target
// received, and what the failures must say.
type faultCase struct {
	name    string
	mode    faults.Mode // the target's mode (ignored by refused)
	method  string
	body    []byte
	refused bool // no target at all: the port is closed
	// during, if set, runs while the load runs (kill and restart)
	during func(t *testing.T, tg *faults.Target) func()
	// received is what the target received, for the exact count; nil
	// means tg.Requests()
	received func(tg *faults.Target, r runResult) int64
	// errors are the texts the failure rows may have (each row contains
	// one of them); none means no failure is expected
	errors []string
	// timedOut: the failures are timeouts, whose latency must be recorded
	timedOut bool
	// someSucceed: some requests must succeed
	someSucceed bool
}

// bigBody fills the socket buffers of a target that never reads, so the
// client's write blocks as well.
var bigBody = bytes.Repeat([]byte("x"), 8<<20)

// killRestart kills the target after 700 ms and restarts it 400 ms later
// on the same port; it returns a func that waits for that and reports the
// requests the target read after the restart.
func killRestart(t *testing.T, tg *faults.Target) func() {
	done := make(chan struct{})
	var before int64
	go func() {
		defer close(done)
		time.Sleep(700 * time.Millisecond)
		tg.Kill()
		time.Sleep(400 * time.Millisecond)
		before = tg.Requests()
		assert.NoError(t, tg.Restart())
	}()
	return func() {
		<-done
		assert.Greater(t, tg.Requests(), before, "the restarted target served requests")
	}
}

var faultCases = []faultCase{
	{name: "connection-refused", refused: true, errors: []string{"connection refused"},
		received: func(_ *faults.Target, r runResult) int64 { return r.attempts }},
	{name: "reset-mid-response", mode: faults.Reset,
		errors: []string{"connection reset by peer", "connection closed before the full response"}},
	{name: "stall-past-timeout", mode: faults.Stall, errors: []string{"timeout after 300ms"}, timedOut: true},
	{name: "slow-drip", mode: faults.Drip, errors: []string{"timeout after 300ms"}, timedOut: true},
	{name: "garbage", mode: faults.Garbage,
		errors: []string{"malformed HTTP response"}},
	{name: "5xx-bursts", mode: faults.Burst5xx, errors: []string{"HTTP 503 Service Unavailable"}, someSucceed: true},
	{name: "never-reads", mode: faults.NeverRead, method: "POST", body: bigBody,
		errors: []string{"timeout after 300ms"}, timedOut: true,
		received: func(tg *faults.Target, _ runResult) int64 { return tg.Unread() }},
	// a POST, which net/http does not retry on a new connection, so each
	// call of the task is one attempt; the target cannot count the
	// requests the kernel refused or reset for it, so the count is the
	// tasks' and the target's must not exceed it
	{name: "killed-and-restarted", mode: faults.OK, method: "POST", body: []byte("payload"), during: killRestart,
		errors: []string{"connection refused", "connection reset by peer", "connection closed before the",
			"broken pipe"}, someSucceed: true,
		received: func(tg *faults.Target, r runResult) int64 {
			return r.attempts
		}},
}

// Every fault of the target, with both HTTP clients, through the command
// line: the run goes on and ends on time, every request the target
// received is counted exactly once (successes + failures + cut short),
// the failures are grouped under a few clear texts, timed-out requests
// have their latency recorded, and goroutines and heap stay bounded.
func TestTargetFaults(t *testing.T) {
	for _, fc := range faultCases {
		for _, kind := range clientKinds {
			t.Run(fc.name+"/"+kind.name, func(t *testing.T) {
				runFault(t, fc, kind)
			})
		}
	}
}

func runFault(t *testing.T, fc faultCase, kind clientKind) {
	const users = 4
	runtime.GC()
	baseG := runtime.NumGoroutine()

	var tg *faults.Target
	var url string
	if fc.refused {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		url = "http://" + ln.Addr().String()
		require.NoError(t, ln.Close())
	} else {
		var err error
		tg, err = faults.Start(fc.mode)
		require.NoError(t, err)
		defer tg.Close()
		url = tg.URL()
	}
	var wait func()
	if fc.during != nil {
		wait = fc.during(t, tg)
	}
	req := client.Request{Method: fc.method, Path: "/fault", Body: fc.body, Timeout: requestTimeout}
	r := loadRun(t, kind, url, users, "2s", req)
	if wait != nil {
		wait()
	}
	doc := r.doc
	t.Logf("%s/%s: %d requests, %d failures, %d cut short, %d attempts, %d failure rows, exit %d, %s, peak %d goroutines, %d MiB heap",
		fc.name, kind.name, doc.Total.NumRequests, doc.Total.NumFailures, doc.CutShort, r.attempts,
		len(doc.Failures), r.code, r.elapsed.Round(time.Millisecond), r.peakG, r.peakHeap>>20)

	// the run went on to its end, and ended on time
	assert.Contains(t, []int{0, 1}, r.code, r.out)
	assert.Less(t, r.elapsed, 2*time.Second+3*time.Second, "the run ends on time")
	assert.Empty(t, doc.Exceptions, "no fault of the target is an exception in user code")
	require.Positive(t, doc.Total.NumRequests, r.out)

	// every request the target received is counted exactly once
	if tg != nil {
		tg.Close() // the target ends its connections: what it read is final
	}
	var received int64
	if fc.received != nil {
		received = fc.received(tg, r)
	} else {
		received = tg.Requests()
	}
	assert.Equal(t, received, doc.Total.NumRequests+doc.CutShort,
		"received == successes + failures + cut short (partial requests at the target: %d)", partial(tg))
	assert.Equal(t, r.attempts, doc.Total.NumRequests+doc.CutShort, "every request sent is counted once")
	if tg != nil && fc.mode != faults.NeverRead {
		assert.LessOrEqual(t, tg.Requests(), doc.Total.NumRequests+doc.CutShort)
	}

	if t.Failed() {
		t.Logf("failures: %+v", doc.Failures)
	}

	// failures: clear texts, few rows
	if len(fc.errors) == 0 {
		assert.Zero(t, doc.Total.NumFailures)
	} else {
		assert.Positive(t, doc.Total.NumFailures)
		assert.LessOrEqual(t, len(doc.Failures), len(fc.errors), "failures grouped under a few texts: %+v", doc.Failures)
	}
	var inRows int64
	for _, f := range doc.Failures {
		inRows += f.Occurrences
		assert.True(t, containsAny(f.Error, fc.errors), "failure text %q is one of %q", f.Error, fc.errors)
		assert.NotRegexp(t, ephemeral, f.Error, "no ephemeral port in a failure text")
		assert.Less(t, len(f.Error), 200, "a failure text is one short line")
	}
	assert.Equal(t, doc.Total.NumFailures, inRows, "every failure is in the failures table")
	if fc.someSucceed {
		assert.Greater(t, doc.Total.NumRequests, doc.Total.NumFailures, "some requests succeed")
	} else if len(fc.errors) > 0 {
		assert.Equal(t, doc.Total.NumRequests, doc.Total.NumFailures, "every request fails")
	}

	// the latency of a timed-out request is recorded: the timeout, not 0
	if fc.timedOut {
		require.NotNil(t, doc.Total.MinResponseTime)
		ms := float64(requestTimeout / time.Millisecond)
		assert.GreaterOrEqual(t, *doc.Total.MinResponseTime, ms*0.95, "timed-out requests are recorded with their latency")
		assert.Less(t, doc.Total.MaxResponseTime, ms+1500, "the timeout bounds a request")
		assert.GreaterOrEqual(t, doc.Total.MedianResponseTime, ms*0.95)
	}

	// goroutines and heap stay bounded, during the run and after it
	assert.Less(t, r.peakG, baseG+40*users, "goroutines during the run")
	assert.Less(t, r.peakHeap, uint64(256<<20), "heap in use during the run")
	n := settled(baseG, 2)
	assert.LessOrEqual(t, n, baseG+2, "goroutines after the run: %d before, %d after", baseG, n)
}

func partial(tg *faults.Target) int64 {
	if tg == nil {
		return 0
	}
	return tg.Partial()
}

func containsAny(s string, subs []string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}
