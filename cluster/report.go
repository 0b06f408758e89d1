package cluster

import (
	"crypto/sha256"
	"encoding/hex"
	"math"
	"math/bits"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/golocust/locust"
	"github.com/golocust/locust/cluster/wire"
)

// EntryReport is one stats entry as a Locust worker sends it in a "stats"
// message (Locust's StatsEntryDict): the requests of one (method, name)
// since the previous report. Times are in milliseconds, timestamps in epoch
// seconds; LastRequestTimestamp and MinResponseTime are nil (Python's None)
// when the entry has no request. It is plain data.
type EntryReport struct {
	Name                 string          `msgpack:"name"`
	Method               string          `msgpack:"method"`
	LastRequestTimestamp *float64        `msgpack:"last_request_timestamp"`
	StartTime            float64         `msgpack:"start_time"`
	NumRequests          int64           `msgpack:"num_requests"`
	NumNoneRequests      int64           `msgpack:"num_none_requests"`
	NumFailures          int64           `msgpack:"num_failures"`
	TotalResponseTime    float64         `msgpack:"total_response_time"`
	MaxResponseTime      float64         `msgpack:"max_response_time"`
	MinResponseTime      *float64        `msgpack:"min_response_time"`
	TotalContentLength   int64           `msgpack:"total_content_length"`
	ResponseTimes        map[int64]int64 `msgpack:"response_times"`
	NumReqsPerSec        map[int64]int64 `msgpack:"num_reqs_per_sec"`
	NumFailPerSec        map[int64]int64 `msgpack:"num_fail_per_sec"`
	// ResponseTimesNs is a Go worker's extra key, which a Locust master
	// ignores: the response times in nanoseconds (key) with their counts,
	// exact while the entry had at most 64 requests in the interval, else
	// the lowest value of their HDR histogram bucket (1 µs units, 3
	// significant digits, as locust.Stats keeps them). A Go master merges
	// them instead of ResponseTimes, so that its percentiles are those of
	// one process that recorded the same requests. Absent in the total.
	ResponseTimesNs map[int64]int64 `msgpack:"response_times_ns,omitempty"`
}

// ErrorReport is one row of a worker's error map (Locust's StatsErrorDict).
// It is plain data.
type ErrorReport struct {
	Name        string `msgpack:"name"`
	Method      string `msgpack:"method"`
	Error       string `msgpack:"error"`
	Occurrences int64  `msgpack:"occurrences"`
}

// StatsReport is the data of a "stats" message: the entries with requests
// since the previous report, the worker's total (named "Aggregated"), the
// errors keyed as Locust keys them (ErrorKey), and the running users. It is
// plain data.
type StatsReport struct {
	Stats            []EntryReport          `msgpack:"stats"`
	StatsTotal       EntryReport            `msgpack:"stats_total"`
	Errors           map[string]ErrorReport `msgpack:"errors"`
	UserClassesCount map[string]int64       `msgpack:"user_classes_count"`
	UserCount        int64                  `msgpack:"user_count"`
	// CutShort is a Go worker's extra key, which a Locust master ignores:
	// the requests cut short by the stop of users since the previous
	// report (locust.Snapshot.CutShort), in no entry. A Go master adds
	// them to its statistics' cut-short count.
	CutShort int64 `msgpack:"cut_short,omitempty"`
}

// Requests is the number of requests in the report's total. It only reads r.
func (r *StatsReport) Requests() int64 { return r.StatsTotal.NumRequests }

// ErrorKey (a pure function, safe for concurrent use) is the key Locust gives
// an error row: the SHA-256 hex of
// "method.name.repr(text)", where text is the error as shown (what Locust's
// parse_error gives for a Python exception). A Go worker's failure whose
// text equals a Python worker's lands in the same row.
func ErrorKey(method, name, text string) string {
	sum := sha256.Sum256([]byte(method + "." + name + "." + wire.PyRepr(text)))
	return hex.EncodeToString(sum[:])
}

// BucketMillis (a pure function, safe for concurrent use) rounds a response time to the key Locust 2.12 uses in
// response_times: whole milliseconds below 100 ms, then 10 ms steps below
// 1 s, 100 ms steps below 10 s and 1 s steps above, rounding half to even as
// Python's round does.
func BucketMillis(d time.Duration) int64 {
	if d < 0 {
		d = 0
	}
	var unit time.Duration
	switch {
	case d < 100*time.Millisecond:
		unit = time.Millisecond
	case d < time.Second:
		unit = 10 * time.Millisecond
	case d < 10*time.Second:
		unit = 100 * time.Millisecond
	default:
		unit = time.Second
	}
	q, r := d/unit, d%unit
	if 2*r > unit || (2*r == unit && q%2 == 1) {
		q++
	}
	return int64(q*unit) / int64(time.Millisecond)
}

type entryKey struct{ method, name string }

// exactTimes is how many response times of an entry a report carries
// exactly (locust.Stats keeps as many exactly before it uses a histogram).
const exactTimes = 64

// hdrFloor is the lowest value of the bucket of us (microseconds) in an HDR
// histogram with a lowest discernible value of 1 and 3 significant digits
// (locust.Stats's): values below 2048 have their own bucket, above that
// every power-of-two range is split into 1024 buckets.
func hdrFloor(us int64) int64 {
	if us < 2048 {
		return max(us, 0)
	}
	shift := bits.Len64(uint64(us)) - 11
	return us >> shift << shift
}

type errKey struct{ method, name, text string }

// acc is the running delta of one entry (or of the total).
type acc struct {
	requests, failures, length int64
	totalNs, minNs, maxNs      int64 // minNs < 0: none
	last                       time.Time
	rt, reqs, fails            map[int64]int64
	// precise times (a worker's entries only, hist != nil): exact
	// nanoseconds while there are at most exactTimes, else counts by
	// hdrFloor of the microseconds
	exact []int64
	hist  map[int64]int64
	// recvNs is a Go worker's response_times_ns as a master received it
	recvNs map[int64]int64
}

// newPreciseAcc is an acc that also keeps its response times precisely.
// Its exact times grow as needed (an entry with few requests stays small)
// and keep their storage across reports.
func newPreciseAcc() *acc {
	a := newAcc()
	a.hist = map[int64]int64{}
	return a
}

// addTime keeps one response time precisely; once the exact times have
// reached their full size, it allocates only for a new histogram bucket.
func (a *acc) addTime(ns int64) {
	if len(a.hist) == 0 && len(a.exact) < exactTimes {
		a.exact = append(a.exact, ns)
		return
	}
	a.spill()
	a.hist[hdrFloor(ns/1000)]++
}

// spill moves the exact times into the histogram buckets.
func (a *acc) spill() {
	for _, ns := range a.exact {
		a.hist[hdrFloor(ns/1000)]++
	}
	a.exact = a.exact[:0]
}

// addTimes adds n response times of ns nanoseconds (from a report).
func (a *acc) addTimes(ns, n int64) {
	for ; n > 0 && len(a.hist) == 0 && len(a.exact) < exactTimes; n-- {
		a.exact = append(a.exact, ns)
	}
	if n > 0 {
		a.spill()
		a.hist[hdrFloor(ns/1000)] += n
	}
}

// timesNs is the precise times as a report carries them, nil when a keeps
// none.
func (a *acc) timesNs() map[int64]int64 {
	if a.hist == nil || a.requests == 0 {
		return nil
	}
	out := make(map[int64]int64, len(a.exact)+len(a.hist))
	for _, ns := range a.exact {
		out[ns]++
	}
	for us, n := range a.hist {
		out[us*1000] += n
	}
	return out
}

func newAcc() *acc {
	return &acc{minNs: -1, rt: map[int64]int64{}, reqs: map[int64]int64{}, fails: map[int64]int64{}}
}

func (a *acc) add(d time.Duration, now time.Time, failed bool, length int64) {
	a.requests++
	ns := max(int64(d), 0)
	if a.hist != nil {
		a.addTime(ns)
	}
	a.totalNs += ns
	if a.minNs < 0 || ns < a.minNs {
		a.minNs = ns
	}
	a.maxNs = max(a.maxNs, ns)
	a.length += length
	if now.After(a.last) {
		a.last = now
	}
	a.rt[BucketMillis(d)]++
	sec := now.Unix()
	a.reqs[sec]++
	if failed {
		a.failures++
		a.fails[sec]++
	}
}

// merge adds b into a.
func (a *acc) merge(b *acc) {
	a.requests += b.requests
	a.failures += b.failures
	a.length += b.length
	a.totalNs += b.totalNs
	if b.minNs >= 0 && (a.minNs < 0 || b.minNs < a.minNs) {
		a.minNs = b.minNs
	}
	a.maxNs = max(a.maxNs, b.maxNs)
	if b.last.After(a.last) {
		a.last = b.last
	}
	for k, v := range b.rt {
		a.rt[k] += v
	}
	for k, v := range b.reqs {
		a.reqs[k] += v
	}
	for k, v := range b.fails {
		a.fails[k] += v
	}
	if a.hist != nil {
		for _, ns := range b.exact {
			a.addTimes(ns, 1)
		}
		if len(b.hist) > 0 {
			a.spill()
			for us, n := range b.hist {
				a.hist[us] += n
			}
		}
	}
}

// reset empties a, keeping its maps' storage.
func (a *acc) reset() {
	a.requests, a.failures, a.length, a.totalNs, a.minNs, a.maxNs = 0, 0, 0, 0, -1, 0
	a.last = time.Time{}
	clear(a.rt)
	clear(a.reqs)
	clear(a.fails)
	a.exact = a.exact[:0]
	clear(a.hist)
}

func (a *acc) report(method, name string, start time.Time) EntryReport {
	e := EntryReport{
		Name: name, Method: method,
		StartTime:          epoch(start),
		NumRequests:        a.requests,
		NumFailures:        a.failures,
		TotalResponseTime:  float64(a.totalNs) / 1e6,
		MaxResponseTime:    float64(a.maxNs) / 1e6,
		TotalContentLength: a.length,
		ResponseTimes:      copyMap(a.rt),
		NumReqsPerSec:      copyMap(a.reqs),
		NumFailPerSec:      copyMap(a.fails),
		ResponseTimesNs:    a.timesNs(),
	}
	if a.minNs >= 0 {
		m := float64(a.minNs) / 1e6
		e.MinResponseTime = &m
	}
	if !a.last.IsZero() {
		l := epoch(a.last)
		e.LastRequestTimestamp = &l
	}
	return e
}

func copyMap(m map[int64]int64) map[int64]int64 {
	out := make(map[int64]int64, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func epoch(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }

// msToNs reads milliseconds as a report carries them back into the
// nanoseconds they were made from (rounded, not truncated).
func msToNs(ms float64) int64 { return int64(math.Round(ms * 1e6)) }

// shard is one part of a Collector, guarded by its own lock.
type shard struct {
	mu      sync.Mutex
	entries map[entryKey]*acc
	total   *acc
	errors  map[errKey]int64
	_       [64]byte // keep shards on separate cache lines
}

// Collector gathers requests in Locust's worker format between two reports.
// Add its Record method as a listener of Events.Request on each runner of
// the worker. Record is safe for concurrent use, takes no global lock (the
// requests are spread over shards) and, once an entry's buckets and the
// current second exist, does not allocate for a success. Take and Restore
// are safe for concurrent use with Record.
type Collector struct {
	shards []shard
	next   atomic.Uint32
	now    func() time.Time

	mu       sync.Mutex // guards start, cutShort and the Take/Restore sequence
	start    time.Time  // start of the current interval
	cutShort int64      // cut short since the previous Take
}

// AddCutShort counts n requests cut short by the stop of users: the next
// report carries them (StatsReport.CutShort). Safe for concurrent use.
func (c *Collector) AddCutShort(n int64) {
	c.mu.Lock()
	c.cutShort += n
	c.mu.Unlock()
}

// NewCollector returns an empty Collector whose first interval starts now.
// now may be nil (time.Now).
func NewCollector(now func() time.Time) *Collector {
	if now == nil {
		now = time.Now
	}
	c := &Collector{shards: make([]shard, 4*runtime.GOMAXPROCS(0)), now: now, start: now()}
	for i := range c.shards {
		c.shards[i].entries = map[entryKey]*acc{}
		c.shards[i].total = newAcc()
		c.shards[i].errors = map[errKey]int64{}
	}
	return c
}

// Record adds one request; it has the signature of an Events.Request
// listener. A failed request (non-nil Err) counts as a request and a
// failure, and its error text is grouped as Locust groups it.
func (c *Collector) Record(r locust.Request) {
	// the request ended at Start+Duration (the clients set Start); the
	// clock only for a request that does not say when it started
	var now time.Time
	if r.Start.IsZero() {
		now = c.now()
	} else {
		now = r.Start.Add(r.Duration)
	}
	sh := &c.shards[c.next.Add(1)%uint32(len(c.shards))]
	var text string
	failed := r.Err != nil
	if failed {
		text = strings.ToValidUTF8(r.Err.Error(), "\uFFFD")
	}
	sh.mu.Lock()
	k := entryKey{r.Type, r.Name}
	a := sh.entries[k]
	if a == nil {
		a = newPreciseAcc()
		sh.entries[k] = a
	}
	a.add(r.Duration, now, failed, r.Length)
	sh.total.add(r.Duration, now, failed, r.Length)
	if failed {
		sh.errors[errKey{r.Type, r.Name, text}]++
	}
	sh.mu.Unlock()
}

// Take returns everything recorded since the previous Take (Locust's delta
// report) and starts a new interval. users and total are the running users
// by class and in all, copied into the report.
func (c *Collector) Take(users map[string]int64) *StatsReport {
	c.mu.Lock()
	defer c.mu.Unlock()
	start := c.start
	c.start = c.now()
	entries := map[entryKey]*acc{}
	total := newAcc()
	errs := map[errKey]int64{}
	for i := range c.shards {
		sh := &c.shards[i]
		sh.mu.Lock()
		for k, a := range sh.entries {
			if a.requests == 0 {
				continue
			}
			e := entries[k]
			if e == nil {
				e = newPreciseAcc()
				entries[k] = e
			}
			e.merge(a)
			a.reset()
		}
		total.merge(sh.total)
		sh.total.reset()
		for k, n := range sh.errors {
			errs[k] += n
		}
		clear(sh.errors)
		sh.mu.Unlock()
	}
	rep := &StatsReport{
		Stats:            make([]EntryReport, 0, len(entries)),
		StatsTotal:       total.report("", locust.AggregatedName, start),
		Errors:           make(map[string]ErrorReport, len(errs)),
		UserClassesCount: map[string]int64{},
		CutShort:         c.cutShort,
	}
	c.cutShort = 0
	keys := make([]entryKey, 0, len(entries))
	for k := range entries {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b entryKey) int {
		if c := strings.Compare(a.name, b.name); c != 0 {
			return c
		}
		return strings.Compare(a.method, b.method)
	})
	for _, k := range keys {
		rep.Stats = append(rep.Stats, entries[k].report(k.method, k.name, start))
	}
	for k, n := range errs {
		rep.Errors[ErrorKey(k.method, k.name, k.text)] = ErrorReport{Name: k.name, Method: k.method, Error: k.text, Occurrences: n}
	}
	for name, n := range users {
		rep.UserClassesCount[name] = n
		rep.UserCount += n
	}
	return rep
}

// Restore puts a report that may not have reached the master back, so that
// the next Take sends its numbers again (merged with what came since).
func (c *Collector) Restore(r *StatsReport) {
	if r == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.cutShort += r.CutShort
	if st := time.Unix(0, int64(r.StatsTotal.StartTime*1e9)); st.Before(c.start) {
		c.start = st
	}
	sh := &c.shards[0]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	for _, e := range r.Stats {
		k := entryKey{e.Method, e.Name}
		a := sh.entries[k]
		if a == nil {
			a = newPreciseAcc()
			sh.entries[k] = a
		}
		a.merge(fromReport(e))
	}
	sh.total.merge(fromReport(r.StatsTotal))
	for _, e := range r.Errors {
		sh.errors[errKey{e.Method, e.Name, e.Error}] += e.Occurrences
	}
}

func fromReport(e EntryReport) *acc {
	a := &acc{
		requests: e.NumRequests, failures: e.NumFailures, length: e.TotalContentLength,
		totalNs: msToNs(e.TotalResponseTime), maxNs: msToNs(e.MaxResponseTime), minNs: -1,
		rt: e.ResponseTimes, reqs: e.NumReqsPerSec, fails: e.NumFailPerSec,
	}
	if e.MinResponseTime != nil {
		a.minNs = msToNs(*e.MinResponseTime)
	}
	if e.LastRequestTimestamp != nil {
		a.last = time.Unix(0, int64(*e.LastRequestTimestamp*1e9))
	}
	if e.ResponseTimesNs != nil {
		a.exact, a.hist = nil, map[int64]int64{}
		for ns, n := range e.ResponseTimesNs {
			a.addTimes(ns, n)
		}
	}
	return a
}
